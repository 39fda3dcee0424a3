package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// writeOps are the calls whose failure means the disk may not hold what
// the store thinks: after one, the store must fail closed.
var writeOps = map[string]bool{"WriteAt": true, "Sync": true, "Truncate": true, "Rename": true, "SyncDir": true}

// sweepTrial fails one call of the workload.
type sweepTrial struct {
	k     int
	call  fsCall // the call as the probe run saw it
	short bool   // a short write rather than an error
}

func (tr sweepTrial) String() string {
	kind := "error"
	if tr.short {
		kind = "short write"
	}
	return fmt.Sprintf("%s at %s", kind, tr.call)
}

// sweepOutcome is what one trial found: defects break an invariant;
// notes are failures the store absorbed without harm.
type sweepOutcome struct {
	defect, note string
}

func (tr sweepTrial) run(t *testing.T) sweepOutcome {
	fsys := newFaultFS()
	fsys.failAt, fsys.short = tr.k, tr.short
	root := scratchDir(t)
	defer os.RemoveAll(root) // now, not when the sweep ends: hundreds of trials
	w := newCrashWorkload(fsys, root)
	werr := w.run()
	defer w.close()
	fail := func(format string, args ...any) sweepOutcome {
		msg := fmt.Sprintf(format, args...)
		return sweepOutcome{defect: fmt.Sprintf("%s (during %s, %d acknowledged): %s", tr, w.step, len(w.acked), msg)}
	}
	var pe *panicError
	if errors.As(werr, &pe) {
		return fail("%v", werr)
	}
	if fsys.failed == nil {
		return fail("the call was not made: the workload is not deterministic")
	}
	var out sweepOutcome
	inUpdate := w.s != nil && (strings.HasPrefix(w.step, "commit") || strings.HasPrefix(w.step, "import"))
	if werr == nil && writeOps[tr.call.Op] && w.s != nil {
		// Nothing reported it; the store must at least refuse what
		// comes next.
		inUpdate = true
	}
	if inUpdate {
		// Fail closed: the same store refuses further writes, although
		// the disk is healthy again.
		perr := w.probe()
		switch {
		case errors.As(perr, &pe):
			return fail("probe after the failure: %v", perr)
		case perr == nil && writeOps[tr.call.Op] && werr == nil:
			return fail("the failure was swallowed: the workload went on and the store still accepts writes")
		case perr == nil && writeOps[tr.call.Op]:
			return fail("the store did not fail closed: Update failed with %q, and the next Update succeeded", werr)
		case perr == nil && werr == nil:
			out.note = fmt.Sprintf("%s failure absorbed without an error", tr.call.Op)
		case perr == nil:
			out.note = fmt.Sprintf("%s failure failed the %s, and the store stayed open: the next Update succeeded", tr.call.Op, strings.Fields(w.step)[0])
		case writeOps[tr.call.Op] && !errors.Is(perr, ErrBroken):
			return fail("the next Update failed with %q, not ErrBroken", perr)
		}
	} else if werr == nil {
		out.note = fmt.Sprintf("%s failure absorbed without an error", tr.call.Op)
	}
	w.close()
	if _, err := verifyRepo(repoCheck{dir: w.dir, initDone: w.initDone, acked: w.acked, keys: w.keys, exact: true, extra: 12}); err != nil {
		return fail("after reopening with the real file system: %v", err)
	}
	return out
}

// probe tries one more commit on the workload's store with the disk
// healthy again.
func (w *crashWorkload) probe() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{val: v, stack: string(debug.Stack())}
		}
	}()
	return w.commit(1, "")
}

// TestIOErrorSweep fails each file-system call of the workload in turn:
// an error, and for writes also a short write. Every failure must come
// back as an error (never a panic), a failed write must leave the store
// refusing writes until it is reopened, and the repository reopened with
// the real file system must hold every acknowledged commit.
func TestIOErrorSweep(t *testing.T) {
	probe := newFaultFS()
	w := newCrashWorkload(probe, scratchDir(t))
	require.NoError(t, w.run())
	calls := probe.trace[:probe.calls()] // not the closing of the store after it
	w.close()
	require.Greater(t, len(calls), 100)

	var trials []sweepTrial
	for _, c := range calls {
		trials = append(trials, sweepTrial{k: c.N, call: c})
		if c.Op == "WriteAt" && c.Len >= 2 {
			trials = append(trials, sweepTrial{k: c.N, call: c, short: true})
		}
	}
	start := time.Now()
	var defects []string
	notes := map[string]int{}
	for _, tr := range trials {
		out := tr.run(t)
		if out.defect != "" {
			defects = append(defects, out.defect)
		}
		if out.note != "" {
			notes[out.note]++
		}
	}
	t.Logf("%d injected failures over %d calls in %s", len(trials), len(calls), time.Since(start).Round(time.Millisecond))
	for n, c := range notes {
		t.Logf("absorbed %d times: %s", c, n)
	}
	report(t, defects)
}

