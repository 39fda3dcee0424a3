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

// AddAll puts every node that from holds into c.
func (c *Cache) AddAll(from *Cache) {
	if c == nil || from == nil {
		return
	}
	from.mu.Lock()
	ids := make([]object.ID, 0, len(from.cur)+len(from.old))
	nodes := make([]*node, 0, cap(ids))
	for _, m := range []map[object.ID]*node{from.old, from.cur} {
		for id, n := range m {
			ids, nodes = append(ids, id), append(nodes, n)
		}
	}
	from.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		c.putLocked(id, nodes[i])
	}
}
