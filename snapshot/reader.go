package snapshot

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sort"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/object"
)

// ErrCorrupt is returned when a tree breaks the encoding or the split
// rule. It is object.ErrCorrupt.
var ErrCorrupt = object.ErrCorrupt

// MaxDepth is the depth of the deepest possible node: a key has 64
// nibbles, so a node at depth 64 can only be a leaf.
const MaxDepth = 2 * object.IDSize

// Key is a stream's position in the trie.
type Key [32]byte

// KeyOf returns a stream's key: BLAKE3-256 of the name. Part of the format.
func KeyOf(stream string) Key { return blake3.Sum256([]byte(stream)) }

// compareKeys orders keys by their bytes. Keys are hashes: their first 8
// bytes nearly always decide, and compare as one number.
func compareKeys(a, b *Key) int {
	if x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); x != y {
		return cmp.Compare(x, y)
	}
	return bytes.Compare(a[8:], b[8:])
}

// nibble returns nibble d of the key: high nibble of byte d/2 first.
func (k *Key) nibble(d int) int {
	b := k[d/2]
	if d%2 == 0 {
		return int(b >> 4)
	}
	return int(b & 0x0f)
}

// hasPrefix reports whether k's first d nibbles equal p's.
func (k *Key) hasPrefix(p *Key, d int) bool {
	if !bytes.Equal(k[:d/2], p[:d/2]) {
		return false
	}
	return d%2 == 0 || k[d/2]>>4 == p[d/2]>>4
}

// withNibble returns p with nibble d set to v.
func withNibble(p Key, d, v int) Key {
	if d%2 == 0 {
		p[d/2] = p[d/2]&0x0f | byte(v)<<4
	} else {
		p[d/2] = p[d/2]&0xf0 | byte(v)
	}
	return p
}

// emptyLeafBody is the encoding of the empty leaf.
var emptyLeafBody = (&object.Tree{Leaf: true}).Encode()

// EmptyRoot is the root of a snapshot without streams.
var EmptyRoot = object.Hash(object.KindTree, emptyLeafBody)

// Source reads stored objects; a store, a transaction and an Overlay are
// sources. An object that does not exist is an error the source chooses
// (the store's ErrNotFound).
type Source interface {
	// Get reads an object checked against its ID: its kind, its body
	// and, for an event, its data.
	Get(id object.ID) (kind object.Kind, body, data []byte, err error)
}

// node is a decoded tree node with the keys of its leaf entries.
type node struct {
	t *object.Tree
	// keys are KeyOf each leaf entry's stream; nil when not computed
	// (see keyList).
	keys []Key
	// built marks a node a Writer made: canonical by construction, so
	// its place in the trie needs no check.
	built bool
}

// keyList returns the keys of a leaf's entries.
func (n *node) keyList() []Key {
	if n.keys != nil || len(n.t.Entries) == 0 {
		return n.keys
	}
	return keysOf(n.t.Entries)
}

func keysOf(ents []object.TreeEntry) []Key {
	keys := make([]Key, len(ents))
	for i := range ents {
		keys[i] = KeyOf(ents[i].Stream)
	}
	return keys
}

// Cache keeps decoded nodes by ID, so updates and lookups that pass the
// same nodes again do not read and decode them again. It holds two
// generations of at most max nodes each: when the newer fills, the older
// is dropped. A Cache is safe for concurrent use. Nodes are immutable and
// named by their hash, so a cached node is never stale.
type Cache struct {
	mu       sync.Mutex
	max      int
	cur, old map[object.ID]*node
}

// NewCache returns a cache of up to about 2×max nodes.
func NewCache(max int) *Cache {
	if max < 16 {
		max = 16
	}
	return &Cache{max: max, cur: map[object.ID]*node{}}
}

func (c *Cache) get(id object.ID) *node {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.cur[id]; ok {
		return n
	}
	if n, ok := c.old[id]; ok {
		c.putLocked(id, n)
		return n
	}
	return nil
}

