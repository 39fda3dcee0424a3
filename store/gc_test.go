package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

func TestGCRepacksAndKeepsWhatIsReachable(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{SealObjects: 50})
	var ids []object.ID
	for i := range 300 {
		ids = append(ids, appendCommit(t, s, i))
	}
	// An unreachable blob, and an idempotency record.
	var orphan object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		orphan = tx.PutObject(object.KindBlob, []byte("orphan"))
		tx.PutIdempotency("refs/heads/main", "k", ids[5], ids[6])
		return nil
	}))

	st, err := s.GC(ctx, GCOptions{Grace: time.Hour})
	require.NoError(t, err)
	assert.True(t, s.Has(orphan), "within the grace period")
	assert.Less(t, st.BytesAfter, st.BytesBefore)

	st, err = s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	assert.False(t, s.Has(orphan))
	assert.Equal(t, 1, st.Dropped)

	check := func(s *Store) {
		for i, id := range ids {
			c, err := s.Commit(id)
			require.NoError(t, err, "commit %d", i)
			_, err = s.Event(c.Events[0])
			require.NoError(t, err)
		}
		log, err := s.Reflog("refs/heads/main")
		require.NoError(t, err)
		assert.Len(t, log, 300)
		c, _, ok, err := s.Idempotency("refs/heads/main", "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ids[5], c)
		// Any length of prefix finds a packed object, past the 8 bytes
		// the pack's index keeps of each ID too.
		for _, n := range []int{4, 10, 16, 17, 20, 33, 63, 64} {
			assert.Equal(t, []object.ID{ids[7]}, s.Prefix(ids[7].String()[:n], 10), "a prefix of %d digits", n)
		}
		assert.Empty(t, verifyLog(t, s))
	}
	check(s)
	// New commits after gc, then reopen.
	ids = append(ids, appendCommit(t, s, 300))
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	for _, id := range ids {
		_, err := s2.Commit(id)
		require.NoError(t, err)
	}
	n := 0
	require.NoError(t, s2.Objects(func(object.ID, pack.Location) error { n++; return nil }))
	assert.Equal(t, 2*len(ids), n)
}

// packedStore makes a store of n commits, all packed by a gc, closes it,
// and returns its folder, the commits, and the pack index's path.
func packedStore(t *testing.T, n int) (dir string, ids []object.ID, pidx string) {
	t.Helper()
	s, dir := newStore(t, Options{SealObjects: 50})
	for i := range n {
		ids = append(ids, appendCommit(t, s, i))
	}
	_, err := s.GC(context.Background(), GCOptions{PruneNow: true})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	found, err := filepath.Glob(filepath.Join(dir, "log", "pack-*.pidx"))
	require.NoError(t, err)
	require.Len(t, found, 1)
	return dir, ids, found[0]
}

// TestGCRefusesDamagedIndexes: gc finds what to keep through the indexes,
// so one damaged there would hide objects, and gc would drop them for
// good. It checks the indexes first and refuses, changing nothing.
func TestGCRefusesDamagedIndexes(t *testing.T) {
	ctx := context.Background()
	dir, _, pidx := packedStore(t, 200)
	b, err := os.ReadFile(pidx)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x01
	require.NoError(t, os.WriteFile(pidx, b, 0o644))
	files := func() map[string]int64 {
		out := map[string]int64{}
		es, err := os.ReadDir(filepath.Join(dir, "log"))
		require.NoError(t, err)
		for _, e := range es {
			info, err := e.Info()
			require.NoError(t, err)
			out[e.Name()] = info.Size()
		}
		return out
	}
	before := files()

	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	_, err = s2.GC(ctx, GCOptions{PruneNow: true})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "checksum mismatch")
	assert.Equal(t, before, files(), "nothing written or removed")
}

// TestGCKeepsSnapshotsOfNoStreams: a snapshot of no streams names the
// empty tree, which a writer may record without storing it; gc keeps
// the record and does not look for the node. A snapshot whose tree is
// gone is derived data gc drops, not a reason to stop.
func TestGCKeepsSnapshotsOfNoStreams(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	a := appendCommit(t, s, 0)
	b := appendCommit(t, s, 1)
	mdl := object.Hash(object.KindBlob, []byte("model"))
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		tx.PutSnapshot(a, mdl, emptyTree)
		tx.PutSnapshot(b, mdl, object.ID{7}) // a tree that is not there
		return nil
	}))
	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	assert.Equal(t, 1, st.SnapshotsKept)
	assert.Equal(t, 1, st.SnapshotsDropped)
	root, ok, err := s.Snapshot(a, mdl)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, emptyTree, root)
	_, ok, err = s.Snapshot(b, mdl)
	require.NoError(t, err)
	assert.False(t, ok)
}

