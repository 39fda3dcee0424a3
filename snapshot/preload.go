package snapshot

import "github.com/evgit/evgit/object"

// ReadOrderer is a Source that can sort object IDs into the order it
// reads them cheapest: the objects of one stored frame together, frames
// in file order. The store is one.
type ReadOrderer interface {
	// ReadOrder sorts ids in the order they are cheapest to read.
	ReadOrder(ids []object.ID)
}

// ReadOrder sorts ids as the source beneath reads them cheapest, when it
// can; the overlay's own objects are in memory and cost the same in any
// order.
func (o *Overlay) ReadOrder(ids []object.ID) {
	if ro, ok := o.under.(ReadOrderer); ok {
		ro.ReadOrder(ids)
	}
}

// preloaded holds the nodes a whole-tree walk reads, read ahead level by
// level (preload); nil when the source cannot order its reads.
type preloaded map[object.ID]*node

// preload reads the nodes of the trees at roots, one level at a time,
// each level in the order the source reads cheapest, and returns them.
// skipEqual, when set, says to read neither a pair of nodes of equal ID at
// one place in two trees nor what lies below them (a diff skips them).
//
// A walk in trie order reads the nodes of a tree that grew over many
// commits from frames all over the log, and once those frames outgrow
// the store's frame cache it decodes the same frames again and again:
// `ls-tree` of 200,000 streams imported in 1000-event commits ran for
// minutes (a helper's audit). Level by level, in the store's order, each
// frame is decoded about once a level. The nodes are all held: listing,
// checkout and diff hold every entry anyway, and verify holds the tree
// (a few hundred bytes a stream) where it held one path. Reading stops
// at the first error, which the walk then meets in its own place.
func (r *Reader) preload(roots []object.ID, skipEqual bool) preloaded {
	ro, ok := r.src.(ReadOrderer)
	if !ok {
		return nil
	}
	pre := preloaded{}
	// level holds the nodes of one depth, by tree; for a pair of trees
	// compared, level[0][i] and level[1][i] stand at one place (ZeroID
	// where a tree has no node there).
	level := make([][]object.ID, len(roots))
	for t, root := range roots {
		level[t] = []object.ID{root}
	}
	if skipEqual && len(roots) == 2 && roots[0] == roots[1] {
		return pre
	}
	for d := 0; d <= MaxDepth && !empty(level); d++ {
		var miss []object.ID
		for _, ids := range level {
			for _, id := range ids {
				if _, ok := pre[id]; ok || id.IsZero() {
					continue
				}
				if n := r.cache.get(id); n != nil {
					pre[id] = n
					continue
				}
				miss = append(miss, id)
			}
		}
		ro.ReadOrder(miss)
		for _, id := range miss {
			if _, ok := pre[id]; ok {
				continue // named twice in this level
			}
			n, err := r.load(id)
			if err != nil {
				return pre
			}
			pre[id] = n
		}
		next := make([][]object.ID, len(roots))
		if skipEqual && len(roots) == 2 {
			next[0], next[1] = pairChildren(pre, level[0], level[1])
		} else {
			// A node is queued once: a damaged tree that names one
			// child at many places would otherwise grow each level
			// sixteenfold before the walk's checks refuse it.
			queued := map[object.ID]bool{}
			for t, ids := range level {
				for _, id := range ids {
					if n := pre[id]; n != nil && !n.t.Leaf {
						for _, c := range n.t.Children {
							if _, read := pre[c]; !c.IsZero() && !read && !queued[c] {
								queued[c] = true
								next[t] = append(next[t], c)
							}
						}
					}
				}
			}
		}
		level = next
	}
	return pre
}

// empty reports whether a level names no node.
func empty(level [][]object.ID) bool {
	for _, ids := range level {
		for _, id := range ids {
			if !id.IsZero() {
				return false
			}
		}
	}
	return true
}

// pairChildren returns the children of two levels of nodes at the same
// places (a[i] and b[i] stand at one place; ZeroID where a tree has no
// node there or a leaf above), dropping pairs of equal IDs, which a diff
// does not read, and pairs met before (a damaged tree may name one node
// at many places).
func pairChildren(pre preloaded, a, b []object.ID) (na, nb []object.ID) {
	seen := map[[2]object.ID]bool{}
	for i := range a {
		var ca, cb [object.TreeFanout]object.ID
		if n := pre[a[i]]; n != nil && !n.t.Leaf {
			ca = n.t.Children
		}
		if n := pre[b[i]]; n != nil && !n.t.Leaf {
			cb = n.t.Children
		}
		for j := range object.TreeFanout {
			if p := [2]object.ID{ca[j], cb[j]}; ca[j] == cb[j] || seen[p] {
				continue
			} else {
				seen[p] = true
			}
			na, nb = append(na, ca[j]), append(nb, cb[j])
		}
	}
	return na, nb
}
