package snapshot

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/evgit/evgit/object"
)

// Sink stores objects and returns their IDs; a store transaction and an
// Overlay are sinks.
type Sink interface {
	// PutObject stores an object and returns its ID.
	PutObject(kind object.Kind, body []byte) object.ID
}

// Change sets one stream's version and state in a snapshot, or removes
// the stream when Delete is set.
type Change struct {
	Stream  string // the stream's name
	Version uint64 // >= 1
	State   []byte // canonical JSON, not empty; kept by reference
	Delete  bool   // remove the stream instead of setting it
	Key     Key    // KeyOf(Stream) when the caller has it already; zero: computed
}

// Writer builds snapshot trees: it reads nodes like a Reader and writes
// the nodes it makes to a Sink.
type Writer struct {
	*Reader
	sink Sink
}

// NewWriter returns a Writer reading from src and writing to sink; cache
// may be nil. Nodes the Writer writes go into the cache, so the next
// update reads them from memory.
func NewWriter(src Source, sink Sink, cache *Cache) *Writer {
	return &Writer{Reader: NewReader(src, cache), sink: sink}
}

// change is a Change ready to merge: its entry, key, and the state bytes
// when they go to a blob.
type change struct {
	e    object.TreeEntry
	k    Key
	del  bool
	blob []byte
}

// list is a set of entries sorted by name, with their keys when known
// (keys nil: not computed; keyList computes them).
type list struct {
	ents []object.TreeEntry
	keys []Key
}

func (l *list) keyList() []Key {
	if l.keys == nil && len(l.ents) > 0 {
		l.keys = keysOf(l.ents)
	}
	return l.keys
}

// result is a rewritten subtree. Small ones (count <= TreeLeafMax) stay
// in memory as a list until the parent knows whether they are a leaf of
// their own or part of the parent's leaf.
type result struct {
	count uint64
	id    object.ID // set when written
	l     list      // when count <= TreeLeafMax
}

// Update applies changes to the snapshot at root and returns the new
// root. Only the nodes on the paths to changed streams are read and
// written; a node whose count crosses TreeLeafMax is split or merged, so
// the result is the tree a Build of the new set would give. root may be
// ZeroID or EmptyRoot for an empty snapshot. Changes must name distinct
// streams.
func (w *Writer) Update(root object.ID, changes []Change) (object.ID, error) {
	if root.IsZero() {
		root = EmptyRoot
	}
	if len(changes) == 0 {
		return root, nil
	}
	all := make([]change, len(changes))
	cs := make([]*change, len(changes))
	for i, c := range changes {
		ch := &all[i]
		k := c.Key
		if k == (Key{}) {
			k = KeyOf(c.Stream)
		}
		*ch = change{e: object.TreeEntry{Stream: c.Stream, Version: c.Version}, k: k, del: c.Delete}
		if !c.Delete {
			if c.Version == 0 {
				return root, fmt.Errorf("snapshot: stream %s: version 0", c.Stream)
			}
			if len(c.State) == 0 {
				return root, fmt.Errorf("snapshot: stream %s: empty state", c.Stream)
			}
			ch.e.StateID = object.Hash(object.KindBlob, c.State)
			if len(c.State) <= object.InlineStateMax {
				ch.e.State = c.State
			} else {
				ch.blob = c.State
			}
		}
		cs[i] = ch
	}
	slices.SortFunc(cs, func(a, b *change) int { return compareKeys(&a.k, &b.k) })
	for i := 1; i < len(cs); i++ {
		if cs[i].k == cs[i-1].k {
			return root, fmt.Errorf("snapshot: stream %s changed twice", cs[i].e.Stream)
		}
	}
	var prefix Key
	res, _, err := w.update(root, 0, prefix, cs)
	if err != nil {
		return root, err
	}
	if res.count == 0 {
		w.sink.PutObject(object.KindTree, emptyLeafBody)
		return EmptyRoot, nil
	}
	return w.materialize(res, 0), nil
}

// Build returns the root of a snapshot holding exactly the given streams.
func (w *Writer) Build(changes []Change) (object.ID, error) {
	return w.Update(EmptyRoot, changes)
}

