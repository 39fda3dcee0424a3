package pack

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// A payload built as the store builds one leaves out the hashes the frame
// gives back, and a frame reads every object back under its ID: commits
// in a chain, their events, and the entries between them.
func TestPayloadPacksWhatTheFrameGivesBack(t *testing.T) {
	var p Payload
	type want struct {
		slot int
		id   object.ID
		kind object.Kind
	}
	var wants []want
	tree := (&object.Tree{Leaf: true}).Encode()
	wants = append(wants, want{p.AddObject(object.KindTree, tree), object.Hash(object.KindTree, tree), object.KindTree})
	var parent object.ID
	for i := range 4 {
		var ids []object.ID
		for j := range 3 {
			ev := object.NewEvent(fmt.Sprintf("acc-%d", j), "Deposited", 1, nil, []byte(fmt.Sprintf(`{"n":%d}`, i)))
			body := ev.Encode()
			id := object.Hash(object.KindEvent, body)
			ids = append(ids, id)
			wants = append(wants, want{p.AddPackedEvent(id, body, ev.Data), id, object.KindEvent})
		}
		c := &object.Commit{Events: ids, Time: time.Unix(int64(i), 0).UTC(), Offset: uint64(3 * (i + 1))}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		body := c.Encode()
		parent = object.Hash(object.KindCommit, body)
		wants = append(wants, want{p.AddCommit(parent, c, body), parent, object.KindCommit})
		p.AddRecord(RecordBase, []byte("refs/heads/main"), parent[:])
	}
	entries, err := ParseEntries(p.Bytes())
	require.NoError(t, err)
	packed := 0
	for _, w := range wants[1:] {
		k := entries[w.slot].Kind
		assert.Contains(t, []uint8{EntryPackedEvent, EntryPackedCommit}, k)
		if k == EntryPackedCommit {
			packed++
			// The first leaves out its events only; the others their parent too.
			flags := entries[w.slot].Body[0]
			assert.Equal(t, packedEventsPrev != 0, flags&packedEventsPrev != 0)
			assert.Equal(t, packed > 1, flags&packedParentPrev != 0)
		}
	}
	// Newest first, as a log reads them, then the rest.
	f := NewFrame(entries, len(p.Bytes()))
	for i := len(wants) - 1; i >= 0; i-- {
		o, err := f.Object(wants[i].slot)
		require.NoError(t, err)
		assert.Equal(t, wants[i].id, o.ID)
		assert.Equal(t, wants[i].kind, o.Kind)
	}
	resolved, err := ResolvePacked(entries)
	require.NoError(t, err)
	for _, w := range wants {
		id, err := resolved[w.slot].ObjectID()
		require.NoError(t, err)
		assert.Equal(t, w.id, id)
	}
}

// An event whose data was damaged reads as damaged, never as another
// event: its data ID is rebuilt from the data, so its hash changes.
func TestPackedEventWithDamagedData(t *testing.T) {
	var p Payload
	ev := object.NewEvent("acc-1", "Deposited", 1, nil, []byte(`{"n":1}`))
	body := ev.Encode()
	id := object.Hash(object.KindEvent, body)
	slot := p.AddPackedEvent(id, body, ev.Data)
	payload := p.Bytes()
	payload[len(payload)-2] = '2' // {"n":2}
	entries, err := ParseEntries(payload)
	require.NoError(t, err)
	o, err := NewFrame(entries, len(payload)).Object(slot)
	require.NoError(t, err)
	assert.NotEqual(t, id, o.ID)
}

// A packed commit that cannot be rebuilt is damaged alone: the entries
// before it, and a commit of the frame that does not lean on it, still
// read, in any order.
func TestBadPackedCommitIsDamagedAlone(t *testing.T) {
	var p Payload
	tree := (&object.Tree{Leaf: true}).Encode()
	treeSlot := p.AddObject(object.KindTree, tree)
	ev := object.NewEvent("s", "T", 1, nil, []byte(`{}`))
	body := ev.Encode()
	eid := object.Hash(object.KindEvent, body)
	evSlot := p.AddPackedEvent(eid, body, ev.Data)
	c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(1, 0), Offset: 1}
	cb := c.Encode()
	cid := object.Hash(object.KindCommit, cb)
	goodSlot := p.AddCommit(cid, c, cb)
	// Nine events left out, with two entries before it.
	badSlot := p.add(EntryPackedCommit, []byte{packedEventsPrev}, append([]byte{1, 0}, 9))
	// Unknown flag bits.
	oddSlot := p.add(EntryPackedCommit, []byte{0x80}, cb)
	entries, err := ParseEntries(p.Bytes())
	require.NoError(t, err)
	f := NewFrame(entries, len(p.Bytes()))
	_, err = f.Object(badSlot)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = f.Object(oddSlot)
	require.ErrorIs(t, err, ErrCorrupt)
	for slot, id := range map[int]object.ID{treeSlot: object.Hash(object.KindTree, tree), evSlot: eid, goodSlot: cid} {
		o, err := f.Object(slot)
		require.NoError(t, err)
		assert.Equal(t, id, o.ID)
	}
}

