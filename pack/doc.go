// Package pack lays objects and records out on disk.
//
// Writes go to append-only segments of frames. A frame is one
// transaction: every object of a commit, its ref move and its reflog entry
// travel in one frame, checked by one CRC-32C and made durable by one
// fdatasync, so a commit is all there after a crash or not there at all,
// and the append path never creates a file per object. A payload of many
// small JSON events is compressed with zstd as a whole, which shrinks it
// where per-object compression of 150-byte events would not.
//
// A crash can leave only the last frame torn; Scan finds and reports it so
// the store can cut it. A damaged frame with whole frames after it is
// corruption and is never cut.
//
// When a segment is sealed it gets an index: a fanout table and sorted IDs
// mapped into memory and binary searched, plus the segment's records
// sorted by key, so opening a repository does not rescan sealed segments.
// The byte layouts are drawn in docs/format.md.
package pack
