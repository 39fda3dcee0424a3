package pack

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// chainedFrame builds a pack frame of five one-event commits, each the
// parent of the next, and returns it with its objects' IDs by slot.
func chainedFrame(t *testing.T) (*Frame, []object.ID) {
	t.Helper()
	w := NewPackWriter()
	var want []object.ID
	var parent object.ID
	for i := range 5 {
		ev := object.NewEvent("s", "T", 1, map[string]string{"time": "2026-01-01T00:00:00Z"}, []byte(fmt.Sprintf(`{"n":%d}`, i)))
		w.AddEvent(ev.ID(), ev.Encode(), ev.Data)
		c := object.Commit{Events: []object.ID{ev.ID()}, Offset: uint64(i + 1), Time: time.Unix(int64(i), 0).UTC()}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		w.AddCommit(c.ID(), &c)
		want = append(want, ev.ID(), c.ID())
		parent = c.ID()
	}
	data, _ := w.Finish()
	frame := data[len(PackMagic):]
	h, err := parseFrameHeader(frame)
	require.NoError(t, err)
	payload, err := h.decodePayload(frame[FrameHeaderSize : FrameHeaderSize+h.size])
	require.NoError(t, err)
	entries, err := ParseEntries(payload)
	require.NoError(t, err)
	require.Len(t, entries, len(want))
	return NewFrame(entries, len(payload)), want
}

// A caller that knows a packed commit's ID and parent has it rebuilt
// alone; a wrong parent, or a wrong ID, falls back to resolving the frame
// and still gives the commit the slot holds.
func TestObjectAfterRebuildsACommitAlone(t *testing.T) {
	f, want := chainedFrame(t)
	o, err := f.ObjectAfter(7, want[7], want[5]) // the fourth commit, after the third
	require.NoError(t, err)
	assert.Equal(t, want[7], o.ID)
	assert.Zero(t, f.resolved, "the commit is rebuilt alone")
	o, err = f.Object(7)
	require.NoError(t, err)
	assert.Equal(t, want[7], o.ID)
	assert.Zero(t, f.resolved, "and kept")

	f, want = chainedFrame(t)
	o, err = f.ObjectAfter(7, want[7], want[3]) // a wrong parent
	require.NoError(t, err)
	assert.Equal(t, want[7], o.ID)
	assert.Equal(t, 8, f.resolved)

	f, want = chainedFrame(t)
	o, err = f.ObjectAfter(7, want[9], want[5]) // the ID of another commit
	require.NoError(t, err)
	assert.Equal(t, want[7], o.ID, "the slot's own commit, which the store then refuses as not the one asked for")
	assert.Equal(t, 8, f.resolved)
	for slot, id := range want {
		o, err := f.Object(slot)
		require.NoError(t, err)
		assert.Equal(t, id, o.ID, "slot %d", slot)
	}
}

// TestFrameResolvesAnEventAlone: reading an event of a pack frame whose
// commits are chained hashes that event only; reading a commit resolves
// the frame whole. Both give the objects a whole resolution gives.
func TestFrameResolvesAnEventAlone(t *testing.T) {
	f, want := chainedFrame(t)
	o, err := f.Object(4) // the third event
	require.NoError(t, err)
	assert.Equal(t, want[4], o.ID)
	assert.Zero(t, f.resolved, "an event is resolved alone")

	o, err = f.Object(7) // the fourth commit
	require.NoError(t, err)
	assert.Equal(t, want[7], o.ID)
	assert.Equal(t, 8, f.resolved, "a packed commit resolves the commits up to it")
	for slot, id := range want {
		o, err := f.Object(slot)
		require.NoError(t, err)
		assert.Equal(t, id, o.ID, "slot %d", slot)
	}
}

// A pack's frames, compressed on other goroutines as the writer goes on,
// lie in the order they were closed, where the index says, each the
// bytes compressing it alone gives: the same pack as compressing each in
// turn.
func TestPackWriterLaysFramesOutInOrder(t *testing.T) {
	build := func(ahead int) ([]byte, []packFrame) {
		defer func(a int) { packAhead = a }(packAhead)
		packAhead = ahead
		w := NewPackWriter()
		var parent object.ID
		for i := range 3000 {
			ev := object.NewEvent(fmt.Sprintf("s%d", i%7), "T", 1, nil, []byte(fmt.Sprintf(`{"n":%d,"pad":"%0*d"}`, i, i%50, i)))
			w.AddEvent(ev.ID(), ev.Encode(), ev.Data)
			c := object.Commit{Events: []object.ID{ev.ID()}, Offset: uint64(i + 1), Time: time.Unix(int64(i), 0).UTC()}
			if !parent.IsZero() {
				c.Parents = []object.ID{parent}
			}
			w.AddCommit(c.ID(), &c)
			parent = c.ID()
		}
		data, _ := w.Finish()
		return data, w.frames
	}
	data, frames := build(8)
	require.Greater(t, len(frames), 20)
	end := len(PackMagic)
	for i, f := range frames {
		require.Equal(t, end, int(f.off), "frame %d starts where the one before ended", i)
		h, err := parseFrameHeader(data[f.off:])
		require.NoError(t, err)
		end = int(f.off) + FrameHeaderSize + int(h.size)
		payload, err := h.decodePayload(data[int(f.off)+FrameHeaderSize : end])
		require.NoError(t, err)
		require.Equal(t, data[f.off:end], AppendFrame(nil, payload, true), "frame %d", i)
		if i > 0 {
			require.Greater(t, f.first, frames[i-1].first)
		}
	}
	require.Equal(t, len(data), end)
	one, oneFrames := build(1)
	require.Equal(t, one, data)
	require.Equal(t, oneFrames, frames)
}
