package pack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// batchPayload builds a payload as an import's batch is built: commits of
// packed events and packed commits, then snapshot tree nodes, large
// enough that its frame is compressed in several zstd frames. It returns
// the IDs by slot (ZeroID for a record) and the slot of the first tree.
func batchPayload(t *testing.T, commits int) (*Payload, []object.ID, int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var p Payload
	var ids []object.ID
	var parent object.ID
	for i := range commits {
		ev := object.NewEvent(fmt.Sprintf("acc-%d", rng.IntN(500)), "Deposited", 1, nil, []byte(fmt.Sprintf(`{"amount":%d,"note":"%x"}`, rng.IntN(1e6), rng.Uint64())))
		body := ev.Encode()
		eid := object.Hash(object.KindEvent, body)
		require.Equal(t, len(ids), p.AddPackedEvent(eid, body, ev.Data))
		ids = append(ids, eid)
		c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0).UTC(), Offset: uint64(i + 1)}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		cb := c.Encode()
		parent = object.Hash(object.KindCommit, cb)
		require.Equal(t, len(ids), p.AddCommit(parent, c, cb))
		ids = append(ids, parent)
	}
	p.AddRecord(RecordBase, []byte("refs/heads/main"), parent[:])
	ids = append(ids, object.ZeroID)
	firstTree := len(ids)
	for i := range commits / 4 {
		var tr object.Tree
		tr.Leaf = true
		for j := range 8 {
			state := []byte(fmt.Sprintf(`{"balance":%d}`, rng.IntN(1e9)))
			tr.Entries = append(tr.Entries, object.TreeEntry{Stream: fmt.Sprintf("acc-%04d-%d", i, j), Version: uint64(j + 1), State: state, StateID: object.Hash(object.KindBlob, state)})
		}
		body := tr.Encode()
		p.AddObject(object.KindTree, body)
		ids = append(ids, object.Hash(object.KindTree, body))
	}
	return &p, ids, firstTree
}

// lazyOf returns the frame a reader makes of a compressed frame.
func lazyOf(t *testing.T, frame []byte) *Frame {
	t.Helper()
	h, err := parseFrameHeader(frame)
	require.NoError(t, err)
	require.NotZero(t, h.rawLen, "compressed")
	parts, err := zstdParts(frame[FrameHeaderSize:])
	require.NoError(t, err)
	return NewLazyFrame(parts, int(h.rawLen), "test frame")
}

// A frame decompresses its zstd frames only as far as the entry read
// needs, and reads every object as a frame decoded whole does: with its
// parts cut at the trees (an import's batch), where a commit is read
// without its trees, and cut anywhere (a large payload compressed in
// parts at once), where an entry may start in one part and end in the
// next.
func TestLazyFrameDecodesAsFarAsNeeded(t *testing.T) {
	p, ids, firstTree := batchPayload(t, 3000)
	require.Equal(t, firstTree, slotAtOffset(t, p.Bytes(), p.TreesAt()), "TreesAt is the first tree's entry")
	for _, split := range []bool{true, false} {
		var frame []byte
		if split {
			frame = AppendFrameSplit(nil, p.Bytes(), p.TreesAt())
		} else {
			frame = AppendFrame(nil, p.Bytes(), false)
		}
		f := lazyOf(t, frame)
		require.Greater(t, len(f.parts), 1, "several zstd frames")
		// A commit read resolves the commits before it in order.
		last := firstTree - 2
		o, err := f.Object(last)
		require.NoError(t, err)
		assert.Equal(t, ids[last], o.ID)
		if split {
			assert.Less(t, f.rawDone, p.TreesAt()+1, "the trees are left compressed")
			assert.NotEmpty(t, f.parts)
		}
		n, err := f.Len()
		require.NoError(t, err)
		assert.Equal(t, len(ids), n)
		assert.Equal(t, len(p.Bytes()), f.rawDone)
		for slot, id := range ids {
			o, err := f.Object(slot)
			require.NoError(t, err, "slot %d", slot)
			assert.Equal(t, id, o.ID, "slot %d", slot)
		}
		_, err = f.Object(len(ids))
		require.ErrorIs(t, err, ErrCorrupt, "past the last entry")

		// Read from the end first: the same objects.
		f = lazyOf(t, frame)
		for slot := len(ids) - 1; slot >= 0; slot-- {
			o, err := f.Object(slot)
			require.NoError(t, err, "slot %d", slot)
			assert.Equal(t, ids[slot], o.ID, "slot %d", slot)
		}
	}
}

// slotAtOffset returns the entry that starts at byte off of a payload.
func slotAtOffset(t *testing.T, payload []byte, off int) int {
	t.Helper()
	entries, err := ParseEntries(payload)
	require.NoError(t, err)
	at := 0
	for i, e := range entries {
		if at == off {
			return i
		}
		at += 1 + len(binary.AppendUvarint(nil, uint64(len(e.Body)))) + len(e.Body)
	}
	t.Fatalf("no entry starts at %d", off)
	return 0
}

// A frame whose parts do not add up to the length its header gives is
// damaged where they run out, never read as shorter; the entries before
// read as they are.
func TestLazyFrameShortOrLongParts(t *testing.T) {
	p, ids, _ := batchPayload(t, 3000)
	frame := AppendFrameSplit(nil, p.Bytes(), p.TreesAt())
	whole := lazyOf(t, frame)
	require.Greater(t, len(whole.parts), 2)

	short := NewLazyFrame(whole.parts[:len(whole.parts)-1], whole.rawLen, "test frame")
	o, err := short.Object(0)
	require.NoError(t, err)
	assert.Equal(t, ids[0], o.ID)
	_, err = short.Object(len(ids) - 1)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "test frame")
	_, err = short.Len()
	require.ErrorIs(t, err, ErrCorrupt)

	long := NewLazyFrame(append(append([]zstdPart{}, whole.parts...), whole.parts[0]), whole.rawLen, "test frame")
	_, err = long.Len()
	require.ErrorIs(t, err, ErrCorrupt)

	garbage := NewLazyFrame([]zstdPart{{b: []byte("not zstd at all"), size: -1}}, 100, "test frame")
	_, err = garbage.Object(0)
	require.ErrorIs(t, err, ErrCorrupt)
}