func (c *Cache) put(id object.ID, n *node) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.putLocked(id, n)
	c.mu.Unlock()
}

func (c *Cache) putLocked(id object.ID, n *node) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[object.ID]*node, c.max)
	}
	c.cur[id] = n
}

// Reader reads snapshot trees from a Source, checking each node against
// the split rule at the place it is found.
type Reader struct {
	src   Source
	cache *Cache
}

// NewReader returns a Reader over src; cache may be nil.
func NewReader(src Source, cache *Cache) *Reader { return &Reader{src: src, cache: cache} }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: snapshot: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// load reads and decodes a node, checking what the node alone can show.
func (r *Reader) load(id object.ID) (*node, error) {
	if n := r.cache.get(id); n != nil {
		return n, nil
	}
	if id == EmptyRoot {
		return &node{t: &object.Tree{Leaf: true}}, nil
	}
	kind, body, _, err := r.src.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindTree {
		return nil, corruptf("object %s is %s, not a tree", id.Short(), kind.WithArticle())
	}
	n, err := decodeNode(body)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	r.cache.put(id, n)
	return n, nil
}

// decodeNode decodes a node body and checks the rules that do not depend
// on where the node stands.
func decodeNode(body []byte) (*node, error) {
	t, err := object.DecodeTree(body)
	if err != nil {
		return nil, err
	}
	// The decoder takes varints that are longer than they need be: one
	// node, one encoding.
	own := appendTree(make([]byte, 0, len(body)), t)
	if !bytes.Equal(own, body) {
		return nil, corruptf("node is not canonically encoded")
	}
	n := &node{t: t}
	if t.Leaf {
		// The inline states the decoder gave point into body, which is
		// part of a decoded frame of megabytes: a cached leaf held its
		// whole frame, and a walk over a tree spread over many frames
		// held them all, past the frame cache's bound (4 GB for a tree
		// of 200,000 streams; a helper's audit). The node's own copy
		// holds the same bytes.
		rebind(t, own)
	}
	if !t.Leaf {
		if t.Count <= object.TreeLeafMax {
			return nil, corruptf("inner node of %d streams; at most %d belong in a leaf", t.Count, object.TreeLeafMax)
		}
		return n, nil
	}
	n.keys = make([]Key, len(t.Entries))
	for i, e := range t.Entries {
		if err := object.ValidateStream(e.Stream); err != nil {
			return nil, corruptf("%v", err)
		}
		if e.Version == 0 {
			return nil, corruptf("stream %s has version 0", e.Stream)
		}
		if e.State != nil && len(e.State) == 0 {
			return nil, corruptf("stream %s has an empty inline state", e.Stream)
		}
		n.keys[i] = KeyOf(e.Stream)
	}
	return n, nil
}

// at loads a node and checks that it may stand at depth d under prefix.
func (r *Reader) at(id object.ID, d int, prefix *Key) (*node, error) {
	return r.atPre(nil, id, d, prefix)
}

