package pack

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/evgit/evgit/object"
)

// Entry kinds inside a frame's payload. Kinds below RecordBase are objects
// and take the number of their object.Kind; kinds from RecordBase up are
// records (ref moves, index entries) whose meaning belongs to the layer
// above. Part of the format.
const (
	EntryBlob   = uint8(object.KindBlob)
	EntryEvent  = uint8(object.KindEvent)  // body: uvarint n, n bytes of event, the event's data
	EntryCommit = uint8(object.KindCommit) // body: the commit
	EntryTree   = uint8(object.KindTree)   // body: the tree node
	RecordBase  = uint8(16)                // body: uvarint n, n bytes of key, value
)

// Entry is one entry of a frame: an object or a record.
type Entry struct {
	Kind uint8  // an Entry kind below RecordBase for an object; RecordBase and up for a record
	Body []byte // the entry's bytes, laid out as its kind says
}

// IsObject reports whether the entry holds an object (packed entries
// count once ResolvePacked has turned them into ordinary ones).
func (e Entry) IsObject() bool { return e.Kind < RecordBase }

// Object returns the object's kind and canonical body, and for an event
// its data bytes.
func (e Entry) Object() (kind object.Kind, body, data []byte, err error) {
	kind = object.Kind(e.Kind)
	if !kind.Valid() {
		return 0, nil, nil, fmt.Errorf("%w: unknown entry kind %d", ErrCorrupt, e.Kind)
	}
	if e.Kind != EntryEvent {
		return kind, e.Body, nil, nil
	}
	n, k := binary.Uvarint(e.Body)
	if k <= 0 || n > uint64(len(e.Body)-k) {
		return 0, nil, nil, fmt.Errorf("%w: bad event entry", ErrCorrupt)
	}
	return kind, e.Body[k : k+int(n)], e.Body[k+int(n):], nil
}

// ObjectID returns the ID of the object an entry holds.
func (e Entry) ObjectID() (object.ID, error) {
	kind, body, _, err := e.Object()
	if err != nil {
		return object.ZeroID, err
	}
	return object.Hash(kind, body), nil
}

// Record returns a record entry's key and value.
func (e Entry) Record() (key, value []byte, err error) {
	n, k := binary.Uvarint(e.Body)
	if k <= 0 || n > uint64(len(e.Body)-k) {
		return nil, nil, fmt.Errorf("%w: bad record entry", ErrCorrupt)
	}
	return e.Body[k : k+int(n)], e.Body[k+int(n):], nil
}

// Payload builds the entries of one frame. Its objects may be added whole
// (AddObject, AddEvent) or packed, leaving out the hashes that the entries
// before them give back (AddPackedEvent, AddCommit): hashes do not
// compress, and a one-event commit carries three of them.
type Payload struct {
	buf []byte
	n   int
	// last is the ID of the payload's last commit entry, when known.
	last     object.ID
	haveLast bool
	commits  bool // a commit entry was added
	// events are the IDs of the event entries that end the payload, as
	// far back as they are known: a packed commit may leave them out.
	events []object.ID
	// treesAt is where the first snapshot tree entry after other entries
	// starts, 0 for none (TreesAt).
	treesAt int
}

// TreesAt returns the offset of the first tree entry that follows other
// entries, or 0: an import's batch, or a commit with its snapshot, holds
// its events and commits first and its tree after, and a frame that
// compresses the two apart lets a read of a commit leave the tree
// compressed (AppendFrameSplit, Frame).
func (p *Payload) TreesAt() int { return p.treesAt }

// Len returns the number of entries added.
func (p *Payload) Len() int { return p.n }

// Size returns the payload's size in bytes.
func (p *Payload) Size() int { return len(p.buf) }

// Bytes returns the encoded entries.
func (p *Payload) Bytes() []byte { return p.buf }

// Grow makes room for n more bytes without regrowing.
func (p *Payload) Grow(n int) { p.buf = slices.Grow(p.buf, n) }

// Use makes an empty payload that appends to buf's memory.
func (p *Payload) Use(buf []byte) {
	p.buf = buf[:0]
	p.forget()
}

// Reset empties the payload, keeping its memory.
func (p *Payload) Reset() {
	p.buf = p.buf[:0]
	p.forget()
}

func (p *Payload) forget() {
	p.n, p.haveLast, p.commits, p.events, p.treesAt = 0, false, false, p.events[:0], 0
}

func (p *Payload) add(kind uint8, parts ...[]byte) int {
	size := 0
	for _, b := range parts {
		size += len(b)
	}
	if kind == uint8(object.KindTree) && p.treesAt == 0 && p.n > 0 {
		p.treesAt = len(p.buf)
	}
	p.buf = append(p.buf, kind)
	p.buf = binary.AppendUvarint(p.buf, uint64(size))
	for _, b := range parts {
		p.buf = append(p.buf, b...)
	}
	p.n++
	return p.n - 1
}

