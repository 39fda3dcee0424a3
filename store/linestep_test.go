package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// lineOfFrames commits frames transactions of perFrame one-event commits
// to main, a frame each, and returns the commits, oldest first.
func lineOfFrames(t *testing.T, s *Store, frames, perFrame int) []object.ID {
	t.Helper()
	var ids []object.ID
	for f := range frames {
		require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
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
	return ids
}

// A walk down a line with ReadLineStep reads a frame's commits with one
// index lookup, not one per commit; PrefetchLine, called as the walk
// enters a frame, has the frame the line goes on to decoded on another
// goroutine before the walk gets there; and LeaveFrame takes the frame a
// walk leaves out of the frame cache (with DropLeft). The commits read are the ones Get
// reads.
func TestLineStepWalkReadsByFrames(t *testing.T) {
	s, _ := newStore(t, Options{DropLeft: true})
	const frames, perFrame = 5, 40
	ids := lineOfFrames(t, s, frames, perFrame)
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
			s.LeaveFrame(last)
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

// ReadCommitWithEvents reads a commit and its events, with their data,
// as Get reads each, with one index lookup when the events lie just
// before the commit, from segments and from the pack after gc; an event
// another commit wrote first is read through the index. CacheUse counts
// the frames read, and LeaveFrame lets them go (with DropLeft).
func TestReadCommitWithEvents(t *testing.T) {
	s, _ := newStore(t, Options{DropLeft: true})
	ctx := context.Background()
	var ids, parents []object.ID
	var first object.ID // an event of the first commit, named again by the last
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		old, _, _ := tx.Resolve("refs/heads/main")
		head := old
		for i := range 60 {
			var events []object.ID
			if i == 59 {
				events = append(events, first)
			}
			for j := range 1 + i%3 {
				events = append(events, tx.PutEvent(object.NewEvent(fmt.Sprintf("s-%d", j), "T", 1, nil, fmt.Appendf(nil, `{"i":%d,"j":%d}`, i, j))))
			}
			if first.IsZero() {
				first = events[0]
			}
			c := &object.Commit{Events: events, Time: time.Unix(int64(i), 0).UTC(), Offset: uint64(len(ids) + 1)}
			if !head.IsZero() {
				c.Parents = []object.ID{head}
			}
			parents = append(parents, head)
			head = tx.PutCommit(c)
			ids = append(ids, head)
		}
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: head, Time: time.Unix(1, 0)})
	}))
	check := func(name string) {
		for i, id := range ids {
			for _, parent := range []object.ID{object.ZeroID, parents[i]} {
				lookups := 0
				lookupSeen = func(object.ID) { lookups++ }
				step, err := s.ReadCommitWithEvents(id, parent)
				lookupSeen = nil
				require.NoError(t, err, name)
				c, err := s.Commit(id)
				require.NoError(t, err)
				require.Equal(t, c, step.Commit, name)
				require.Len(t, step.Events, len(c.Events))
				for k, eid := range c.Events {
					_, body, data, err := s.Get(eid)
					require.NoError(t, err)
					require.Equal(t, body, step.Events[k], "%s: commit %d event %d", name, i, k)
					require.Equal(t, data, step.Data[k], "%s: commit %d event %d", name, i, k)
				}
				if name == "segments" {
					want := 1
					if i == 59 {
						want = 2 // the first commit's event, read through the index
					}
					require.Equal(t, want, lookups, "%s: commit %d", name, i)
				}
			}
		}
		_, err := s.ReadCommitWithEvents(first, object.ZeroID)
		require.ErrorIs(t, err, ErrNotFound, "an event is not a commit")

		s.cache.Clear()
		step, err := s.ReadCommitWithEvents(ids[30], object.ZeroID)
		require.NoError(t, err)
		frames, _ := s.CacheUse()
		require.Equal(t, 1, frames, name)
		s.LeaveFrame(step)
		frames, bytes := s.CacheUse()
		require.Zero(t, frames, name)
		require.Zero(t, bytes, name)
	}
	check("segments")
	_, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	check("pack")
}

