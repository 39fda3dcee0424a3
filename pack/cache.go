package pack

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/evgit/evgit/object"
)

// FrameKey names a frame: its segment and offset.
type FrameKey struct {
	Seg uint32
	Off uint32
}

// Frame is a decoded frame: its entries, split once and kept so that
// reading several objects of one frame decompresses it once. Each object
// entry is resolved (a packed form rebuilt), hashed and, for an event,
// checked against its data ID the first time it is read; later reads
// compare IDs instead of hashing again. A frame with packed commits
// resolves its commits, in order, on the first read of one of them, since
// each may need the ID of the one before and of the events just before
// it. Any other entry, a packed event included, is resolved alone.
type Frame struct {
	Entries []Entry
	size    int

	mu       sync.Mutex
	objects  []FrameObject
	done     []bool
	chained  bool // holds packed commits, resolved together (resolveCommits)
	resolved bool
}

// NewFrame wraps parsed entries of a payload of the given size. The size
// a cache counts is the payload's, the per-entry bookkeeping, and for each
// packed entry the body it is rebuilt to when read.
func NewFrame(entries []Entry, size int) *Frame {
	f := &Frame{Entries: entries, size: size + len(entries)*(2*48+96)}
	for _, e := range entries {
		switch e.Kind {
		case EntryPackedCommit:
			f.chained = true
			f.size += len(e.Body) + 2*object.IDSize
		case EntryPackedEvent:
			f.size += len(e.Body) + object.IDSize
		}
	}
	return f
}

// FrameObject is an object entry of a frame, resolved and hashed.
type FrameObject struct {
	ID   object.ID // ZeroID for a record
	Kind object.Kind
	Body []byte // the canonical body
	Data []byte // an event's data
	Err  error  // the entry is damaged
}

// Object returns the object at slot, resolved and hashed.
func (f *Frame) Object(slot int) (FrameObject, error) {
	return f.ObjectAfter(slot, object.ZeroID, object.ZeroID)
}

