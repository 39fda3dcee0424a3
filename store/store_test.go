package store

import (
	"context"
	"fmt"
	"io/fs"
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

func newStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".evgit")
	_, err := Init(nil, dir, "main")
	require.NoError(t, err)
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// appendCommit commits one event to main through the store.
func appendCommit(t *testing.T, s *Store, i int) object.ID {
	t.Helper()
	var cid object.ID
	err := s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve("refs/heads/main")
		ev := object.NewEvent(fmt.Sprintf("s-%d", i%7), "T", 1, map[string]string{"n": fmt.Sprint(i)}, []byte(fmt.Sprintf(`{"i":%d}`, i)))
		eid := tx.PutEvent(ev)
		c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0), Offset: uint64(i + 1)}
		if !head.IsZero() {
			c.Parents = []object.ID{head}
		}
		cid = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: head, New: cid, Time: c.Time, Message: "commit"})
	})
	require.NoError(t, err)
	return cid
}

func TestStoreRoundTripAcrossSeals(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 10})
	var ids []object.ID
	for i := range 100 {
		ids = append(ids, appendCommit(t, s, i))
	}
	check := func(s *Store) {
		head, target, ok := s.Resolve("HEAD")
		require.True(t, ok)
		assert.Equal(t, "refs/heads/main", target)
		assert.Equal(t, ids[99], head)
		for i, id := range ids {
			c, err := s.Commit(id)
			require.NoError(t, err, "commit %d", i)
			assert.Equal(t, uint64(i+1), c.Offset)
			ev, err := s.Event(c.Events[0])
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(ev.Data))
		}
		log, err := s.Reflog("refs/heads/main")
		require.NoError(t, err)
		require.Len(t, log, 100)
		assert.Equal(t, ids[99], log[0].New)
		assert.Equal(t, ids[0], log[99].New)
	}
	check(s)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{SealObjects: 10})
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
	ents, _ := os.ReadDir(filepath.Join(dir, "log"))
	idx := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".idx" {
			idx++
		}
	}
	assert.Less(t, idx, 12, "indexes are merged")
}

func TestTornTailIsCut(t *testing.T) {
	s, dir := newStore(t, Options{})
	id := appendCommit(t, s, 0)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, end)
	require.NoError(t, err)
	f.Close()
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, int64(11), s2.TornBytes())
	// The bytes cut are kept, as they were, in lost-found.
	kept, err := os.ReadFile(filepath.Join(dir, s2.TornKept()))
	require.NoError(t, err)
	assert.Equal(t, []byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, kept)
	assert.Equal(t, filepath.Join(LostFound, fmt.Sprintf("%08d-%d.torn", 1, end)), s2.TornKept())
	head, _, _ := s2.Resolve("HEAD")
	assert.Equal(t, id, head)
	appendCommit(t, s2, 1)
}

func TestDamageBeforeTailIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	openDamaged(t, dir, func(b []byte) { b[end/2] ^= 0x40 })
}

// openDamaged damages the first segment of a closed store with damage,
// then checks that opening it fails as corrupt and cuts nothing.
func openDamaged(t *testing.T, dir string, damage func(b []byte)) {
	t.Helper()
	seg := filepath.Join(dir, "log", segName(1))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	damage(b)
	require.NoError(t, os.WriteFile(seg, b, 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.Equal(t, b, after, "nothing is cut")
}

// TestDamageAcrossTheLastTwoFramesIsCorruption: a zeroed block across
// the end of one frame and the start of the last (a bad sector) leaves no
// whole frame after the first, but bytes were written after it: a later
// frame was appended, which happens only once the first was synced, so
// the first was acknowledged and must not be cut as a torn tail.
func TestDamageAcrossTheLastTwoFramesIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1)
	boundary := s.segs[1].Size() // the second commit's frame ends here
	appendCommit(t, s, 2)
	require.NoError(t, s.Close())
	openDamaged(t, dir, func(b []byte) { clear(b[boundary-20 : boundary+30]) })
}

