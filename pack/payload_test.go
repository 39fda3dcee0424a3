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