// update rewrites the subtree at id (ZeroID: empty) at depth d with
// changes, sorted by key, that all lie under prefix. It returns the new
// subtree and the old count.
func (w *Writer) update(id object.ID, d int, prefix Key, changes []*change) (result, uint64, error) {
	var n *node
	if !id.IsZero() {
		var err error
		if n, err = w.at(id, d, &prefix); err != nil {
			return result{}, 0, err
		}
	}
	if n == nil || n.t.Leaf {
		var old list
		if n != nil {
			old = list{ents: n.t.Entries, keys: n.keys}
			if old.keys == nil && len(old.ents)+len(changes) > object.TreeLeafMax {
				old.keys = n.keyList() // a split needs them
			}
		}
		res, err := w.fromList(w.merge(old, changes), d, prefix)
		return res, uint64(len(old.ents)), err
	}
	count := n.t.Count
	var subs [object.TreeFanout]*result
	for lo := 0; lo < len(changes); {
		nib := changes[lo].k.nibble(d)
		hi := lo + 1
		for hi < len(changes) && changes[hi].k.nibble(d) == nib {
			hi++
		}
		sub, oldCount, err := w.update(n.t.Children[nib], d+1, withNibble(prefix, d, nib), changes[lo:hi])
		if err != nil {
			return result{}, 0, err
		}
		if oldCount > count {
			return result{}, 0, corruptf("tree %s counts %d streams, a child holds %d", id.Short(), count, oldCount)
		}
		count = count - oldCount + sub.count
		subs[nib] = &sub
		lo = hi
	}
	if count <= object.TreeLeafMax {
		return w.collapse(n, id, d, prefix, subs, count)
	}
	t := &object.Tree{Count: count, Children: n.t.Children}
	for i, sub := range subs {
		if sub != nil {
			t.Children[i] = w.materialize(*sub, d+1)
		}
	}
	return result{count: count, id: w.put(t, nil)}, n.t.Count, nil
}

// collapse merges an inner node whose streams now fit a leaf into one
// list: every child holds few streams, so each is a leaf or a list.
func (w *Writer) collapse(n *node, id object.ID, d int, prefix Key, subs [object.TreeFanout]*result, count uint64) (result, uint64, error) {
	var all []object.TreeEntry
	for i, c := range n.t.Children {
		switch {
		case subs[i] != nil:
			all = append(all, subs[i].l.ents...)
		case !c.IsZero():
			cn, err := w.at(c, d+1, new(withNibble(prefix, d, i)))
			if err != nil {
				return result{}, 0, err
			}
			if !cn.t.Leaf {
				return result{}, 0, corruptf("tree %s counts %d streams but holds an inner node", id.Short(), n.t.Count)
			}
			all = append(all, cn.t.Entries...)
		}
	}
	if uint64(len(all)) != count {
		return result{}, 0, corruptf("tree %s: the counts of its nodes do not add up", id.Short())
	}
	slices.SortFunc(all, func(a, b object.TreeEntry) int { return strings.Compare(a.Stream, b.Stream) })
	return result{count: count, l: list{ents: all}}, n.t.Count, nil
}

// merge applies changes to a leaf's entries (sorted by name) and returns
// the new entries sorted by name. A state that goes to a blob is written
// unless the entry already named that blob.
func (w *Writer) merge(old list, changes []*change) list {
	if len(changes) > 1 {
		changes = slices.Clone(changes)
		slices.SortFunc(changes, func(a, b *change) int { return strings.Compare(a.e.Stream, b.e.Stream) })
	}
	n := len(old.ents) + len(changes)
	withKeys := old.keys != nil || len(old.ents) == 0
	out := list{ents: make([]object.TreeEntry, 0, n)}
	if withKeys {
		out.keys = make([]Key, 0, n)
	}
	i, j := 0, 0
	for i < len(old.ents) || j < len(changes) {
		if j == len(changes) || (i < len(old.ents) && old.ents[i].Stream < changes[j].e.Stream) {
			out.ents = append(out.ents, old.ents[i])
			if withKeys {
				out.keys = append(out.keys, old.keys[i])
			}
			i++
			continue
		}
		c := changes[j]
		same := i < len(old.ents) && old.ents[i].Stream == c.e.Stream
		if !c.del {
			if c.blob != nil && !(same && old.ents[i].StateID == c.e.StateID) {
				w.sink.PutObject(object.KindBlob, c.blob)
			}
			out.ents = append(out.ents, c.e)
			if withKeys {
				out.keys = append(out.keys, c.k)
			}
		}
		if same {
			i++
		}
		j++
	}
	return out
}

