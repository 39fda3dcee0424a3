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
// reading several objects of one frame decompresses it once. On the first
// object read from it, every object entry is resolved (packed forms
// rebuilt) and hashed once, and an event's data is checked against its
// data ID; later reads compare IDs instead of hashing again.
type Frame struct {
	Entries []Entry
	size    int

	once    sync.Once
	objects []FrameObject
	err     error
}

// NewFrame wraps parsed entries of a payload of the given size.
func NewFrame(entries []Entry, size int) *Frame {
	// Count what the decoded entries and their resolved objects hold too.
	return &Frame{Entries: entries, size: size + len(entries)*(2*48+96)}
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
	f.once.Do(f.resolve)
	if f.err != nil {
		return FrameObject{}, f.err
	}
	if slot < 0 || slot >= len(f.objects) {
		return FrameObject{}, fmt.Errorf("%w: slot %d out of range", ErrCorrupt, slot)
	}
	o := f.objects[slot]
	return o, o.Err
}

func (f *Frame) resolve() {
	entries, err := ResolvePacked(f.Entries)
	if err != nil {
		f.err = err
		return
	}
	f.objects = make([]FrameObject, len(entries))
	for i, e := range entries {
		if !e.IsObject() {
			continue
		}
		kind, body, data, err := e.Object()
		if err != nil {
			f.objects[i].Err = err
			continue
		}
		o := FrameObject{ID: object.Hash(kind, body), Kind: kind, Body: body, Data: data}
		if kind == object.KindEvent {
			if len(body) < object.IDSize || object.ID(body[len(body)-object.IDSize:]) != object.Hash(object.KindBlob, data) {
				o.Err = fmt.Errorf("%w: data of event %s does not match its hash", ErrCorrupt, o.ID.Short())
			}
		}
		f.objects[i] = o
	}
}

// Entry returns the entry at slot with any packed form resolved. A packed
// event is rebuilt alone; a packed commit needs the commits before it in
// the frame, so it resolves the whole frame once.
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
