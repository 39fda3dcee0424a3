package snapshot

import (
	"math"
	"slices"

	"github.com/evgit/evgit/object"
)

// Pin reads, into a new cache, every node of the tree at root that an
// Update of the streams with the given keys reads, so that a Writer
// over that cache needs no source for the tree: a snapshot can then be
// built where the source may no longer be read (after the transaction
// that read it has ended). An Update that removes streams may read more
// (a node that shrinks to a leaf merges its children) and then fails
// with a not-found error from its source. keys is sorted in place.
func (r *Reader) Pin(root object.ID, keys []Key) (*Cache, error) {
	c := &Cache{max: math.MaxInt, cur: make(map[object.ID]*node, len(keys))}
	if root.IsZero() || root == EmptyRoot {
		return c, nil
	}
	slices.SortFunc(keys, func(a, b Key) int { return compareKeys(&a, &b) })
	// Level by level, each level read in the order the source reads
	// cheapest when it can say (ReadOrderer): the paths of a few hundred
	// streams lie in frames all over the log, and read one path at a time
	// they decoded the same frames again and again once those outgrew the
	// store's frame cache (a diff against a commit with no snapshot, at
	// 300,000 streams, took 6 s; a helper's scale audit).
	type visit struct {
		id     object.ID
		d      int
		prefix Key
		keys   []Key
	}
	level := []visit{{id: root, keys: keys}}
	ro, ordered := r.src.(ReadOrderer)
	for len(level) > 0 {
		var pre preloaded
		if ordered && len(level) > 1 {
			pre = preloaded{}
			miss := make([]object.ID, 0, len(level))
			for _, v := range level {
				if r.cache.get(v.id) == nil {
					miss = append(miss, v.id)
				}
			}
			ro.ReadOrder(miss)
			for _, id := range miss {
				if _, ok := pre[id]; ok {
					continue
				}
				n, err := r.load(id)
				if err != nil {
					return c, err
				}
				pre[id] = n
			}
		}
		var next []visit
		for _, v := range level {
			n, err := r.atPre(pre, v.id, v.d, &v.prefix)
			if err != nil {
				return c, err
			}
			c.cur[v.id] = n
			if n.t.Leaf {
				continue
			}
			for lo := 0; lo < len(v.keys); {
				nib := v.keys[lo].nibble(v.d)
				hi := lo + 1
				for hi < len(v.keys) && v.keys[hi].nibble(v.d) == nib {
					hi++
				}
				if child := n.t.Children[nib]; !child.IsZero() {
					next = append(next, visit{id: child, d: v.d + 1, prefix: withNibble(v.prefix, v.d, nib), keys: v.keys[lo:hi]})
				}
				lo = hi
			}
		}
		level = next
	}
	return c, nil
}

// AddTree puts every node of the tree at root into c, each from from or
// from c itself, so that the whole tree stays cached as a unit: a node
// the update did not rewrite is kept beside the ones it did, where
// adding only the nodes the update read and wrote let it age out of c,
// and the next update that passed it read it from the store (for a run
// of large commits, a store lookup most commits, each mapping every
// object written since the last). A node found in neither, and what lies
// below it, is left out.
func (c *Cache) AddTree(from *Cache, root object.ID) {
	if c == nil || from == nil || root.IsZero() {
		return
	}
	from.mu.Lock()
	defer from.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	var add func(id object.ID)
	add = func(id object.ID) {
		n, ok := c.cur[id]
		if !ok {
			for _, m := range [...]map[object.ID]*node{from.cur, from.old, c.old} {
				if n, ok = m[id]; ok {
					break
				}
			}
			if !ok {
				return
			}
			c.putLocked(id, n)
		}
		if n.t.Leaf {
			return
		}
		for _, child := range n.t.Children {
			if !child.IsZero() {
				add(child)
			}
		}
	}
	add(root)
}