// fromList makes the subtree holding a list at depth d: the list itself
// when it fits a leaf, else inner nodes written now.
func (w *Writer) fromList(l list, d int, prefix Key) (result, error) {
	if len(l.ents) <= object.TreeLeafMax {
		return result{count: uint64(len(l.ents)), l: l}, nil
	}
	if d >= MaxDepth {
		return result{}, fmt.Errorf("snapshot: %d streams share a 256-bit key", len(l.ents))
	}
	keys := l.keyList()
	var groups [object.TreeFanout]list
	for i := range l.ents {
		g := &groups[keys[i].nibble(d)]
		g.ents = append(g.ents, l.ents[i])
		g.keys = append(g.keys, keys[i])
	}
	t := &object.Tree{Count: uint64(len(l.ents))}
	for i, g := range groups {
		if len(g.ents) == 0 {
			continue
		}
		sub, err := w.fromList(g, d+1, withNibble(prefix, d, i))
		if err != nil {
			return result{}, err
		}
		t.Children[i] = w.materialize(sub, d+1)
	}
	return result{count: t.Count, id: w.put(t, nil)}, nil
}

// materialize writes a result held in memory as a leaf; an empty one
// below the root is no child at all (ZeroID).
func (w *Writer) materialize(r result, d int) object.ID {
	if !r.id.IsZero() {
		return r.id
	}
	if r.count == 0 && d > 0 {
		return object.ZeroID
	}
	return w.put(&object.Tree{Leaf: true, Entries: r.l.ents}, r.l.keys)
}

// put writes a node and keeps it in the cache.
func (w *Writer) put(t *object.Tree, keys []Key) object.ID {
	// Sinks keep the body by reference: a fresh buffer each time.
	body := appendTree(nil, t)
	id := w.sink.PutObject(object.KindTree, body)
	if t.Leaf {
		rebind(t, body)
	}
	w.cache.put(id, &node{t: t, keys: keys, built: true})
	return id
}

// rebind points a leaf's names and inline states into its encoded body,
// which holds the same bytes. A leaf's entries are carried into the next
// version of the leaf, and each is encoded again there: read from one
// body, in order, they are a few cache lines, where the strings and
// states the entries were first made with lie all over the heap (a miss
// each, which made encoding most of a 1000-event commit's snapshot
// tree). The body is never written to after (Sink keeps it as it is).
func rebind(t *object.Tree, body []byte) {
	off := 2 + uvarintLen(uint64(len(t.Entries)))
	for i := range t.Entries {
		e := &t.Entries[i]
		n := len(e.Stream)
		off += uvarintLen(uint64(n))
		e.Stream = unsafe.String(&body[off], n)
		off += n + uvarintLen(e.Version) + 1
		if e.State != nil {
			n = len(e.State)
			off += uvarintLen(uint64(n))
			e.State = body[off : off+n : off+n]
			off += n
		} else {
			off += object.IDSize
		}
	}
}

// appendTree appends a node's canonical body, the bytes object.Tree's
// Encode gives (a test holds them equal), growing dst once to the exact
// size.
func appendTree(dst []byte, t *object.Tree) []byte {
	const treeFormat = 1
	if t.Leaf {
		n := 2 + uvarintLen(uint64(len(t.Entries)))
		for _, e := range t.Entries {
			n += uvarintLen(uint64(len(e.Stream))) + len(e.Stream) + uvarintLen(e.Version) + 1
			if e.State != nil {
				n += uvarintLen(uint64(len(e.State))) + len(e.State)
			} else {
				n += object.IDSize
			}
		}
		dst = slices.Grow(dst, n)
		dst = append(dst, treeFormat, 0)
		dst = binary.AppendUvarint(dst, uint64(len(t.Entries)))
		for _, e := range t.Entries {
			dst = binary.AppendUvarint(dst, uint64(len(e.Stream)))
			dst = append(dst, e.Stream...)
			dst = binary.AppendUvarint(dst, e.Version)
			if e.State != nil {
				dst = append(dst, 1)
				dst = binary.AppendUvarint(dst, uint64(len(e.State)))
				dst = append(dst, e.State...)
			} else {
				dst = append(dst, 0)
				dst = append(dst, e.StateID[:]...)
			}
		}
		return dst
	}
	var mask uint16
	for i, c := range t.Children {
		if !c.IsZero() {
			mask |= 1 << i
		}
	}
	dst = slices.Grow(dst, 4+uvarintLen(t.Count)+bits.OnesCount16(mask)*object.IDSize)
	dst = append(dst, treeFormat, 1)
	dst = binary.AppendUvarint(dst, t.Count)
	dst = append(dst, byte(mask), byte(mask>>8))
	for _, c := range t.Children {
		if !c.IsZero() {
			dst = append(dst, c[:]...)
		}
	}
	return dst
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }
