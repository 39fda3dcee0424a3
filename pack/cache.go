package pack

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/evgit/evgit/object"
)

// FrameKey names a frame: its segment and offset.
type FrameKey struct {
	Seg uint32 // the segment's number; 0 for the pack
	Off uint32 // the frame's byte offset in its file
}

// Frame is a decoded frame: its entries, split once and kept so that
// reading several objects of one frame decompresses it once. Each object
// entry is resolved (a packed form rebuilt), hashed and, for an event,
// checked against its data ID the first time it is read; later reads
// compare IDs instead of hashing again. A packed commit may need the ID of
// the commit before it and of the events just before it, so the commits
// of a frame are resolved in order, as far as the one read, unless its
// parent is known (ObjectAfter). Any other entry, a packed event
// included, is resolved alone.
//
// A frame read from a file (NewLazyFrame) is decompressed as far as the
// entries read need: its payload is zstd frames back to back (parts),
// and an entry needs only the parts up to it, since entries refer only to
// entries before them. A large commit's or an import's frame holds its
// events and commits first and its snapshot tree last, in parts of their
// own, so a read of a commit does not decompress the tree.
type Frame struct {
	// size is what a cache counts for the frame (bytes held, and the
	// bookkeeping of its entries); a frame read lazily grows it as it
	// decodes, and tells the cache that holds it (FrameCache.grew).
	size atomic.Int64
	item atomic.Pointer[cacheItem] // where a cache counts it, once put in one

	mu       sync.Mutex
	entries  []Entry // parsed so far; all once parts is empty
	parts    []zstdPart
	raw      []byte // the part decompressed last, after what the part before left unsplit
	parsed   int    // bytes of raw split into entries
	rawLen   int
	rawDone  int    // bytes of the payload decompressed
	where    string // names the frame in errors
	err      error  // why the rest could not be decoded
	objects  []FrameObject
	done     []bool
	resolved int       // entries the commit chain has passed (resolveCommitsTo)
	prev     object.ID // the last commit it passed
	havePrev bool
}

// NewFrame wraps parsed entries of a payload of the given size. The size
// a cache counts is the payload's, the per-entry bookkeeping, and for each
// packed entry the body it is rebuilt to when read.
func NewFrame(entries []Entry, size int) *Frame {
	f := &Frame{entries: entries}
	f.size.Store(int64(size + entriesSize(entries)))
	return f
}

// entriesSize is what a frame holds for entries besides their bytes: the
// entry, its resolved object and flag, and for a packed entry the body it
// is rebuilt to when read.
func entriesSize(entries []Entry) int {
	n := len(entries) * (2*48 + 96)
	for _, e := range entries {
		switch e.Kind {
		case EntryPackedCommit:
			n += len(e.Body) + 2*object.IDSize
		case EntryPackedEvent:
			n += len(e.Body) + object.IDSize
		}
	}
	return n
}

// NewLazyFrame returns a frame whose payload of rawLen bytes is the
// concatenation of what parts, zstd frames, decompress to; each part is
// decompressed when an entry in it is first asked for. where names the
// frame in errors. Its size for a cache counts the compressed parts it
// holds, then what each part decoded adds, less the part.
func NewLazyFrame(parts []zstdPart, rawLen int, where string) *Frame {
	f := &Frame{parts: parts, rawLen: rawLen, where: where}
	n := 0
	for _, p := range parts {
		n += len(p.b)
	}
	f.size.Store(int64(n))
	return f
}

