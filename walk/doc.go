// Package walk reads history: it resolves revisions (SPEC §3: hex IDs,
// branches, tags, HEAD, X~N, X^N, X@{N}), splits ranges, walks commits for
// log with git log's filters and order, finds the commit in effect at a
// time (--as-of), and draws log --graph.
//
// walk depends only on the small Source interface, so the storage behind
// it can change without touching the traversal, and tests run it over an
// in-memory fake.
//
// # Order: commit time, then offset
//
// Log yields newest first, like git log: a priority queue pops the commit
// with the latest time. Times alone are not enough for a stable order:
// bulk imports give many commits the same time, and the same second on two
// branches is common. evgit guarantees that times never decrease along a
// first-parent line (a commit older than its parent takes the parent's
// time), and every commit records its Offset, the count of events on its
// first-parent line, which strictly increases from parent to child there.
// So (time, offset) orders every first-parent line child before parent even
// where times tie, and the remaining ties (between branches) fall to the ID,
// which makes the output the same on every run.
//
// Because a child always leaves the queue before its first parent, the
// common case needs no bookkeeping beyond the queue: on a linear history
// the queue holds one commit, each commit is loaded once and yielded at
// once, and the sequence streams. Excluded commits (A of A..B) are painted
// down the same queue, as Git does, and the walk ends as soon as no
// commit in the queue is still wanted, so log A..B on a linear history
// costs the commits between B and A, not the history behind A. Like
// git log without --topo-order, a merge whose second parent is newer than
// the merge itself (possible only through a merge, since first-parent
// lines never go back in time) can let such a commit out before its
// exclusion is known.
//
// # As-of and since: stopping early
//
// For the same reason, times are sorted along a first-parent line. AsOf
// walks back from the tip and stops at the first commit at or before the
// time; nothing further back can be newer. Log with Since stops at the
// first commit older than Since, as git log does, since everything left in
// the queue is older still. A time index per branch could later turn AsOf
// into a binary search without changing its answer.
package walk