// An event two commits hold (a revert repeats a compensation) is packed
// once, and counted once.
func TestGCPacksASharedEventOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	ev := object.NewEvent("s", "T", 1, nil, []byte(`{"a":1}`))
	var head object.ID
	for i := range 2 {
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(int64(i+1), 0), Offset: uint64(i + 1)}
			if !head.IsZero() {
				c.Parents = []object.ID{head}
			}
			id := tx.PutCommit(c)
			err := tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: id, Time: c.Time, Message: "commit"})
			head = id
			return err
		}))
	}
	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Objects, "two commits and their one event")
}

// TestGCKeepsTheGraceOfWhatItKeeps: an unreachable object one gc keeps,
// still in its grace, counts its grace from when the first gc found it,
// not from the pack each later gc writes: gc run more often than the
// grace period drops it once the period is over, and the time survives
// reopening.
func TestGCKeepsTheGraceOfWhatItKeeps(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	var orphan object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		orphan = tx.PutObject(object.KindBlob, []byte("orphan"))
		return nil
	}))
	written := time.Now()
	day := 24 * time.Hour
	for d := 1; d <= 3; d++ {
		// Daily gc, a grace of 2.5 days: kept on days 1 and 2.
		now := written.Add(time.Duration(d) * day)
		_, err := s.GC(ctx, GCOptions{Grace: 60 * time.Hour, Now: now})
		require.NoError(t, err)
		// The files gc wrote bear the day it ran.
		files, err := filepath.Glob(filepath.Join(dir, "log", "pack-*"))
		require.NoError(t, err)
		for _, f := range files {
			require.NoError(t, os.Chtimes(f, now, now))
		}
		assert.Equal(t, d < 3, s.Has(orphan), "day %d", d)
		if d == 1 {
			require.NoError(t, s.Close())
			var err error
			s, err = Open(dir, Options{})
			require.NoError(t, err)
		}
	}
	defer s.Close()
	// A reachable object carries no such time, and fsck's record check
	// accepts what gc wrote (exercised in the fsck package).
	recs, err := s.allRecordsLocked(RecKept)
	require.NoError(t, err)
	assert.Empty(t, recs, "the orphan is gone, and its record with it")
}

// TestLostPackFileIsCorruption: a pack that lost a file is never read as
// a repository without it (its objects "not found", or no segments), and
// the error names the file; a pack a gc never finished is ignored.
func TestLostPackFileIsCorruption(t *testing.T) {
	for _, lost := range []string{packDataSuffix, packRecordsSuffix, packIndexSuffix, "next segment"} {
		t.Run(lost, func(t *testing.T) {
			s, dir := newStore(t, Options{})
			appendCommit(t, s, 0)
			_, err := s.GC(context.Background(), GCOptions{PruneNow: true})
			require.NoError(t, err)
			n := s.packNum
			require.NoError(t, s.Close())
			name := packName(n, lost)
			if lost == "next segment" {
				name = segName(n + 1)
			}
			require.NoError(t, os.Remove(filepath.Join(dir, "log", name)))
			_, err = Open(dir, Options{})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, name+" is missing")
		})
	}
	t.Run("a gc that never finished", func(t *testing.T) {
		s, dir := newStore(t, Options{})
		appendCommit(t, s, 0)
		require.NoError(t, s.Close())
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log", packName(1, packDataSuffix)), []byte("partial"), 0o644))
		s2, err := Open(dir, Options{})
		require.NoError(t, err)
		require.NoError(t, s2.Close())
	})
}

