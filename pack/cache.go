package pack

import (
	"container/list"
	"sync"
)

// FrameKey names a frame: its segment and offset.
type FrameKey struct {
	Seg uint32
	Off uint32
}

// Frame is a decoded frame: its entries, split once and kept so that
// reading several objects of one frame decompresses it once. A pack
// frame's entries stay packed; Entry resolves the one asked for.
type Frame struct {
	Entries []Entry
	size    int

	once     sync.Once
	resolved []Entry
	err      error
}

// Entry returns the entry at slot with any packed form resolved. A packed
// event is rebuilt alone; a packed commit needs the commits before it in
// the frame, so the first one asked for resolves the whole frame once.
func (f *Frame) Entry(slot int) (Entry, error) {
	e := f.Entries[slot]
	switch e.Kind {
	case EntryPackedEvent:
		return resolveEvent(e)
	case EntryPackedCommit:
		f.once.Do(func() { f.resolved, f.err = ResolvePacked(f.Entries) })
		if f.err != nil {
			return Entry{}, f.err
		}
		return f.resolved[slot], nil
	}
	return e, nil
}

// NewFrame wraps parsed entries of a payload of the given size.
func NewFrame(entries []Entry, size int) *Frame { return &Frame{Entries: entries, size: size} }

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
