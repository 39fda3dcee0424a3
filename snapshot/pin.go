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
	var walk func(id object.ID, d int, prefix Key, keys []Key) error
	walk = func(id object.ID, d int, prefix Key, keys []Key) error {
		n, err := r.at(id, d, &prefix)
		if err != nil {
			return err
		}
		c.cur[id] = n
		if n.t.Leaf {
			return nil
		}
		for lo := 0; lo < len(keys); {
			nib := keys[lo].nibble(d)
			hi := lo + 1
			for hi < len(keys) && keys[hi].nibble(d) == nib {
				hi++
			}
			if child := n.t.Children[nib]; !child.IsZero() {
				if err := walk(child, d+1, withNibble(prefix, d, nib), keys[lo:hi]); err != nil {
					return err
				}
			}
			lo = hi
		}
		return nil
	}
	return c, walk(root, 0, Key{}, keys)
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