func report(t *testing.T, defects []string) {
	t.Helper()
	for i, d := range defects {
		if i == 40 {
			t.Errorf("... and %d more", len(defects)-40)
			break
		}
		t.Error(d)
	}
}

// twoWriters is a workload of two stores on one repository: A on the real
// file system, B through a faultFS. A's seals and merges change the files
// under B, so B's catching up (refresh, reload) runs under faults.
type twoWriters struct {
	dir    string
	rounds int // each: A commits once or twice, B (refreshes and) commits once
	a, b   *Store
	acked  []object.ID // both writers' acknowledged commits, in order
	n      int
	step   string
}

func (tw *twoWriters) commit(s *Store, who string) error {
	var cid object.ID
	err := s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve(mainRef)
		tw.n++
		ev := object.NewEvent(fmt.Sprintf("%s-%d", who, tw.n%3), "Deposited", 1, nil, []byte(fmt.Sprintf(`{"n":%d}`, tw.n)))
		c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(1_700_000_000+int64(tw.n), 0).UTC(), Offset: uint64(tw.n), Actor: who}
		if !head.IsZero() {
			c.Parents = []object.ID{head}
		}
		cid = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: cid, Time: c.Time, Actor: who})
	})
	if err == nil {
		tw.acked = append(tw.acked, cid)
	}
	return err
}

// runB runs the workload until B fails; A never fails.
func (tw *twoWriters) run(t *testing.T, fsys *faultFS) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{val: v, stack: string(debug.Stack())}
		}
	}()
	tw.step = "open B"
	if tw.b, err = Open(tw.dir, Options{FS: fsys, SealObjects: 4}); err != nil {
		return err
	}
	for i := range tw.rounds {
		// One or two commits of A: sometimes A seals, sometimes B, and
		// B catches up with A's frames by reloading or by scanning on.
		for range 1 + i%3/2 {
			require.NoError(t, tw.commit(tw.a, "a"))
		}
		// Every other round B writes without refreshing first, so it
		// catches up (or reloads) under the lock, in its write.
		if i%2 == 0 {
			tw.step = fmt.Sprintf("round %d: refresh B", i)
			if err := tw.b.Refresh(); err != nil {
				return err
			}
			if err := tw.sameHead(); err != nil {
				return err
			}
		}
		tw.step = fmt.Sprintf("round %d: commit B", i)
		if err := tw.commit(tw.b, "b"); err != nil {
			return err
		}
	}
	return nil
}

// errView is a reader's view that disagrees with the repository.
var errView = errors.New("wrong view")

// sameHead checks that B, having caught up, sees A's HEAD.
func (tw *twoWriters) sameHead() error {
	if err := tw.a.Refresh(); err != nil {
		return err
	}
	want, _, _ := tw.a.Resolve(mainRef)
	got, _, ok := tw.b.Resolve(mainRef)
	if got != want {
		return fmt.Errorf("%w: B sees %s at %s (found %v) after a successful Refresh; A has %s", errView, mainRef, got.Short(), ok, want.Short())
	}
	return nil
}