// TestGCExpiresHeadLog: HEAD's reflog keeps what it names (a deleted
// branch's commits, even under PruneNow) until its entries are older
// than ReflogExpire; then an entry naming what nothing else reaches is
// dropped with it.
func TestGCExpiresHeadLog(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	c0 := appendCommit(t, s, 0)
	// A commit on a branch HEAD visits, then leaves, then deletes.
	var side object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		side = tx.PutCommit(&object.Commit{Parents: []object.ID{c0}, Time: time.Unix(5, 0), Offset: 1})
		require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/side", New: side}))
		tx.SetSymbolic(refs.HEAD, "refs/heads/side")
		tx.LogHead(refs.Update{Old: c0, New: side, Message: "checkout: moving from main to side"})
		return nil
	}))
	// Detached at it (a RecRef for HEAD, and its HEAD entry), then back.
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		tx.SetSymbolic(refs.HEAD, "")
		return tx.UpdateRef(refs.Update{Name: refs.HEAD, Old: side, New: side, Time: time.Now()})
	}))
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		tx.SetSymbolic(refs.HEAD, "refs/heads/main")
		tx.LogHead(refs.Update{Old: side, New: c0, Message: "checkout: moving from side to main"})
		return tx.UpdateRef(refs.Update{Name: "refs/heads/side", Old: side, Delete: true})
	}))
	entries := func() int {
		log, err := s.HeadLog()
		require.NoError(t, err)
		return len(log)
	}
	require.Equal(t, 4, entries())

	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	assert.True(t, s.Has(side), "HEAD's reflog names it")
	assert.Equal(t, 0, st.ReflogExpired)
	assert.Equal(t, 4, entries())

	st, err = s.GC(ctx, GCOptions{PruneNow: true, Now: time.Now().Add(31 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.False(t, s.Has(side), "its entries expired, the detached move's too")
	assert.Equal(t, 4, st.ReflogExpired, "three HEAD entries and the RecRef of the detached move")
	assert.Equal(t, 1, entries(), "the entry naming only what is reachable stays")
	got, _, _ := s.Resolve(refs.HEAD)
	assert.Equal(t, c0, got)
}

// TestDamagedPackIndexIsNamed: a byte flipped in a pack index that makes
// a lookup point at the wrong place reads as an object that does not
// hash to its ID, or a slot out of range; the error names the index, the
// file at fault (a helper's audit: it named only the object).
func TestDamagedPackIndexIsNamed(t *testing.T) {
	dir, ids, pidx := packedStore(t, 300)
	orig, err := os.ReadFile(pidx)
	require.NoError(t, err)
	defer os.WriteFile(pidx, orig, 0o644)

	misread := 0
	for off := 0; off < len(orig); off += 7 {
		b := slices.Clone(orig)
		b[off] ^= 0x5a
		require.NoError(t, os.WriteFile(pidx, b, 0o644))
		s, err := Open(dir, Options{})
		if err != nil {
			continue // refused at open: named there
		}
		for _, id := range ids {
			if _, err := s.Commit(id); err != nil && !errors.Is(err, ErrNotFound) {
				require.ErrorIs(t, err, ErrCorrupt)
				require.Contains(t, err.Error(), ".pidx", "offset %d", off)
				misread++
				break
			}
		}
		require.NoError(t, s.Close())
	}
	assert.Positive(t, misread, "some flips make a lookup read the wrong object")
}

// TestGCSizesLeaveOutPreallocatedZeros: gc's sizes count the newest
// segment to the end of its last frame. The segment gc starts holds 64
// KiB of zeros; counted, they made a small history look 60 KiB bigger
// after gc than its frames are, and before gc, whatever the zeros were.
func TestGCSizesLeaveOutPreallocatedZeros(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	for i := range 5 {
		appendCommit(t, s, i)
	}
	total := func() (n int64) {
		files, err := s.Files()
		require.NoError(t, err)
		for _, f := range files {
			n += f.Size
		}
		return n
	}
	onDisk := total()
	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	assert.Less(t, st.BytesBefore, onDisk-60<<10, "the old segment's zeros are not counted")
	newest, err := os.Stat(filepath.Join(dir, "log", segName(s.last)))
	require.NoError(t, err)
	assert.Equal(t, total()-newest.Size()+s.segs[s.last].Size(), st.BytesAfter)
	assert.Less(t, st.BytesAfter, total()-60<<10, "the new segment's zeros are not counted")
}

// thinSnapshots keeps, besides the newest, one snapshot per slice of
// history, and no slice spans more than gap events: on a long history the
// kept snapshots lie at most about two gaps apart, where a sixth of
// history apart left loads in the middle of a million events folding
// 166,000 of them (a helper's scale audit).
func TestThinSnapshotsBoundsTheGap(t *testing.T) {
	var snaps []pack.Record
	offsets := map[object.ID]uint64{}
	model := object.Hash(object.KindBlob, []byte("model"))
	for off := uint64(1000); off <= 1_000_000; off += 1000 {
		commit := object.Hash(object.KindBlob, fmt.Appendf(nil, "commit %d", off))
		offsets[commit] = off
		snaps = append(snaps, pack.Record{Key: append(commit[:], model[:]...)})
	}
	kept := thinSnapshots(snaps, offsets, 2, 6, DefaultSnapshotGap)
	var at []uint64
	for _, r := range snaps {
		if kept[string(r.Key)] {
			at = append(at, offsets[object.ID(r.Key[:32])])
		}
	}
	slices.Sort(at)
	assert.InDelta(t, 102, len(at), 2)
	for i := 1; i < len(at); i++ {
		assert.LessOrEqual(t, at[i]-at[i-1], uint64(2*DefaultSnapshotGap), "between %d and %d", at[i-1], at[i])
	}
	assert.Less(t, len(thinSnapshots(snaps, offsets, 2, 6, 1<<62)), 10, "without the gap: a sixth of history each")
}

// TestGCStopsWhenCancelledWhilePacking: a gc cancelled while it builds
// its pack returns the context's error and changes nothing (a helper's
// audit found one cancelled at a third of its run going on for seconds,
// holding the lock, and reporting success).
func TestGCStopsWhenCancelledWhilePacking(t *testing.T) {
	s, _ := newStore(t, Options{SealObjects: 50})
	for i := range 300 {
		appendCommit(t, s, i)
	}
	before, err := s.Files()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	gcPacking = cancel
	t.Cleanup(func() { gcPacking = nil })
	_, err = s.GC(ctx, GCOptions{PruneNow: true})
	require.ErrorIs(t, err, context.Canceled)
	after, err := s.Files()
	require.NoError(t, err)
	assert.Equal(t, before, after)
}