// A frame of packed entries counts, for the cache, the bodies they are
// rebuilt to when read: at least what the same objects whole would.
func TestPackedFrameCountsItsRebuiltBodies(t *testing.T) {
	var packed, whole Payload
	var parent object.ID
	for i := range 50 {
		ev := object.NewEvent("acc-1", "Deposited", 1, nil, []byte(fmt.Sprintf(`{"n":%d}`, i)))
		body := ev.Encode()
		id := object.Hash(object.KindEvent, body)
		packed.AddPackedEvent(id, body, ev.Data)
		whole.AddEvent(body, ev.Data)
		c := &object.Commit{Events: []object.ID{id}, Offset: uint64(i + 1)}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		cb := c.Encode()
		parent = object.Hash(object.KindCommit, cb)
		packed.AddCommit(parent, c, cb)
		whole.AddObject(object.KindCommit, cb)
	}
	pe, err := ParseEntries(packed.Bytes())
	require.NoError(t, err)
	we, err := ParseEntries(whole.Bytes())
	require.NoError(t, err)
	pf, wf := NewFrame(pe, len(packed.Bytes())), NewFrame(we, len(whole.Bytes()))
	assert.Less(t, len(packed.Bytes()), len(whole.Bytes()))
	assert.GreaterOrEqual(t, pf.size.Load(), wf.size.Load())
}

// A payload appended to another reads back as one: its entries keep
// their objects, and the entries after it pack against its last commit
// and events, or against the first payload's commit when it holds none.
func TestPayloadAppend(t *testing.T) {
	commit := func(p *Payload, parent object.ID, i int) (object.ID, int) {
		ev := object.NewEvent("acc-1", "Deposited", 1, nil, fmt.Appendf(nil, `{"n":%d}`, i))
		body := ev.Encode()
		eid := object.Hash(object.KindEvent, body)
		p.AddPackedEvent(eid, body, ev.Data)
		c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0).UTC(), Offset: uint64(i + 1)}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		cb := c.Encode()
		id := object.Hash(object.KindCommit, cb)
		return id, p.AddCommit(id, c, cb)
	}
	for _, qCommits := range []bool{false, true} {
		t.Run(fmt.Sprintf("commits=%v", qCommits), func(t *testing.T) {
			var p, q Payload
			first, _ := commit(&p, object.ZeroID, 0)
			tree := (&object.Tree{Leaf: true}).Encode()
			treeSlot := q.AddObject(object.KindTree, tree)
			last := first
			if qCommits {
				last, _ = commit(&q, object.ZeroID, 1)
			}
			base := p.Append(&q)
			require.Equal(t, 2, base, "q's first entry follows p's two")
			next, slot := commit(&p, last, 2)
			entries, err := ParseEntries(p.Bytes())
			require.NoError(t, err)
			require.Len(t, entries, p.Len())
			assert.Equal(t, EntryPackedCommit, entries[slot].Kind)
			assert.Equal(t, byte(packedParentPrev|packedEventsPrev), entries[slot].Body[0], "the commit after leaves out its parent and its event")
			f := NewFrame(entries, p.Size())
			o, err := f.Object(base + treeSlot)
			require.NoError(t, err)
			assert.Equal(t, object.Hash(object.KindTree, tree), o.ID)
			o, err = f.Object(slot)
			require.NoError(t, err)
			assert.Equal(t, next, o.ID)
		})
	}
}

// A payload of packed events only, appended, goes on the run of events
// the first payload ended with: a commit after names them all and still
// leaves them out.
func TestPayloadAppendEventsOnly(t *testing.T) {
	var p, q Payload
	var ids []object.ID
	for i, to := range []*Payload{&p, &p, &q, &q} {
		ev := object.NewEvent("acc-1", "Deposited", 1, nil, fmt.Appendf(nil, `{"n":%d}`, i))
		body := ev.Encode()
		id := object.Hash(object.KindEvent, body)
		to.AddPackedEvent(id, body, ev.Data)
		ids = append(ids, id)
	}
	p.Append(&q)
	c := &object.Commit{Events: ids, Time: time.Unix(1, 0).UTC(), Offset: 4}
	cb := c.Encode()
	cid := object.Hash(object.KindCommit, cb)
	slot := p.AddCommit(cid, c, cb)
	entries, err := ParseEntries(p.Bytes())
	require.NoError(t, err)
	require.Equal(t, EntryPackedCommit, entries[slot].Kind)
	assert.Equal(t, byte(packedEventsPrev), entries[slot].Body[0], "the commit leaves out its four events")
	o, err := NewFrame(entries, p.Size()).Object(slot)
	require.NoError(t, err)
	assert.Equal(t, cid, o.ID)
}