// A seal starts the next segment before it writes the index, so an
// indexed newest segment means the segment after it was lost, with the
// commits it held: opening refuses the repository, rather than serving
// the refs of before and letting the next writer start a segment over the
// gap, which would hide the loss for good.
func TestLostNewestSegmentIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 4})
	for i := range 5 {
		appendCommit(t, s, i)
	}
	last := s.last
	require.True(t, s.covered[last-1], "a seal happened")
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, "log", segName(last))))

	for range 2 {
		_, err := Open(dir, Options{SealObjects: 4})
		require.ErrorIs(t, err, ErrCorrupt)
		assert.ErrorContains(t, err, segName(last)+" is missing: the commits it held are lost")
	}
	_, err := os.Stat(filepath.Join(dir, "log", segName(last)))
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing written over the gap")
}

// A crash in an index merge leaves the merged index beside the ones it
// replaced; records must not be read twice.
func TestCrashDuringIndexMerge(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 2})
	for i := range 6 {
		appendCommit(t, s, i)
	}
	log, err := s.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log, 6)
	// Put back a one-segment index covering segment 1, as if the merge
	// that absorbed it had not removed it yet.
	var ix *pack.Index
	for _, cand := range s.indexes {
		if slices.Contains(cand.Segments(), 1) {
			ix = cand
		}
	}
	require.NotNil(t, ix)
	var objs []pack.IndexedObject
	for o := range ix.Objects() {
		if o.Loc.Seg == 1 {
			objs = append(objs, o)
		}
	}
	var recs []pack.Record
	for r, err := range ix.AllRecords() {
		require.NoError(t, err)
		recs = append(recs, pack.Record{Kind: r.Kind, Key: slices.Clone(r.Key), Value: slices.Clone(r.Value)})
	}
	require.NoError(t, s.Close())
	if len(ix.Segments()) > 1 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log", idxName(1, 1)), pack.EncodeIndex([]uint32{1}, objs, recs), 0o644))
	}
	s2, err := Open(dir, Options{SealObjects: 2})
	require.NoError(t, err)
	defer s2.Close()
	log, err = s2.Reflog("refs/heads/main")
	require.NoError(t, err)
	assert.Len(t, log, 6)
}

// TestLookupThroughDamagedIndexIsCorruption: an object a damaged index
// hides is reported as corruption, naming the index, never as an object
// that does not exist.
func TestLookupThroughDamagedIndexIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 50})
	var ids []object.ID
	for i := range 200 {
		ids = append(ids, appendCommit(t, s, i))
	}
	require.NoError(t, s.Close())
	idx, err := filepath.Glob(filepath.Join(dir, "log", "*.idx"))
	require.NoError(t, err)
	require.NotEmpty(t, idx)
	b, err := os.ReadFile(idx[0])
	require.NoError(t, err)
	for i := 64; i < len(b)/2; i += 97 { // IDs near the start: some no longer match
		b[i] ^= 0x10
	}
	require.NoError(t, os.WriteFile(idx[0], b, 0o644))
	s2, err := Open(dir, Options{})
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		return
	}
	defer s2.Close()
	failed := 0
	for _, id := range ids {
		if _, err := s2.Commit(id); err != nil {
			failed++
			require.ErrorIs(t, err, ErrCorrupt, "object %s", id.Short())
			require.NotErrorIs(t, err, ErrNotFound)
		}
	}
	assert.Positive(t, failed, "the damage hid some objects")
	// Even an object that was never there: the index that might hold it
	// is damaged, and the error names it.
	_, err = s2.Commit(object.ID{1, 2, 3})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Base(idx[0]))
}

