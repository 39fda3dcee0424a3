// Package fsck checks a whole repository: every object against its ID and
// its encoding, every link between objects, the invariants of commits,
// every ref, every reflog entry, every record the log keeps beside history
// (snapshots, idempotency keys, checkpoints, skip links against the
// commits and lines they shortcut), and every byte of the log files
// through their checksums.
//
// Why a package of its own and not a method of the store: the store reads
// what a request names and trusts an index once it has checked the object
// it leads to; fsck distrusts everything at once and needs to know what the
// objects mean (a commit's offset is its first parent's plus its events, a
// MODEL blob must parse as a model), which is above the storage layer. It
// reads objects, refs and reflogs through the store's exported API, so it
// sees the repository exactly as every other reader does, and reads the
// segment files itself only for the records the store has no iterator for
// (snapshots, idempotency keys, checkpoints).
//
// Why it streams: a repository of a million events holds two million
// objects. Objects are listed with their locations, sorted by where they
// lie, and read in that order, so every frame is decompressed once through
// the store's frame cache and no decoded object outlives its turn. What is
// kept is the list of (ID, location) pairs and a small, bounded memory of
// the commits just seen, which answers most parent and event links without
// a second read.
//
// What it cannot see: damage that a crash could also have caused. A
// damaged last frame of the newest segment looks like an interrupted
// append and is cut when the repository is opened (Store.TornBytes), and a
// segment shortened at a frame boundary looks like one written less far.
// In both cases the repository opens consistent at an earlier point, and
// fsck reports it clean.
package fsck