// Without DropLeft, a frame a walk leaves stays cached while there is
// room (it goes first when there is not: pack.FrameCache.Demote).
func TestLeaveFrameKeepsWhileThereIsRoom(t *testing.T) {
	s, _ := newStore(t, Options{})
	id := appendCommit(t, s, 1)
	s.cache.Clear()
	step, err := s.ReadCommitWithEvents(id, object.ZeroID)
	require.NoError(t, err)
	s.LeaveFrame(step)
	frames, _ := s.CacheUse()
	require.Equal(t, 1, frames)
}

// gc reads the history it keeps by frames: the walk of what is reachable
// finds each commit's parent where its frame guesses it, and the pack's
// writing reads each commit after the one before it and its events from
// just before it, so a line of commits written together costs a few index
// lookups, not three an object (the pack is the same).
func TestGCReadsHistoryByFrames(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	n, events := 0, 0
	for range 3 {
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			old, _, _ := tx.Resolve("refs/heads/main")
			head := old
			for i := range 100 {
				var evs []object.ID
				for j := range 1 + i%3 {
					evs = append(evs, tx.PutEvent(object.NewEvent(fmt.Sprintf("s-%d", j), "T", 1, nil, fmt.Appendf(nil, `{"n":%d,"j":%d}`, n, j))))
				}
				n, events = n+1, events+len(evs)
				c := &object.Commit{Events: evs, Time: time.Unix(int64(n), 0).UTC(), Offset: uint64(n)}
				if !head.IsZero() {
					c.Parents = []object.ID{head}
				}
				head = tx.PutCommit(c)
			}
			return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: head, Time: time.Unix(1, 0)})
		}))
	}
	lookups := 0
	lookupSeen = func(object.ID) { lookups++ }
	defer func() { lookupSeen = nil }()
	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	require.Equal(t, n+events, st.Objects)
	assert.Less(t, lookups, 40, "index lookups for 300 commits and their events in 3 frames")
}

// A commit that names another kind of object as an event is damage gc
// reports naming the commit, as before it read history by frames (a
// review found the commit left out of the message).
func TestGCNamesTheCommitThatNamesANonEvent(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	var bad, other object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		first := tx.PutCommit(&object.Commit{Events: []object.ID{tx.PutEvent(object.NewEvent("s", "T", 1, nil, []byte(`{}`)))}, Time: time.Unix(1, 0).UTC(), Offset: 1})
		other = first
		bad = tx.PutCommit(&object.Commit{Parents: []object.ID{first}, Events: []object.ID{first}, Time: time.Unix(2, 0).UTC(), Offset: 2})
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", New: bad, Time: time.Unix(1, 0)})
	}))
	_, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), fmt.Sprintf("commit %s names %s, a commit, as an event", bad.Short(), other.Short()))
}

// An event a reachable commit names that is not stored fails gc closed,
// as corruption to be looked at with fsck, as a missing commit does.
func TestGCFailsClosedOnAMissingEvent(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	var c object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		c = tx.PutCommit(&object.Commit{Events: []object.ID{{7, 7, 7}}, Time: time.Unix(1, 0).UTC(), Offset: 1})
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", New: c, Time: time.Unix(1, 0)})
	}))
	_, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "gc: an event of reachable commit "+c.Short()+" cannot be found")
	assert.Contains(t, err.Error(), "run fsck")
}