// TestOpenRemovesDeadTemps: temporary files a dead process left in log/
// are removed when the store opens (a killed seal's index can be
// megabytes); one whose process runs is left to it.
func TestOpenRemovesDeadTemps(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	require.NoError(t, s.Close())
	logDir := filepath.Join(dir, "log")
	dead := filepath.Join(logDir, "00000001-00000001.idx.999999999-1.tmp") // above any pid_max
	alive := filepath.Join(logDir, fmt.Sprintf("00000001-00000001.idx.%d-2.tmp", os.Getpid()))
	whole := filepath.Join(logDir, "00000002.seg.tmp")
	for _, p := range []string{dead, alive, whole} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o644))
	}
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.NoFileExists(t, dead)
	assert.NoFileExists(t, whole, "written under the lock, which Open holds: its writer is gone")
	assert.FileExists(t, alive)
}

// TestTornTailsKeepNamesOfTheirOwn: appends after a cut start where it
// was, so a second tear can end at the same offset; its bytes are kept
// beside the first's, never over them.
func TestTornTailsKeepNamesOfTheirOwn(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	tear := func(b []byte) string {
		f, err := os.OpenFile(seg, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt(b, end)
		require.NoError(t, err)
		f.Close()
		s2, err := Open(dir, Options{})
		require.NoError(t, err)
		defer s2.Close()
		return s2.TornKept()
	}
	first := tear([]byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3})
	second := tear([]byte{201, 0, 0, 0, 0, 0, 0, 0, 9, 9})
	require.NotEqual(t, first, second)
	a, err := os.ReadFile(filepath.Join(dir, first))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, second))
	require.NoError(t, err)
	assert.Equal(t, []byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, a)
	assert.Equal(t, []byte{201, 0, 0, 0, 0, 0, 0, 0, 9, 9}, b)
}

// TestLostIndexKeepsLogOrder: an index is derived data, so losing one
// (the oldest, say) must change no answer: the reflog and the newest
// idempotency record read as before, and a writer's next seal indexes the
// segments again.
func TestLostIndexKeepsLogOrder(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{SealObjects: 10})
	for i := range 60 {
		appendCommit(t, s, i)
		if i%20 == 0 {
			// The same key, newer each time: the newest names the commit.
			head, _, _ := s.Resolve("refs/heads/main")
			require.NoError(t, s.Update(ctx, func(tx *Tx) error {
				tx.PutIdempotency("refs/heads/main", "k", head, head)
				return nil
			}))
		}
	}
	answers := func(s *Store) ([]refs.Update, object.ID) {
		log, err := s.Reflog("refs/heads/main")
		require.NoError(t, err)
		c, _, ok, err := s.Idempotency("refs/heads/main", "k")
		require.NoError(t, err)
		require.True(t, ok)
		return log, c
	}
	wantLog, wantKey := answers(s)
	require.NoError(t, s.Close())
	idx, err := filepath.Glob(filepath.Join(dir, "log", "*.idx"))
	require.NoError(t, err)
	require.Greater(t, len(idx), 1)
	slices.Sort(idx)
	require.NoError(t, os.Remove(idx[0]))

	s2, err := Open(dir, Options{SealObjects: 10})
	require.NoError(t, err)
	gotLog, gotKey := answers(s2)
	assert.Equal(t, wantLog, gotLog)
	assert.Equal(t, wantKey, gotKey)
	// A writer seals again, and the answers hold after reopening.
	for i := 60; i < 75; i++ {
		appendCommit(t, s2, i)
	}
	wantLog, wantKey = answers(s2)
	require.NoError(t, s2.Close())
	s3, err := Open(dir, Options{SealObjects: 10})
	require.NoError(t, err)
	defer s3.Close()
	gotLog, gotKey = answers(s3)
	assert.Equal(t, wantLog, gotLog)
	assert.Equal(t, wantKey, gotKey)
	assert.Empty(t, verifyLog(t, s3))
}

// TestSegmentWithoutFramesIsCorruption: every segment is created whole
// with its checkpoint, so a newest segment cut back to its magic lost
// every ref; it is not a repository without refs.
func TestSegmentWithoutFramesIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	require.NoError(t, os.Truncate(seg, int64(len(pack.SegmentMagic))))
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "segment 1 holds no frame")
}