// decodeTo decompresses parts until the entry at slot is parsed or none
// is left; f.mu is held. It reports whether slot exists.
func (f *Frame) decodeTo(slot int) (bool, error) {
	for slot >= len(f.entries) && len(f.parts) > 0 && f.err == nil {
		// A buffer for each part, which the entries split from it keep
		// pointing into; the bytes of an entry the part before cut short
		// are copied to its start.
		part := f.parts[0]
		f.parts[0] = zstdPart{} // its bytes can go once decoded
		f.parts = f.parts[1:]
		if len(f.parts) == 0 {
			f.parts = nil
		}
		left := f.raw[f.parsed:]
		size := part.size
		if size < 0 || size > f.rawLen-f.rawDone {
			size = f.rawLen - f.rawDone // not given, or damaged: DecodeAll checks
		}
		buf := append(make([]byte, 0, len(left)+size), left...)
		out, err := zstdDecoder().DecodeAll(part.b, buf)
		if err == nil {
			f.rawDone += len(out) - len(left)
		}
		switch {
		case err != nil:
			f.err = fmt.Errorf("%w: %s: frame does not decompress: %v", ErrCorrupt, f.where, err)
		case f.rawDone > f.rawLen || len(f.parts) == 0 && f.rawDone != f.rawLen:
			f.err = fmt.Errorf("%w: %s: frame's parts decompress to %d bytes, want %d", ErrCorrupt, f.where, f.rawDone, f.rawLen)
		}
		if f.err != nil {
			break
		}
		f.raw, f.parsed = out, 0
		// Room for the part's entries at once (a commit's is about 25
		// bytes, an event's about 90), not a slice regrown as it fills.
		f.entries = slices.Grow(f.entries, len(out)/64)
		before := len(f.entries)
		f.parseAvailable(len(f.parts) == 0)
		f.size.Add(int64(cap(out) - len(part.b) + entriesSize(f.entries[before:])))
		if it := f.item.Load(); it != nil {
			it.c.grew(it) // f.mu, then the cache's lock: never the other way
		}
	}
	if len(f.parts) == 0 && f.err == nil && f.rawDone != f.rawLen {
		// No part at all, or none left short of the length.
		f.err = fmt.Errorf("%w: %s: frame decompressed to %d bytes, want %d", ErrCorrupt, f.where, f.rawDone, f.rawLen)
	}
	if slot < len(f.entries) {
		return true, nil
	}
	return false, f.err
}

// parseAvailable splits the whole entries decompressed so far; with last,
// the payload is all there, and a cut entry is damage.
func (f *Frame) parseAvailable(last bool) {
	for f.parsed < len(f.raw) {
		b := f.raw[f.parsed:]
		kind := b[0]
		n, k := binary.Uvarint(b[1:])
		if k == 0 || (k > 0 && n > uint64(len(b)-1-k)) {
			if last {
				f.err = fmt.Errorf("%w: %s: entry %d overruns its frame", ErrCorrupt, f.where, len(f.entries))
			}
			return // the rest of the entry is in the next part
		}
		if k < 0 || kind == 0 || (kind > EntryPackedCommit && kind < RecordBase) {
			f.err = fmt.Errorf("%w: %s: entry %d is damaged (kind %d)", ErrCorrupt, f.where, len(f.entries), kind)
			return
		}
		start := 1 + k
		f.entries = append(f.entries, Entry{Kind: kind, Body: b[start : start+int(n) : start+int(n)]})
		f.parsed += start + int(n)
	}
}

// Decompressed returns how many bytes of the frame's payload are
// decompressed so far, and of how many.
func (f *Frame) Decompressed() (done, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rawLen == 0 { // decoded whole when made
		n := int(f.size.Load())
		return n, n
	}
	return f.rawDone, f.rawLen
}

// Len returns the frame's number of entries, decompressing it whole.
func (f *Frame) Len() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.decodeTo(math.MaxInt); err != nil {
		return len(f.entries), err
	}
	return len(f.entries), nil
}

// DecodedKind returns the kind of the entry at slot when that entry is
// decompressed already, and false otherwise: for a look around what was
// read that should not decompress more.
func (f *Frame) DecodedKind(slot int) (uint8, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slot < 0 || slot >= len(f.entries) {
		return 0, false
	}
	return f.entries[slot].Kind, true
}

// Kind returns the kind of the entry at slot, and false past the last.
func (f *Frame) Kind(slot int) (uint8, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slot < 0 {
		return 0, false, nil
	}
	ok, err := f.decodeTo(slot)
	if !ok {
		return 0, false, err
	}
	return f.entries[slot].Kind, true, nil
}

// FrameObject is an object entry of a frame, resolved and hashed.
type FrameObject struct {
	ID object.ID // ZeroID for a record
	// Kind is the object's kind; 0 for a record or a damaged entry.
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if slot < 0 {
		return FrameObject{}, fmt.Errorf("%w: slot %d out of range", ErrCorrupt, slot)
	}
	if ok, err := f.decodeTo(slot); !ok {
		if err != nil {
			return FrameObject{}, err
		}
		return FrameObject{}, fmt.Errorf("%w: slot %d out of range", ErrCorrupt, slot)
	}
	if n := len(f.entries); len(f.objects) < n {
		f.objects = append(f.objects, make([]FrameObject, n-len(f.objects))...)
		f.done = append(f.done, make([]bool, n-len(f.done))...)
	}
	if f.entries[slot].Kind == EntryPackedCommit && !f.done[slot] {
		if !parent.IsZero() {
			if o := f.packedCommit(slot, parent, true); o.Err == nil && o.ID == id {
				f.objects[slot], f.done[slot] = o, true
			}
		}
		if !f.done[slot] {
			f.resolveCommitsTo(slot) // a packed commit needs the IDs of the entries before it
		}
	}
	return f.objectAt(slot)
}