// TestIOErrorSweepSecondWriter fails each call of a second writer that
// catches up with a first writer's seals and index merges, then lets the
// disk recover: the second writer's store must not panic, must see the
// repository as it is once a Refresh succeeds, and must never write a
// commit that loses history.
func TestIOErrorSweepSecondWriter(t *testing.T) {
	setup := func(t *testing.T) (*twoWriters, func()) {
		root := scratchDir(t)
		tw := &twoWriters{dir: filepath.Join(root, ".evgit"), rounds: 9}
		if long() {
			tw.rounds = 24
		}
		_, err := Init(nil, tw.dir, "main")
		require.NoError(t, err)
		tw.a, err = Open(tw.dir, Options{SealObjects: 4})
		require.NoError(t, err)
		return tw, func() {
			tw.a.Close()
			if tw.b != nil {
				tw.b.Close()
			}
		}
	}
	probe := newFaultFS()
	tw, done := setup(t)
	require.NoError(t, tw.run(t, probe))
	calls := probe.trace[:probe.calls()] // not the closing of the stores after it
	done()

	start := time.Now()
	var defects []string
	notes := map[string]int{}
	for _, c := range calls {
		fsys := newFaultFS()
		fsys.failAt = c.N
		tw, done := setup(t)
		tr := sweepTrial{k: c.N, call: c}
		fail := func(format string, args ...any) {
			defects = append(defects, fmt.Sprintf("%s (B, during %s): %s", tr, tw.step, fmt.Sprintf(format, args...)))
		}
		werr := tw.run(t, fsys)
		var pe *panicError
		switch {
		case errors.As(werr, &pe):
			fail("%v", werr)
		case errors.Is(werr, errView):
			fail("%v", werr)
		}
		if tw.b != nil && !errors.As(werr, &pe) {
			// The disk is healthy again: B catches up and writes, or
			// refuses because it is broken.
			func() {
				defer func() {
					if v := recover(); v != nil {
						fail("after the failure (%v), B panics: %v\n%s", werr, v, debug.Stack())
					}
				}()
				rerr := tw.b.Refresh()
				if rerr == nil {
					if err := tw.sameHead(); err != nil {
						fail("after the failure (%v): %v", werr, err)
					}
				}
				cerr := tw.commit(tw.b, "b")
				switch {
				case werr == nil && cerr == nil && !writeOps[c.Op]:
					notes[c.Op+" failure absorbed without an error"]++
				case werr == nil && errors.Is(cerr, ErrBroken):
					notes[c.Op+" failure after the last commit's sync: no error then, ErrBroken at the next Update"]++
				case cerr == nil && werr == nil && writeOps[c.Op]:
					fail("the failure was swallowed: the workload went on and B still accepts writes")
				case cerr == nil && writeOps[c.Op]:
					fail("B did not fail closed: %q, then the next Update succeeded", werr)
				case cerr != nil && rerr == nil && !errors.Is(cerr, ErrBroken):
					fail("B refreshed, then its Update failed: %v", cerr)
				}
			}()
		}
		require.NoError(t, tw.commit(tw.a, "a"), "%s: A cannot write after B's failure", tr)
		done()
		if _, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked}); err != nil {
			fail("after reopening: %v", err)
		}
		os.RemoveAll(filepath.Dir(tw.dir)) // now, not when the sweep ends
	}
	t.Logf("%d injected failures in the second writer in %s", len(calls), time.Since(start).Round(time.Millisecond))
	for n, c := range notes {
		t.Logf("absorbed %d times: %s", c, n)
	}
	report(t, defects)
}

// failNth makes fsys fail the nth call (1-based) that match reports true
// for, once.
func failNth(fsys *faultFS, nth int, match func(c fsCall) bool) {
	seen := 0
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	fsys.before = func(c fsCall) {
		if !match(c) {
			return
		}
		seen++
		if seen == nth {
			fsys.mu.Lock()
			fsys.failAt = c.N
			fsys.mu.Unlock()
		}
	}
}

// A read that fails once while Open scans the newest segment is an I/O
// error, not a torn tail: the frame it could not read was written and
// synced, and must not be cut.
func TestReadErrorAtOpenIsNotATornTail(t *testing.T) {
	s, dir := newStore(t, Options{})
	first := appendCommit(t, s, 0)
	before := s.segs[s.last].Size()
	last := appendCommit(t, s, 1)
	require.NoError(t, s.Close())

	fsys := newFaultFS()
	// The read of the last frame's payload, once.
	failNth(fsys, 1, func(c fsCall) bool { return c.Op == "ReadAt" && c.Off == before+pack.FrameHeaderSize })
	s2, err := Open(dir, Options{FS: fsys})
	require.NotNil(t, fsys.failed, "the fault was injected")
	if err == nil {
		head, _, _ := s2.Resolve("HEAD")
		assert.Equal(t, last.String(), head.String(), "Open succeeded, so it must have read every frame")
		s2.Close()
	}

	s3, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s3.Close()
	head, _, _ := s3.Resolve("HEAD")
	assert.Equal(t, last.String(), head.String(), "the acknowledged commit survives a failed read (it was cut as a torn tail)")
	_, err = s3.Commit(first)
	assert.NoError(t, err)
}

// openPair opens a repository twice: A on the real file system, B
// through fsys; each seals after two one-event commits.
func openPair(t *testing.T, fsys *faultFS) (tw *twoWriters) {
	t.Helper()
	tw = &twoWriters{dir: filepath.Join(scratchDir(t), ".evgit")}
	_, err := Init(nil, tw.dir, "main")
	require.NoError(t, err)
	tw.a, err = Open(tw.dir, Options{SealObjects: 4})
	require.NoError(t, err)
	tw.b, err = Open(tw.dir, Options{FS: fsys, SealObjects: 4})
	require.NoError(t, err)
	t.Cleanup(func() { tw.a.Close(); tw.b.Close() })
	return tw
}