// AddObject adds a blob, commit or tree and returns its slot.
func (p *Payload) AddObject(kind object.Kind, body []byte) int {
	p.events = p.events[:0]
	if kind == object.KindCommit {
		p.haveLast, p.commits = false, true // a commit whose ID is not known here
	}
	return p.add(uint8(kind), body)
}

// addWholeCommit adds the commit id whole: the next may leave out its ID.
func (p *Payload) addWholeCommit(id object.ID, body []byte) int {
	slot := p.add(EntryCommit, body)
	p.last, p.haveLast, p.commits, p.events = id, true, true, p.events[:0]
	return slot
}

// AddEvent adds an event whole, with its data, and returns its slot.
func (p *Payload) AddEvent(body, data []byte) int {
	p.events = p.events[:0]
	var n [binary.MaxVarintLen64]byte
	return p.add(EntryEvent, n[:binary.PutUvarint(n[:], uint64(len(body)))], body, data)
}

// AddPackedEvent adds the event id, whose canonical body is body, with its
// data, leaving out the data ID that ends the body (EntryPackedEvent), and
// returns its slot. The body must be canonical: its last 32 bytes are the
// data's hash.
func (p *Payload) AddPackedEvent(id object.ID, body, data []byte) int {
	prefix := body[:len(body)-object.IDSize]
	var n [binary.MaxVarintLen64]byte
	slot := p.add(EntryPackedEvent, n[:binary.PutUvarint(n[:], uint64(len(prefix)))], prefix, data)
	p.events = append(p.events, id)
	return slot
}

// AddCommit adds the commit id, c encoded as body, and returns its slot.
// It is packed (EntryPackedCommit) when the entries before it give back
// its first parent (the payload's last commit entry) or its events (the
// event entries just before it, in order), and whole otherwise.
func (p *Payload) AddCommit(id object.ID, c *object.Commit, body []byte) int {
	var flags byte
	if p.haveLast && len(c.Parents) > 0 && c.Parents[0] == p.last {
		flags |= packedParentPrev
	}
	if n := len(c.Events); n > 0 && n <= len(p.events) && slices.Equal(p.events[len(p.events)-n:], c.Events) {
		flags |= packedEventsPrev
	}
	var slot int
	if flags == 0 {
		slot = p.add(EntryCommit, body)
	} else {
		pieces := packCommit(body, flags)
		slot = p.add(EntryPackedCommit, []byte{flags}, pieces[0], pieces[1], pieces[2])
	}
	p.last, p.haveLast, p.commits, p.events = id, true, true, p.events[:0]
	return slot
}

// Append adds q's entries after p's and returns the slot of q's first.
// q was built on its own, so none of its packed entries leave out what
// p's entries give back; the entries after it may pack against q's.
func (p *Payload) Append(q *Payload) int {
	first := p.n
	if q.n == 0 {
		return first
	}
	p.buf = append(p.buf, q.buf...)
	p.n += q.n
	if len(q.events) < q.n { // q ends the run of events p ended with
		p.events = p.events[:0]
	}
	p.events = append(p.events, q.events...)
	if q.commits {
		p.last, p.haveLast, p.commits = q.last, q.haveLast, true
	}
	return first
}

// packCommit returns the pieces of a canonical commit body that remain
// without the IDs flags mark as derived, in order. The body starts:
// format byte, uvarint parent count, parents, uvarint event count,
// events.
func packCommit(body []byte, flags byte) [3][]byte {
	p := 1
	np, k := binary.Uvarint(body[p:])
	p += k
	head := body[:p] // format, parent count
	if flags&packedParentPrev != 0 {
		p += object.IDSize
		np--
	}
	mid := p // the other parents, the event count
	p += int(np) * object.IDSize
	ne, k := binary.Uvarint(body[p:])
	p += k
	midEnd := p
	if flags&packedEventsPrev != 0 {
		p += int(ne) * object.IDSize
	}
	return [3][]byte{head, body[mid:midEnd], body[p:]}
}

// AddRecord adds a record and returns its slot.
func (p *Payload) AddRecord(kind uint8, key, value []byte) int {
	p.events = p.events[:0]
	var n [binary.MaxVarintLen64]byte
	return p.add(kind, n[:binary.PutUvarint(n[:], uint64(len(key)))], key, value)
}

// ParseEntries splits a payload into its entries. The entries alias
// payload.
func ParseEntries(payload []byte) ([]Entry, error) {
	var out []Entry
	for len(payload) > 0 {
		kind := payload[0]
		n, k := binary.Uvarint(payload[1:])
		if k <= 0 || n > uint64(len(payload)-1-k) {
			return nil, fmt.Errorf("%w: entry %d overruns its frame", ErrCorrupt, len(out))
		}
		if kind == 0 || (kind > EntryPackedCommit && kind < RecordBase) {
			return nil, fmt.Errorf("%w: entry %d has unknown kind %d", ErrCorrupt, len(out), kind)
		}
		start := 1 + k
		out = append(out, Entry{Kind: kind, Body: payload[start : start+int(n) : start+int(n)]})
		payload = payload[start+int(n):]
	}
	return out, nil
}
