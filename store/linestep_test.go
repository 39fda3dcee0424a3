package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// A walk down a line with ReadLineStep reads a frame's commits with one
// index lookup, not one per commit; PrefetchLine, called as the walk
// enters a frame, has the frame the line goes on to decoded on another
// goroutine before the walk gets there; and DropFrame takes the frame a
// walk leaves out of the frame cache. The commits read are the ones Get
// reads.
func TestLineStepWalkReadsByFrames(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	var ids []object.ID // oldest first
	const frames, perFrame = 5, 40
	for f := range frames {
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			old, _, _ := tx.Resolve("refs/heads/main")
			head := old
			for i := range perFrame {
				ev := object.NewEvent("s", "T", 1, nil, fmt.Appendf(nil, `{"f":%d,"i":%d}`, f, i))
				c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(int64(len(ids)), 0).UTC(), Offset: uint64(len(ids) + 1)}
				if !head.IsZero() {
					c.Parents = []object.ID{head}
				}
				head = tx.PutCommit(c)
				ids = append(ids, head)
			}
			return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: head, Time: time.Unix(1, 0)})
		}))
	}
	frameOf := func(id object.ID) pack.FrameKey {
		loc, ok := s.lookup(id)
		require.True(t, ok)
		return pack.FrameKey{Seg: loc.Seg, Off: loc.Off}
	}
	for f := 1; f < frames; f++ {
		require.NotEqual(t, frameOf(ids[f*perFrame-1]), frameOf(ids[f*perFrame]), "one frame per transaction")
	}
	s.cache.Clear()

	lookups, counting := 0, false
	lookupSeen = func(object.ID) {
		if counting {
			lookups++
		}
	}
	done := make(chan pack.Location, frames)
	prefetched = func(loc pack.Location) { done <- loc }
	defer func() { lookupSeen, prefetched = nil, nil }()

	var step, last *LineStep
	for i := len(ids) - 1; i >= 0; i-- {
		var err error
		counting = true
		step, err = s.ReadLineStep(ids[i], step)
		counting = false
		require.NoError(t, err)
		_, body, _, err := s.get(ids[i])
		require.NoError(t, err)
		c, err := object.DecodeCommit(body)
		require.NoError(t, err)
		require.Equal(t, c, step.Commit)
		if last != nil && !last.SameFrame(step) {
			left := frameOf(ids[i+1])
			s.DropFrame(last)
			_, cached := s.cache.Get(left)
			require.False(t, cached, "the frame left is out of the cache")
		}
		if i%perFrame == perFrame-1 && i >= perFrame { // entering a frame with one before it
			counting = true
			s.PrefetchLine(step)
			counting = false
			select {
			case loc := <-done:
				f, ok := s.cache.Get(pack.FrameKey{Seg: loc.Seg, Off: loc.Off})
				require.True(t, ok, "the frame prefetched is cached")
				require.Equal(t, frameOf(ids[i-perFrame]), pack.FrameKey{Seg: loc.Seg, Off: loc.Off}, "the frame the line goes on to")
				n, total := f.Decompressed()
				require.Equal(t, total, n, "decoded whole")
			case <-time.After(time.Minute):
				t.Fatal("no frame prefetched")
			}
		}
		last = step
	}
	// One lookup for the tip, then, per frame the walk goes into, the
	// prefetch's and the walk's own (the hint ends at a frame's start).
	require.LessOrEqual(t, lookups, 1+2*(frames-1))
}