// resolveCommitsTo resolves and hashes the commits of the frame up to
// slot, from where it stopped before, each from the one before it and,
// when it leaves its events out, the events just before it. The other
// entries (trees, records, events no commit leaves out) are left to be
// resolved when read. A commit that cannot be rebuilt is damaged alone,
// and so is every later one that leaves out its parent: the rest of the
// frame reads as it would without it. f.mu is held, and the entries up to
// slot are parsed.
func (f *Frame) resolveCommitsTo(slot int) {
	for ; f.resolved <= slot; f.resolved++ {
		i := f.resolved
		switch e := f.entries[i]; e.Kind {
		case EntryCommit:
			if !f.done[i] {
				f.objects[i], f.done[i] = hashObject(e), true
			}
		case EntryPackedCommit:
			f.objects[i], f.done[i] = f.packedCommit(i, f.prev, f.havePrev), true
		default:
			continue
		}
		f.prev, f.havePrev = f.objects[i].ID, f.objects[i].Err == nil
	}
}

// packedCommit rebuilds and hashes the packed commit at slot i, whose
// frame's previous commit is prev (if havePrev).
func (f *Frame) packedCommit(i int, prev object.ID, havePrev bool) FrameObject {
	e := f.entries[i]
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
		e := f.entries[slot]
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
// the frame, so it resolves the frame's commits as far as it.
func (f *Frame) Entry(slot int) (Entry, error) {
	kind, ok, err := f.Kind(slot)
	switch {
	case err != nil:
		return Entry{}, err
	case !ok:
		return Entry{}, fmt.Errorf("%w: slot %d out of range", ErrCorrupt, slot)
	}
	f.mu.Lock()
	e := f.entries[slot]
	f.mu.Unlock()
	switch kind {
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
// drops the least recently used first. A frame read lazily grows as it is
// read, and says so (grew).
type FrameCache struct {
	mu     sync.Mutex
	budget int
	used   int
	lru    *list.List // of *cacheItem, most recent at the front
	items  map[FrameKey]*list.Element
}

type cacheItem struct {
	key     FrameKey
	f       *Frame
	c       *FrameCache
	counted int  // f's size as used counts it
	live    bool // still in the cache
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
	n := int(f.size.Load())
	it := &cacheItem{key: k, f: f, c: c, counted: n, live: true}
	f.item.Store(it)
	c.items[k] = c.lru.PushFront(it)
	c.used += n
	c.evict()
}

// grew counts what a frame in the cache grew by as it was read.
func (c *FrameCache) grew(it *cacheItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !it.live {
		return
	}
	n := int(it.f.size.Load())
	c.used += n - it.counted
	it.counted = n
	c.evict()
}

// evict drops the least recently used frames past the budget, the most
// recent one always kept.
func (c *FrameCache) evict() {
	for c.used > c.budget && c.lru.Len() > 1 {
		c.remove(c.lru.Back())
	}
}

// remove takes a frame out of the cache; c.mu is held.
func (c *FrameCache) remove(e *list.Element) {
	it := e.Value.(*cacheItem)
	c.lru.Remove(e)
	delete(c.items, it.key)
	c.used -= it.counted
	it.live = false
}

// Drop removes a frame from the cache, if there: for a reader done with
// it that will not read it again (a walk down a long line), so that it
// does not push out frames others will.
func (c *FrameCache) Drop(k FrameKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.remove(e)
	}
}

// Demote makes a frame, if there, the first to go when the cache needs
// room: for a reader done with it that will not read it again soon (a
// walk down a long line), so that it does not push out frames others
// will read, yet stays while there is room.
func (c *FrameCache) Demote(k FrameKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.lru.MoveToBack(e)
	}
}

// Use reports how many frames the cache holds and the bytes it counts
// for them.
func (c *FrameCache) Use() (frames, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}

// Clear empties the cache.
func (c *FrameCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.items {
		e.Value.(*cacheItem).live = false
	}
	c.lru.Init()
	c.items = map[FrameKey]*list.Element{}
	c.used = 0
}