// PrefetchFold, called as a fold enters a frame, finds the first commit
// ahead that lies in another frame (however many of the frame's commits
// come first), and decodes its frame, commits and events, on another
// goroutine; when every commit ahead lies in the step's frame, it starts
// nothing.
func TestPrefetchFoldFindsTheNextFrame(t *testing.T) {
	s, _ := newStore(t, Options{DropLeft: true})
	ctx := context.Background()
	var ids []object.ID
	for _, n := range []int{1, 37, 1, 200, 5} { // commits a frame
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			old, _, _ := tx.Resolve("refs/heads/main")
			head := old
			for range n {
				ev := tx.PutEvent(object.NewEvent("s", "T", 1, nil, fmt.Appendf(nil, `{"n":%d}`, len(ids))))
				c := &object.Commit{Events: []object.ID{ev}, Time: time.Unix(int64(len(ids)), 0).UTC(), Offset: uint64(len(ids) + 1)}
				if !head.IsZero() {
					c.Parents = []object.ID{head}
				}
				head = tx.PutCommit(c)
				ids = append(ids, head)
			}
			return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: head, Time: time.Unix(1, 0)})
		}))
	}
	done := make(chan pack.Location, 8)
	prefetched = func(loc pack.Location) { done <- loc }
	defer func() { prefetched = nil }()
	frameOf := func(id object.ID) pack.FrameKey {
		loc, ok := s.lookup(id)
		require.True(t, ok)
		return pack.FrameKey{Seg: loc.Seg, Off: loc.Off}
	}
	var step, last *FoldStep
	prefetches := 0
	for i, id := range ids {
		var err error
		last = step
		step, err = s.ReadFoldStep(id, step)
		require.NoError(t, err)
		if last != nil && last.SameFrame(step) {
			continue
		}
		s.mu.RLock()
		loc, ok := s.prefetchFold(step, ids[i+1:])
		s.mu.RUnlock()
		j := i + 1
		for j < len(ids) && frameOf(ids[j]) == frameOf(id) {
			j++
		}
		if j == len(ids) {
			require.False(t, ok, "the fold ends in this frame")
			continue
		}
		require.True(t, ok, "commit %d", i)
		require.Equal(t, frameOf(ids[j]), pack.FrameKey{Seg: loc.Seg, Off: loc.Off}, "commit %d: the frame of commit %d", i, j)
		require.Equal(t, loc, <-done)
		f, cached := s.cache.Get(pack.FrameKey{Seg: loc.Seg, Off: loc.Off})
		require.True(t, cached)
		n, total := f.Decompressed()
		require.Equal(t, total, n)
		prefetches++
	}
	require.Equal(t, 4, prefetches)
}

// A step read before the store rebuilt its tables (another process's gc,
// seen through a Refresh by another goroutine of a long-lived process)
// still reads its events, and the walk goes on from it: where it lay was
// gone, and ReadLineEvents said "segment N is missing", matching
// ErrCorrupt, on a sound repository (a helper's audit).
func TestLineStepsReadAfterAnotherProcessesGC(t *testing.T) {
	s, dir := newStore(t, Options{})
	ctx := context.Background()
	ids := lineOfFrames(t, s, 3, 10)
	for round := range 2 { // from segments to a pack, then from a pack to the next
		k := len(ids) - 1 - round
		step, err := s.ReadLineStep(ids[k], nil)
		require.NoError(t, err)
		fold, err := s.ReadFoldStep(ids[5], nil)
		require.NoError(t, err)

		other, err := Open(dir, Options{})
		require.NoError(t, err)
		_, err = other.GC(ctx, GCOptions{})
		require.NoError(t, err)
		require.NoError(t, other.Close())
		require.NoError(t, s.Refresh())

		require.NoError(t, s.ReadLineEvents(step), "round %d", round)
		require.Len(t, step.Events, 1)
		_, body, _, err := s.Get(step.Commit.Events[0])
		require.NoError(t, err)
		assert.Equal(t, body, step.Events[0])
		next, err := s.ReadLineStep(ids[k-1], step)
		require.NoError(t, err)
		assert.Equal(t, ids[k-2], next.Commit.Parent())
		next2, err := s.ReadFoldStep(ids[6], fold)
		require.NoError(t, err)
		assert.Equal(t, ids[5], next2.Commit.Parent())
	}
}