// Open does not wait for a lock another process holds: an import's dry
// run holds it while it reads its input, which may be a pipe the opening
// process is to write (evgit export | evgit import - in one repository),
// and waiting hung both. It reads without the lock, and its first write
// waits for it. Found when the export | import test hung once in twenty
// runs.
func TestOpenDoesNotWaitForTheLock(t *testing.T) {
	s, dir := newStore(t, Options{})
	id := appendCommit(t, s, 0)
	holder, err := Open(dir, Options{})
	require.NoError(t, err)
	defer holder.Close()
	require.NoError(t, holder.lock.lock())
	opened := make(chan *Store, 1)
	go func() {
		s2, err := Open(dir, Options{})
		assert.NoError(t, err)
		opened <- s2
	}()
	var s2 *Store
	select {
	case s2 = <-opened:
	case <-time.After(10 * time.Second):
		holder.lock.unlock()
		t.Fatal("Open waited for the lock another holder holds")
	}
	defer s2.Close()
	head, _, _ := s2.Resolve("HEAD")
	assert.Equal(t, id, head)
	wrote := make(chan object.ID, 1)
	go func() { wrote <- appendCommit(t, s2, 1) }()
	select {
	case <-wrote:
		t.Error("a write went in while another holder held the lock")
	case <-time.After(100 * time.Millisecond):
	}
	holder.lock.unlock()
	next := <-wrote
	require.NoError(t, s.Refresh())
	head, _, _ = s.Resolve("HEAD")
	assert.Equal(t, next, head)
}

// TestReadOrderSortsByWhereObjectsLie: ReadOrder puts IDs in the order
// they lie in the log (frame by frame, in file order), in segments and,
// after gc, in the pack; unknown IDs go last in the order given.
func TestReadOrderSortsByWhereObjectsLie(t *testing.T) {
	s, _ := newStore(t, Options{})
	var written []object.ID
	for i := range 30 {
		written = append(written, appendCommit(t, s, i))
		if i == 14 {
			_, err := s.Seal(0)
			require.NoError(t, err)
		}
	}
	unknown := []object.ID{object.Hash(object.KindBlob, []byte("x")), object.Hash(object.KindBlob, []byte("y"))}
	check := func() {
		t.Helper()
		ids := slices.Clone(written)
		slices.Reverse(ids)
		ids = append([]object.ID{unknown[0]}, ids...)
		ids = append(ids, unknown[1])
		s.ReadOrder(ids)
		assert.Equal(t, append(slices.Clone(written), unknown...), ids)
	}
	check()
	_, err := s.GC(context.Background(), GCOptions{PruneNow: true})
	require.NoError(t, err)
	check()
}

// verifyLog runs VerifyLog and fails the test on a context error.
func verifyLog(t testing.TB, s *Store) []Problem {
	t.Helper()
	probs, err := s.VerifyLog(context.Background())
	require.NoError(t, err)
	return probs
}

// VerifyLog stops when its context is cancelled, with the context's error
// and no problems.
// Found by a helper's audit: fsck read every frame of the log before it
// first looked at its context.
func TestVerifyLogStopsWhenCancelled(t *testing.T) {
	s, _ := newStore(t, Options{SealObjects: 40})
	for i := range 300 {
		appendCommit(t, s, i)
	}
	assert.Empty(t, verifyLog(t, s))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	probs, err := s.VerifyLog(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, probs)
}

// Open tells a folder without a format file (no repository) from one
// whose format file it cannot read, which it names with the cause (a
// helper's audit: too many open files said "not an evgit repository").
func TestOpenNamesAFormatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "log"), 0o755))
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrNotRepository)
	require.NoError(t, os.Symlink("format", filepath.Join(dir, "format"))) // a loop: ELOOP
	_, err = Open(dir, Options{})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotRepository)
	assert.ErrorContains(t, err, "cannot read "+filepath.Join(dir, "format"))
}
