// Package object defines what evgit stores: events, commits, snapshot tree
// nodes and blobs, their canonical binary encodings, and their IDs.
//
// Every object is named by BLAKE3-256 over a "<kind> <length>\x00" header
// and its canonical body. BLAKE3 is a cryptographic hash that runs several
// times faster than SHA-256 on the small bodies an event store writes, so
// hashing never limits the append path, and it leaves no room for the
// collisions that make SHA-1 unfit for tamper evidence.
//
// Each encoding is canonical: one value has exactly one encoding, so the
// same events, actor, time, message and parents give the same commit ID in
// any repository. Event data is canonical JSON (sorted keys, exact 64-bit
// integers) and is named by its own blob ID inside the event, so the data
// can live apart from the event without changing any ID. The byte layouts
// are drawn in docs/format.md.
//
// Decoders trust nothing: malformed input returns an error matching
// ErrCorrupt, never a panic.
package object