// A reader whose reload failed half way (here: opening an index another
// process's seal wrote) must not trust the half-built state: the next
// Refresh reloads, instead of panicking on a segment it never opened.
func TestRefreshAfterFailedReload(t *testing.T) {
	fsys := newFaultFS()
	tw := openPair(t, fsys)
	require.NoError(t, tw.commit(tw.a, "a"))
	require.NoError(t, tw.commit(tw.a, "a")) // A seals: a new index and segment
	failNth(fsys, 1, func(c fsCall) bool { return c.Op == "OpenFile" && strings.HasSuffix(c.Path, idxSuffix) })
	require.Error(t, tw.b.Refresh())
	require.NotNil(t, fsys.failed, "the fault was injected")

	var err error
	require.NotPanics(t, func() { err = tw.b.Refresh() }, "Refresh after a failed reload")
	require.NoError(t, err)
	require.NoError(t, tw.sameHead())
}

// A writer whose reload failed half way (here: reading the size of the
// newest segment, which another process's seal started) must not append
// on the half-built state: it would write over the other process's frames
// or into a sealed segment, and lose acknowledged commits.
func TestWriteAfterFailedReload(t *testing.T) {
	tests := []struct {
		name  string
		nth   int
		match func(c fsCall) bool
	}{
		{name: "stat of the new segment", nth: 2, match: func(c fsCall) bool {
			return c.Op == "Stat" && strings.HasSuffix(c.Path, segName(2))
		}},
		{name: "listing the log folder", nth: 2, match: func(c fsCall) bool { return c.Op == "ReadDir" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFaultFS()
			tw := openPair(t, fsys)
			require.NoError(t, tw.commit(tw.a, "a"))
			require.NoError(t, tw.commit(tw.a, "a")) // A seals: a new index and segment
			failNth(fsys, tt.nth, tt.match)
			require.Error(t, tw.b.Refresh())
			require.NotNil(t, fsys.failed, "the fault was injected")
			fsys.mu.Lock()
			fsys.before = nil
			fsys.mu.Unlock()

			// B writes (or refuses to), then A writes again.
			if err := tw.commit(tw.b, "b"); err == nil {
				assert.NoError(t, tw.sameHead())
			}
			require.NoError(t, tw.commit(tw.a, "a"))
			tw.a.Close()
			tw.b.Close()
			_, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked})
			require.NoError(t, err, "every acknowledged commit, of either writer, survives")
		})
	}
}

// A writer catching up with frames another process appended must not
// take a header it failed to read for the end of the log: it would
// append its own frame over the other's.
func TestCatchUpReadErrorIsNotTheEnd(t *testing.T) {
	fsys := newFaultFS()
	tw := openPair(t, fsys)
	require.NoError(t, tw.commit(tw.a, "a")) // one frame B has not seen, no seal
	// B's catching up reads that frame's header first: fail it, once.
	failNth(fsys, 1, func(c fsCall) bool { return c.Op == "ReadAt" && c.Len == pack.FrameHeaderSize })
	if err := tw.commit(tw.b, "b"); err == nil {
		assert.NoError(t, tw.sameHead())
	}
	require.NotNil(t, fsys.failed, "the fault was injected")
	require.NoError(t, tw.commit(tw.a, "a"))
	tw.a.Close()
	tw.b.Close()
	_, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked})
	require.NoError(t, err, "every acknowledged commit, of either writer, survives")
}

// A seal that fails after it changed the log's files (here: removing the
// indexes a merge replaced) must still tell other processes the layout
// changed. Otherwise they go on appending to the sealed segment, and the
// merged index, which does not hold their commits, hides them.
func TestFailedSealTellsOtherWriters(t *testing.T) {
	fsys := newFaultFS()
	tw := openPair(t, fsys)
	for range 6 {
		require.NoError(t, tw.commit(tw.a, "a")) // three seals: three indexes
	}
	// B's second commit seals the fourth segment, and its index merges
	// with the other three; removing the first of them fails.
	failNth(fsys, 1, func(c fsCall) bool { return c.Op == "Remove" && strings.HasSuffix(c.Path, idxSuffix) })
	require.NoError(t, tw.commit(tw.b, "b"))
	require.NoError(t, tw.commit(tw.b, "b"), "the commit was synced before the seal failed")
	require.NotNil(t, fsys.failed, "the fault was injected")
	require.ErrorIs(t, tw.commit(tw.b, "b"), ErrBroken)
	for range 3 {
		require.NoError(t, tw.commit(tw.a, "a"))
	}
	tw.a.Close()
	tw.b.Close()
	_, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked})
	require.NoError(t, err, "every acknowledged commit, of either writer, survives")
}