// ObjectAfter is Object for a caller that knows the object's ID and, when
// it is a commit, its first parent (from an index of a first-parent
// line; ZeroID when it does not). A packed commit whose frame has not
// resolved its commits is then rebuilt alone, with parent as the commit
// before it, instead of the frame's commits all at once: it is taken
// only if it hashes to id, and otherwise read as Object reads it.
func (f *Frame) ObjectAfter(slot int, id, parent object.ID) (FrameObject, error) {
	if slot < 0 || slot >= len(f.Entries) {
		return FrameObject{}, fmt.Errorf("%w: slot %d out of range", ErrCorrupt, slot)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects == nil {
		f.objects = make([]FrameObject, len(f.Entries))
		f.done = make([]bool, len(f.Entries))
	}
	if f.chained && !f.resolved && f.Entries[slot].Kind == EntryPackedCommit && !f.done[slot] {
		if !parent.IsZero() {
			if o := f.packedCommit(slot, parent, true); o.Err == nil && o.ID == id {
				f.objects[slot], f.done[slot] = o, true
			}
		}
		if !f.done[slot] {
			f.resolveCommits() // a packed commit needs the IDs of the entries before it
		}
	}
	return f.objectAt(slot)
}

// resolveCommits resolves and hashes the commits of a chained frame, each
// from the one before it and, when it leaves its events out, the events
// just before it. The other entries (trees, records, events no commit
// leaves out) are left to be resolved when read. A commit that cannot be
// rebuilt is damaged alone, and so is every later one that leaves out its
// parent: the rest of the frame reads as it would without it.
func (f *Frame) resolveCommits() {
	f.resolved = true
	var prev object.ID
	havePrev := false
	for i, e := range f.Entries {
		switch e.Kind {
		case EntryCommit:
			if !f.done[i] {
				f.objects[i], f.done[i] = hashObject(e), true
			}
		case EntryPackedCommit:
			f.objects[i], f.done[i] = f.packedCommit(i, prev, havePrev), true
		default:
			continue
		}
		prev, havePrev = f.objects[i].ID, f.objects[i].Err == nil
	}
}

// packedCommit rebuilds and hashes the packed commit at slot i, whose
// frame's previous commit is prev (if havePrev).
func (f *Frame) packedCommit(i int, prev object.ID, havePrev bool) FrameObject {
	e := f.Entries[i]
	if len(e.Body) < 1 || e.Body[0]&^(packedParentPrev|packedEventsPrev) != 0 {
		return FrameObject{Err: errBadPackedCommit}
	}
	body, err := fillCommit(e.Body[1:], e.Body[0], prev, havePrev, func(n int) ([]object.ID, error) {
		if n > i {
			return nil, errBadPackedCommit
		}
		ids := make([]object.ID, n)
		for k := range n {
			o, err := f.objectAt(i - n + k)
			if err != nil {
				return nil, err
			}
			if o.Kind != object.KindEvent {
				return nil, errBadPackedCommit
			}
			ids[k] = o.ID
		}
		return ids, nil
	})
	if err != nil {
		return FrameObject{Err: err}
	}
	return hashObject(Entry{Kind: EntryCommit, Body: body})
}

// objectAt resolves and hashes the entry at slot once; f.mu is held.
func (f *Frame) objectAt(slot int) (FrameObject, error) {
	if !f.done[slot] {
		e := f.Entries[slot]
		if e.Kind == EntryPackedEvent {
			r, err := resolveEvent(e)
			if err != nil {
				f.objects[slot], f.done[slot] = FrameObject{Err: err}, true
				return FrameObject{}, err
			}
			f.objects[slot] = hashEntry(r, false) // its data ID is its data's hash
		} else {
			f.objects[slot] = hashObject(e)
		}
		f.done[slot] = true
	}
	o := f.objects[slot]
	return o, o.Err
}

// hashObject hashes one resolved entry and checks an event's data.
func hashObject(e Entry) FrameObject { return hashEntry(e, true) }

// hashEntry hashes one resolved entry and, with checkData, checks an
// event's data against its data ID: a packed event rebuilt from its data
// needs no check.
func hashEntry(e Entry, checkData bool) FrameObject {
	if !e.IsObject() {
		return FrameObject{}
	}
	kind, body, data, err := e.Object()
	if err != nil {
		return FrameObject{Err: err}
	}
	o := FrameObject{ID: object.Hash(kind, body), Kind: kind, Body: body, Data: data}
	if kind == object.KindEvent && checkData {
		if len(body) < object.IDSize || object.ID(body[len(body)-object.IDSize:]) != object.Hash(object.KindBlob, data) {
			o.Err = fmt.Errorf("%w: data of event %s does not match its hash", ErrCorrupt, o.ID.Short())
		}
	}
	return o
}

// Entry returns the entry at slot with any packed form resolved. A packed
// event is rebuilt alone; a packed commit needs the entries before it in
// the frame, so it resolves the frame's commits once.
func (f *Frame) Entry(slot int) (Entry, error) {
	e := f.Entries[slot]
	switch e.Kind {
	case EntryPackedEvent:
		return resolveEvent(e)
	case EntryPackedCommit:
		o, err := f.Object(slot)
		if err != nil {
			return Entry{}, err
		}
		return Entry{Kind: EntryCommit, Body: o.Body}, nil
	}
	return e, nil
}

// FrameCache keeps recently decoded frames, up to a budget of bytes, and
// drops the least recently used first.
type FrameCache struct {
	mu     sync.Mutex
	budget int
	used   int
	lru    *list.List // of *cacheItem, most recent at the front
	items  map[FrameKey]*list.Element
}

type cacheItem struct {
	key FrameKey
	f   *Frame
}

// NewFrameCache returns a cache holding up to budget bytes of payload.
func NewFrameCache(budget int) *FrameCache {
	return &FrameCache{budget: budget, lru: list.New(), items: map[FrameKey]*list.Element{}}
}

// Get returns a cached frame.
func (c *FrameCache) Get(k FrameKey) (*Frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheItem).f, true
	}
	return nil, false
}

// Put adds a frame, evicting old ones past the budget.
func (c *FrameCache) Put(k FrameKey, f *Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.items[k] = c.lru.PushFront(&cacheItem{key: k, f: f})
	c.used += f.size
	for c.used > c.budget && c.lru.Len() > 1 {
		e := c.lru.Back()
		it := e.Value.(*cacheItem)
		c.lru.Remove(e)
		delete(c.items, it.key)
		c.used -= it.f.size
	}
}

// Clear empties the cache.
func (c *FrameCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	c.items = map[FrameKey]*list.Element{}
	c.used = 0
}