// atPre is at taking the node from pre when it was read ahead.
func (r *Reader) atPre(pre preloaded, id object.ID, d int, prefix *Key) (*node, error) {
	n, ok := pre[id]
	if !ok {
		var err error
		if n, err = r.load(id); err != nil {
			return nil, err
		}
	}
	if n.built {
		return n, nil
	}
	if err := checkPlace(n, d, prefix); err != nil {
		return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	return n, nil
}

// checkPlace checks the rules that depend on the node's depth and path.
func checkPlace(n *node, d int, prefix *Key) error {
	if !n.t.Leaf {
		if d >= MaxDepth {
			return corruptf("inner node at depth %d", d)
		}
		return nil
	}
	if d > 0 && len(n.t.Entries) == 0 {
		return corruptf("empty leaf below the root")
	}
	for i := range n.keys {
		if !n.keys[i].hasPrefix(prefix, d) {
			return corruptf("stream %s does not belong under this node", n.t.Entries[i].Stream)
		}
	}
	return nil
}

// Lookup returns a stream's entry in the snapshot at root; found is false
// when the stream is not in it. An inline state is in the entry's State;
// State(e) reads one held in a blob.
func (r *Reader) Lookup(root object.ID, stream string) (e object.TreeEntry, found bool, err error) {
	key := KeyOf(stream)
	id := root
	for d := 0; ; d++ {
		n, err := r.at(id, d, &key)
		if err != nil {
			return e, false, err
		}
		if n.t.Leaf {
			ents := n.t.Entries
			i := sort.Search(len(ents), func(i int) bool { return ents[i].Stream >= stream })
			if i < len(ents) && ents[i].Stream == stream {
				return ents[i], true, nil
			}
			return e, false, nil
		}
		id = n.t.Children[key.nibble(d)]
		if id.IsZero() {
			return e, false, nil
		}
	}
}

// State returns an entry's state: the inline bytes, or the blob's.
func (r *Reader) State(e object.TreeEntry) ([]byte, error) {
	if e.State != nil {
		return e.State, nil
	}
	kind, body, _, err := r.src.Get(e.StateID)
	if err != nil {
		return nil, fmt.Errorf("state of stream %s: %w", e.Stream, err)
	}
	if kind != object.KindBlob {
		return nil, corruptf("state of stream %s is %s, not a blob", e.Stream, kind.WithArticle())
	}
	if len(body) <= object.InlineStateMax {
		return nil, corruptf("state of stream %s (%d bytes) is a blob; at most %d bytes belong inline", e.Stream, len(body), object.InlineStateMax)
	}
	return body, nil
}

// errStop ends a walk early when the consumer stops iterating.
var errStop = errors.New("stop")

// All yields every entry of the snapshot at root in trie order: by key
// nibble, then by name within a leaf. It checks every node on the way,
// counts included; the first error ends the iteration.
func (r *Reader) All(root object.ID) iter.Seq2[object.TreeEntry, error] {
	return func(yield func(object.TreeEntry, error) bool) {
		var prefix Key
		pre := r.preload([]object.ID{root}, false)
		_, err := r.walk(pre, root, 0, prefix, func(e object.TreeEntry) bool { return yield(e, nil) })
		if err != nil && err != errStop {
			yield(object.TreeEntry{}, err)
		}
	}
}

// walk visits the subtree at id and returns how many streams it holds.
func (r *Reader) walk(pre preloaded, id object.ID, d int, prefix Key, fn func(object.TreeEntry) bool) (uint64, error) {
	n, err := r.atPre(pre, id, d, &prefix)
	if err != nil {
		return 0, err
	}
	if n.t.Leaf {
		for _, e := range n.t.Entries {
			if !fn(e) {
				return 0, errStop
			}
		}
		return uint64(len(n.t.Entries)), nil
	}
	var sum uint64
	for i, c := range n.t.Children {
		if c.IsZero() {
			continue
		}
		k, err := r.walk(pre, c, d+1, withNibble(prefix, d, i), fn)
		if err != nil {
			return 0, err
		}
		sum += k
	}
	if sum != n.t.Count {
		return 0, corruptf("tree %s counts %d streams, its children hold %d", id.Short(), n.t.Count, sum)
	}
	return sum, nil
}

// Verify walks the whole snapshot at root, reading every blob state, and
// returns how many streams it holds. Any break of the format or the split
// rule is an error matching ErrCorrupt.
func (r *Reader) Verify(root object.ID) (uint64, error) {
	var prefix Key
	var ferr error
	n, err := r.walk(r.preload([]object.ID{root}, false), root, 0, prefix, func(e object.TreeEntry) bool {
		st, err := r.State(e)
		if err == nil {
			var canon []byte
			canon, err = object.CanonicalJSON(st)
			if err == nil && !bytes.Equal(canon, st) {
				err = corruptf("state of stream %s is not canonical JSON", e.Stream)
			} else if err != nil {
				err = corruptf("state of stream %s: %v", e.Stream, err)
			}
		}
		ferr = err
		return err == nil
	})
	if ferr != nil {
		return 0, ferr
	}
	return n, err
}

// Delta is one stream that differs between two snapshots: Old is nil
// when the stream was added, New is nil when it was removed.
type Delta struct {
	Old *object.TreeEntry // the stream's entry in the first snapshot
	New *object.TreeEntry // the stream's entry in the second snapshot
}

// Stream returns the name of the stream the delta is about.
func (d Delta) Stream() string {
	if d.New != nil {
		return d.New.Stream
	}
	return d.Old.Stream
}

// part is one side of a diff at some depth: a stored subtree, or a list
// of entries (a leaf met opposite an inner node, split by nibble).
type part struct {
	id   object.ID
	list bool
	ents []object.TreeEntry
	keys []Key
}

// Diff yields the streams whose version or state differ between the
// snapshots at a and b, in trie order. Subtrees with equal IDs are
// skipped without being read, so the cost follows what changed.
func (r *Reader) Diff(a, b object.ID) iter.Seq2[Delta, error] {
	return func(yield func(Delta, error) bool) {
		var prefix Key
		pre := r.preload([]object.ID{a, b}, true)
		err := r.diff(pre, part{id: a}, part{id: b}, 0, prefix, func(d Delta) bool { return yield(d, nil) })
		if err != nil && err != errStop {
			yield(Delta{}, err)
		}
	}
}

// expand turns a stored part into a list (a leaf) or returns its node
// (an inner node).
func (r *Reader) expand(pre preloaded, p part, d int, prefix *Key) (part, *node, error) {
	if p.list {
		return p, nil, nil
	}
	if p.id.IsZero() {
		return part{list: true}, nil, nil
	}
	n, err := r.atPre(pre, p.id, d, prefix)
	if err != nil {
		return p, nil, err
	}
	if n.t.Leaf {
		return part{list: true, ents: n.t.Entries, keys: n.keyList()}, nil, nil
	}
	return p, n, nil
}

func (r *Reader) diff(pre preloaded, a, b part, d int, prefix Key, fn func(Delta) bool) error {
	if !a.list && !b.list && a.id == b.id {
		return nil
	}
	a, an, err := r.expand(pre, a, d, &prefix)
	if err != nil {
		return err
	}
	b, bn, err := r.expand(pre, b, d, &prefix)
	if err != nil {
		return err
	}
	if an == nil && bn == nil {
		return diffLists(a.ents, b.ents, fn)
	}
	for i := range object.TreeFanout {
		ca, cb := child(a, an, d, i), child(b, bn, d, i)
		if err := r.diff(pre, ca, cb, d+1, withNibble(prefix, d, i), fn); err != nil {
			return err
		}
	}
	return nil
}

// child returns the part of p under nibble i at depth d.
func child(p part, n *node, d, i int) part {
	if n != nil {
		return part{id: n.t.Children[i]}
	}
	out := part{list: true}
	for j := range p.ents {
		if p.keys[j].nibble(d) == i {
			out.ents = append(out.ents, p.ents[j])
			out.keys = append(out.keys, p.keys[j])
		}
	}
	return out
}

// diffLists merges two name-sorted entry lists.
func diffLists(a, b []object.TreeEntry, fn func(Delta) bool) error {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var dl Delta
		switch {
		case j == len(b) || (i < len(a) && a[i].Stream < b[j].Stream):
			dl = Delta{Old: &a[i]}
			i++
		case i == len(a) || b[j].Stream < a[i].Stream:
			dl = Delta{New: &b[j]}
			j++
		default:
			if a[i].Version != b[j].Version || a[i].StateID != b[j].StateID {
				dl = Delta{Old: &a[i], New: &b[j]}
			}
			i++
			j++
		}
		if (dl.Old != nil || dl.New != nil) && !fn(dl) {
			return errStop
		}
	}
	return nil
}
