// Package snapshot builds and reads snapshot trees: the canonical hash
// trie that maps every stream to its version and state at one commit
// (SPEC §4, docs/format.md §3.4).
//
// # Shape
//
// A stream's key is BLAKE3-256 of its name's bytes, nothing else (no
// object header): Key(stream) = blake3.Sum256([]byte(stream)). Nibble d
// of a key is the high nibble of byte d/2 when d is even, its low nibble
// when d is odd, so depth 0 looks at the top four bits of byte 0.
//
// A node at depth d holding a set S of streams is
//
//   - a leaf when |S| <= object.TreeLeafMax, listing S sorted by name
//     (byte order), each with its version and its state: inline when the
//     state's canonical JSON is at most object.InlineStateMax bytes,
//     otherwise the ID of a blob holding it;
//   - an inner node otherwise, with Count = |S| and, for each nibble i
//     that occurs at depth d among S's keys, a child holding the streams
//     with that nibble; nibbles that do not occur have no child.
//
// The root is at depth 0; the empty set is the empty leaf (EmptyRoot). A
// child is never empty. Both rules are part of the format: with them one
// set of (stream, version, state) has exactly one tree, whatever order
// history built it in, so equal snapshots have equal root IDs across
// branches and repositories, and two snapshots are compared by skipping
// every subtree whose ID they share.
//
// # Why a hash trie
//
// Keys are uniformly spread, so the trie stays balanced without
// rebalancing: log16(streams/TreeLeafMax) levels. Updating the snapshot
// after a few events rewrites only the nodes on the paths to the streams
// those events touched, O(changed × depth), and shares every other node
// with the previous snapshot. A B-tree over names would give sorted
// listings but its shape would depend on insertion order; a trie keyed by
// name would let long common prefixes ("acc-0000...") make it deep.
//
// # Trust
//
// object.DecodeTree checks the encoding. The Reader also checks what only
// a tree walk can see, and refuses (ErrCorrupt) a node that breaks the
// split rule where it stands: a leaf entry whose key does not lie under
// the node's path, an empty leaf below the root, an inner node of at most
// TreeLeafMax streams or at depth 64, a version 0, an empty inline state,
// a blob state of at most InlineStateMax bytes, and (when it walks a whole
// subtree) a Count that does not add up.
package snapshot