// The zstd layout is read from the headers alone: every part ends where
// the next starts, with the size it decompresses to; bytes it does not
// follow fail, and the reader then decodes the frame whole.
func TestZstdParts(t *testing.T) {
	p, _, _ := batchPayload(t, 3000)
	frame := AppendFrameSplit(nil, p.Bytes(), p.TreesAt())
	parts, err := zstdParts(frame[FrameHeaderSize:])
	require.NoError(t, err)
	total, sizes := 0, 0
	for _, part := range parts {
		out, err := zstdDecoder().DecodeAll(part.b, nil)
		require.NoError(t, err)
		if part.size >= 0 {
			assert.Equal(t, len(out), part.size)
		}
		total += len(part.b)
		sizes += len(out)
	}
	assert.Equal(t, len(frame)-FrameHeaderSize, total)
	assert.Equal(t, len(p.Bytes()), sizes)

	for _, bad := range [][]byte{[]byte("abc"), []byte("\x28\xb5\x2f\xfd"), append([]byte("\x28\xb5\x2f\xfd\x08"), make([]byte, 10)...), frame[FrameHeaderSize : len(frame)-1]} {
		_, err := zstdParts(bad)
		assert.Error(t, err, "%x", bad)
	}
}

// A cache counts what a lazy frame holds as it is read, not only what it
// held when put (its compressed bytes): read whole, it counts about what
// a frame decoded at once does, and frames past the budget are dropped.
func TestFrameCacheCountsWhatLazyFramesGrowTo(t *testing.T) {
	p, ids, _ := batchPayload(t, 3000)
	frame := AppendFrameSplit(nil, p.Bytes(), p.TreesAt())
	entries, err := ParseEntries(p.Bytes())
	require.NoError(t, err)
	eager := NewFrame(entries, len(p.Bytes())).size.Load()

	c := NewFrameCache(1 << 30)
	f := lazyOf(t, frame)
	c.Put(FrameKey{Off: 1}, f)
	put := c.used
	assert.Less(t, put, len(p.Bytes())/2, "compressed when put")
	_, err = f.Len()
	require.NoError(t, err)
	assert.InDelta(t, float64(eager), float64(c.used), float64(eager)/4, "read whole: counted as a frame decoded at once")
	assert.Nil(t, f.parts, "the compressed parts are let go")

	// A budget of about one frame read whole: the second, read, drops
	// the first.
	c = NewFrameCache(int(eager) + int(eager)/2)
	first, second := lazyOf(t, frame), lazyOf(t, frame)
	c.Put(FrameKey{Off: 1}, first)
	_, err = first.Object(len(ids) - 1)
	require.NoError(t, err)
	c.Put(FrameKey{Off: 2}, second)
	_, err = second.Object(len(ids) - 1)
	require.NoError(t, err)
	_, ok := c.Get(FrameKey{Off: 1})
	assert.False(t, ok, "dropped once the second grew")
	assert.LessOrEqual(t, c.used, c.budget)

	// A frame a reader drops is gone and counts no more, even as it
	// grows after; dropping what is not there does nothing.
	c = NewFrameCache(1 << 30)
	third := lazyOf(t, frame)
	c.Put(FrameKey{Off: 3}, third)
	c.Put(FrameKey{Off: 4}, lazyOf(t, frame))
	kept := c.used / 2
	c.Drop(FrameKey{Off: 3})
	_, ok = c.Get(FrameKey{Off: 3})
	assert.False(t, ok, "dropped")
	assert.Equal(t, kept, c.used)
	_, err = third.Len()
	require.NoError(t, err)
	assert.Equal(t, kept, c.used, "its growth not counted")
	c.Drop(FrameKey{Off: 3})
	assert.Equal(t, kept, c.used)
	_, ok = c.Get(FrameKey{Off: 4})
	assert.True(t, ok)

	// A frame demoted is the first to go when room is needed, before
	// one used longer ago; while there is room, it stays.
	c = NewFrameCache(2*int(eager) + int(eager)/2)
	for k := range 2 {
		f := lazyOf(t, frame)
		c.Put(FrameKey{Off: uint32(10 + k)}, f)
		_, err = f.Len()
		require.NoError(t, err)
	}
	c.Demote(FrameKey{Off: 11})
	c.Demote(FrameKey{Off: 99}) // not there: nothing
	_, ok = c.Get(FrameKey{Off: 11})
	assert.True(t, ok, "kept while there is room")
	c.Demote(FrameKey{Off: 11})
	third = lazyOf(t, frame)
	c.Put(FrameKey{Off: 12}, third)
	_, err = third.Len()
	require.NoError(t, err)
	_, ok = c.Get(FrameKey{Off: 11})
	assert.False(t, ok, "the demoted frame went")
	_, ok = c.Get(FrameKey{Off: 10})
	assert.True(t, ok, "the frame used longer ago stayed")
}

// A frame whose header gives a length but that holds no zstd frame at
// all is damaged, not empty.
func TestLazyFrameWithNoParts(t *testing.T) {
	f := NewLazyFrame(nil, 100, "test frame")
	_, err := f.Len()
	require.ErrorIs(t, err, ErrCorrupt)
	_, _, err = f.Kind(0)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = f.Object(0)
	require.ErrorIs(t, err, ErrCorrupt)
}
