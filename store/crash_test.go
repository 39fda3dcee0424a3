package store

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// Crash and fault tests of the store (this file, faultfs_test.go,
// iosweep_test.go). One small workload (init, 30 commits that seal
// segments and merge indexes, a reopen, an import-like batch) runs through
// faultFS, which counts every file-system call:
//
//   - TestPowerLossSweep loses power before each call in turn and checks
//     what the disk may then hold (unsynced writes dropped, kept, cut,
//     reordered by sector, garbled; unsynced names kept or not);
//   - TestIOErrorSweep fails each call in turn (and short-writes each
//     write) and checks that the store fails closed and recovers;
//   - TestIOErrorSweepSecondWriter does the same to a second process that
//     catches up with the first one's seals and merges.
//
// Each trial's check reopens with the real file system: every commit
// acknowledged (Update returned nil) must be on HEAD's first-parent line,
// in order, readable, with its idempotency key and reflog entry, every
// frame and index must check out, and a new commit must land.
//
// The sweeps are short by default (about 15 s in all); -long (or
// EVGIT_LONG=1) tries every crash point in every mode with three seeds,
// ten times the concurrent power losses, and longer second-writer runs.
var longTests = flag.Bool("long", false, "run the long crash and fault sweeps")

func long() bool { return *longTests || os.Getenv("EVGIT_LONG") == "1" }

const mainRef = "refs/heads/main"

// scratchDir returns an empty folder for one trial, in memory (/dev/shm)
// where there is one: the fault tests simulate durability themselves, and
// on ext4 creating and removing hundreds of small repositories costs
// seconds of journal flushes.
func scratchDir(t testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "evgit-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// crashWorkload is the workload of the crash and fault tests: init, 30
// commits with segments small enough that seals and index merges happen,
// a close and reopen half way (so the scan at open is exercised too), and
// one import-like transaction of many commits with one ref move. It stops
// at the first error.
type crashWorkload struct {
	fsys pack.FS
	dir  string // the .evgit folder
	opts Options
	s    *Store

	initDone bool
	acked    []object.ID          // commits whose Update returned nil, oldest first
	keys     map[string]object.ID // idempotency keys of acked commits
	n        int                  // commits built, for unique content
	events   int                  // events built: the offset of the next commit
	step     string               // what ran last
}

func newCrashWorkload(fsys pack.FS, root string) *crashWorkload {
	return &crashWorkload{
		fsys: fsys,
		dir:  filepath.Join(root, ".evgit"),
		opts: Options{FS: fsys, SealObjects: 8},
		keys: map[string]object.ID{},
	}
}

// panicError is a panic the workload recovered.
type panicError struct {
	val   any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.val, p.stack) }

func (w *crashWorkload) run() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{val: v, stack: string(debug.Stack())}
		}
	}()
	w.step = "init"
	if _, err := Init(w.fsys, w.dir, "main"); err != nil {
		return err
	}
	w.initDone = true
	w.step = "open"
	if w.s, err = Open(w.dir, w.opts); err != nil {
		return err
	}
	for i := range 30 {
		if i == 15 {
			w.step = "reopen"
			w.s.Close()
			w.s = nil
			if w.s, err = Open(w.dir, w.opts); err != nil {
				return err
			}
		}
		events, key := 1, ""
		if i%4 == 1 {
			events = 3
		}
		if i%5 == 2 {
			key = fmt.Sprintf("key-%d", i)
		}
		w.step = fmt.Sprintf("commit %d", i)
		if err := w.commit(events, key); err != nil {
			return err
		}
	}
	w.step = "import"
	return w.importBatch(12)
}

// build adds a commit of n events on parent to tx.
func (w *crashWorkload) build(tx *Tx, parent object.ID, events int, key string) object.ID {
	w.n++
	w.events += events
	c := &object.Commit{Time: time.Unix(1_700_000_000+int64(w.n), 0).UTC(), Offset: uint64(w.events), IdempotencyKey: key}
	for e := range events {
		data := fmt.Sprintf(`{"n":%d,"e":%d,"pad":"%s"}`, w.n, e, strings.Repeat("x", 40*e))
		ev := object.NewEvent(fmt.Sprintf("acc-%d", (w.n+e)%5), "Deposited", 1, map[string]string{"actor": "crash"}, []byte(data))
		c.Events = append(c.Events, tx.PutEvent(ev))
	}
	if !parent.IsZero() {
		c.Parents = []object.ID{parent}
	}
	return tx.PutCommit(c)
}

// commit appends one commit to main and records it once acknowledged.
func (w *crashWorkload) commit(events int, key string) error {
	var cid object.ID
	err := w.s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve(mainRef)
		cid = w.build(tx, head, events, key)
		if key != "" {
			tx.PutIdempotency(mainRef, key, cid, object.Hash(object.KindBlob, []byte(key)))
		}
		return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: cid, Time: time.Unix(1_700_000_000, 0), Message: "commit"})
	})
	if err == nil {
		w.acked = append(w.acked, cid)
		if key != "" {
			w.keys[key] = cid
		}
	}
	// A background seal runs to its end before the next commit, so that
	// the calls come in the same order each run and crash points fall
	// in every step of it.
	w.s.waitSeal()
	return err
}

// importBatch appends n commits in one transaction with one ref move, as
// an import batch does.
func (w *crashWorkload) importBatch(n int) error {
	var ids []object.ID
	err := w.s.Update(context.Background(), func(tx *Tx) error {
		ids = ids[:0]
		head, _, _ := tx.Resolve(mainRef)
		parent := head
		for i := range n {
			parent = w.build(tx, parent, 1+i%3, "")
			ids = append(ids, parent)
		}
		tx.PutIdempotency(mainRef, "\x00import\x00batch", parent, object.Hash(object.KindBlob, []byte("batch")))
		return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: parent, Time: time.Unix(1_700_000_000, 0), Message: "import"})
	})
	if err == nil {
		w.acked = append(w.acked, ids...)
		w.keys["\x00import\x00batch"] = ids[len(ids)-1]
	}
	return err
}

// close closes the workload's store, if open.
func (w *crashWorkload) close() {
	if w.s != nil {
		w.s.Close()
		w.s = nil
	}
}

// repoCheck is what verifyRepo expects of a repository after a crash or a
// failure: every acknowledged commit, in order, on HEAD's first-parent
// line.
type repoCheck struct {
	dir      string
	initDone bool                 // Init had returned: the repository must open as it is
	acked    []object.ID          // acknowledged commits, oldest first
	keys     map[string]object.ID // acknowledged idempotency keys
	// exact: acked is the whole line, but for at most extra commits at
	// its end (those of the operation under way); otherwise acked must
	// only appear on it in order (several writers).
	exact bool
	extra int
	// seqs are more sequences of acknowledged commits (one per
	// concurrent writer) that must each appear on the line in order.
	seqs [][]object.ID
}

// verifyRepo opens a repository with the real file system and checks it
// is consistent: it opens (rerunning init if the crash came before init
// returned), every acknowledged commit and its events read back, HEAD's
// first-parent line holds the acknowledged commits in order, idempotency
// keys and the reflog agree with it, every frame and index checks out,
// and a new commit can be appended and read after another reopen. It
// returns the length of the line.
func verifyRepo(c repoCheck) (int, error) {
	opts := Options{SealObjects: 8}
	if !c.initDone {
		if _, err := Init(nil, c.dir, "main"); err != nil {
			return 0, fmt.Errorf("init again after a crash during init: %w", err)
		}
	}
	s, err := Open(c.dir, opts)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	defer func() { s.Close() }()
	line, err := checkStore(s, c)
	if err != nil {
		return 0, err
	}
	// A new commit lands on the line, and survives a reopen.
	var cid object.ID
	err = s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve(mainRef)
		ev := object.NewEvent("after", "Checked", 1, nil, []byte(`{"ok":true}`))
		cm := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(1_800_000_000, 0).UTC(), Offset: 1 << 40}
		if !head.IsZero() {
			cm.Parents = []object.ID{head}
		}
		cid = tx.PutCommit(cm)
		return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: cid, Time: cm.Time, Message: "after crash"})
	})
	if err != nil {
		return 0, fmt.Errorf("append after reopen: %w", err)
	}
	s.Close()
	if s, err = Open(c.dir, opts); err != nil {
		return 0, fmt.Errorf("second open: %w", err)
	}
	c.acked = append(slices.Clone(line), cid)
	c.exact, c.extra = true, 0
	if _, err := checkStore(s, c); err != nil {
		return 0, fmt.Errorf("after appending: %w", err)
	}
	return len(line), nil
}

// checkStore checks an open store against what was acknowledged and
// returns HEAD's first-parent line, oldest first.
func checkStore(s *Store, c repoCheck) ([]object.ID, error) {
	head, target, ok := s.Resolve("HEAD")
	if target != mainRef {
		return nil, fmt.Errorf("HEAD names %q, want %s", target, mainRef)
	}
	if !ok && len(c.acked) > 0 {
		return nil, fmt.Errorf("HEAD does not resolve; %d commits were acknowledged", len(c.acked))
	}
	var line []object.ID
	for id := head; !id.IsZero(); {
		cm, err := s.Commit(id)
		if err != nil {
			return nil, fmt.Errorf("commit %s, %d back from HEAD: %w", id.Short(), len(line), err)
		}
		for _, e := range cm.Events {
			if _, err := s.Event(e); err != nil {
				return nil, fmt.Errorf("event %s of commit %s: %w", e.Short(), id.Short(), err)
			}
		}
		line = append(line, id)
		id = cm.Parent()
	}
	for i, j := 0, len(line)-1; i < j; i, j = i+1, j-1 {
		line[i], line[j] = line[j], line[i]
	}
	if c.exact {
		if len(line) < len(c.acked) || len(line) > len(c.acked)+c.extra {
			return nil, fmt.Errorf("HEAD's line has %d commits; %d were acknowledged (and %d more may have landed)", len(line), len(c.acked), c.extra)
		}
		for i, id := range c.acked {
			if line[i] != id {
				return nil, fmt.Errorf("commit %d of HEAD's line is %s, acknowledged %s", i, line[i].Short(), id.Short())
			}
		}
	} else {
		j := 0
		for _, id := range line {
			if j < len(c.acked) && id == c.acked[j] {
				j++
			}
		}
		if j < len(c.acked) {
			_, err := s.Commit(c.acked[j])
			return nil, fmt.Errorf("acknowledged commit %d (%s) is not on HEAD's line in order (reading it: %v)", j, c.acked[j].Short(), err)
		}
	}
	for w, seq := range c.seqs {
		j := 0
		for _, id := range line {
			if j < len(seq) && id == seq[j] {
				j++
			}
		}
		if j < len(seq) {
			_, err := s.Commit(seq[j])
			return nil, fmt.Errorf("writer %d's acknowledged commit %d (%s) is not on HEAD's line in order (reading it: %v)", w, j, seq[j].Short(), err)
		}
	}
	for key, want := range c.keys {
		got, _, ok, err := s.Idempotency(mainRef, key)
		if err != nil || !ok || got != want {
			return nil, fmt.Errorf("idempotency key %q: got %s, %v, %v; want %s", key, got.Short(), ok, err, want.Short())
		}
	}
	log, err := s.Reflog(mainRef)
	if err != nil {
		return nil, fmt.Errorf("reflog: %w", err)
	}
	onLine := map[object.ID]bool{}
	for _, id := range line {
		onLine[id] = true
	}
	for i, u := range log {
		if i == 0 && u.New != head {
			return nil, fmt.Errorf("reflog's newest entry is %s, HEAD is %s", u.New.Short(), head.Short())
		}
		if i+1 < len(log) && u.Old != log[i+1].New {
			return nil, fmt.Errorf("reflog entry %d moves from %s but the entry before it moved to %s (%d entries: repeated or lost)", i, u.Old.Short(), log[i+1].New.Short(), len(log))
		}
		if i == len(log)-1 && !u.Old.IsZero() {
			return nil, fmt.Errorf("reflog's oldest entry moves from %s, not from nothing", u.Old.Short())
		}
		if !onLine[u.New] {
			return nil, fmt.Errorf("reflog entry %d names %s, not on HEAD's line", i, u.New.Short())
		}
	}
	if len(line) > 0 && len(log) == 0 {
		return nil, errors.New("the branch has commits but no reflog")
	}
	if probs, err := s.VerifyLog(context.Background()); err != nil || len(probs) > 0 {
		return nil, fmt.Errorf("VerifyLog: %v %v", probs, err)
	}
	return line, nil
}

// requireSealsAndMerges checks that the workload sealed segments and
// merged indexes, so the crash points cover both.
func requireSealsAndMerges(t *testing.T, s *Store) {
	t.Helper()
	files, err := s.Files()
	require.NoError(t, err)
	segs, merged := 0, false
	for _, f := range files {
		var lo, hi uint32
		if n, _ := fmt.Sscanf(f.Name, "%08d-%08d.idx", &lo, &hi); n == 2 && hi-lo >= 3 {
			merged = true
		}
		if strings.HasSuffix(f.Name, segSuffix) {
			segs++
		}
	}
	require.Greater(t, segs, 5, "segments were sealed: %v", files)
	require.True(t, merged, "indexes were merged: %v", files)
}

// crashTrial runs the workload through a faultFS that loses power just
// before call k, and checks the repository a power loss then leaves.
type crashTrial struct {
	k          int
	mode       crashMode
	seed       uint64
	background bool // seal in the background (Options.BackgroundSeal)
}

func (tr crashTrial) String() string {
	s := fmt.Sprintf("crash before call %d, mode %s, seed %d", tr.k, tr.mode, tr.seed)
	if tr.background {
		s += ", background seals"
	}
	return s
}

// run returns the line length after recovery, whether the crash point was
// reached, and what is wrong.
func (tr crashTrial) run(t *testing.T) (lineLen int, reached bool, err error) {
	root, after := scratchDir(t), scratchDir(t)
	defer os.RemoveAll(root) // now, not when the sweep ends: hundreds of trials
	defer os.RemoveAll(after)
	fsys := newFaultFS()
	w := newCrashWorkload(fsys, root)
	w.opts.BackgroundSeal = tr.background
	rng := rand.New(rand.NewPCG(tr.seed, uint64(tr.k)))
	var initDone bool
	var crashErr error
	var at fsCall
	fsys.before = func(c fsCall) {
		if c.N != tr.k {
			return
		}
		reached, at = true, c
		initDone = w.initDone
		crashErr = fsys.crash(root, after, tr.mode, rng)
		fsys.mu.Lock()
		fsys.dead = true
		fsys.mu.Unlock()
	}
	werr := w.run()
	w.close()
	if pe := (*panicError)(nil); errors.As(werr, &pe) {
		return 0, reached, werr
	}
	if !reached {
		return 0, false, nil
	}
	if crashErr != nil {
		return 0, true, fmt.Errorf("building the crash image: %w", crashErr)
	}
	// Every call after the power loss fails, so whatever was acknowledged,
	// even after it (a seal that failed after its commit's sync), was
	// durable before it.
	check := repoCheck{dir: filepath.Join(after, ".evgit"), initDone: initDone, acked: w.acked, keys: w.keys, exact: true, extra: 12}
	if werr == nil && !strings.Contains(w.step, "import") {
		return 0, true, fmt.Errorf("the workload went on after the power loss at %s", at)
	}
	n, err := verifyRepo(check)
	if err != nil {
		return 0, true, fmt.Errorf("%s (during %s, %d commits acknowledged): %w", at, w.step, len(check.acked), err)
	}
	return n, true, nil
}

// TestPowerLossSweep loses power before each file-system call of the
// workload in turn and checks what the disk then holds: writes since a
// file's last sync are dropped, kept, kept up to a random point, kept
// sector by sector in any order, or garbled; names since a folder's last
// sync are kept or not. Every commit acknowledged before the power loss
// must be there. By default each crash point is tried in one mode (they
// rotate); -long tries every mode with three seeds. With background seals
// the workload lets each seal end before its next commit, so the calls
// keep their order from run to run and crash points fall in every step of
// the seal goroutine; how seals and commits interleave is left to the
// tests of two writers and to the kill tests of the evgit package.
func TestPowerLossSweep(t *testing.T) {
	t.Run("seal in the commit", func(t *testing.T) { powerLossSweep(t, false) })
	t.Run("seal in the background", func(t *testing.T) { powerLossSweep(t, true) })
}

func powerLossSweep(t *testing.T, background bool) {
	probe := newFaultFS()
	w := newCrashWorkload(probe, scratchDir(t))
	w.opts.BackgroundSeal = background
	require.NoError(t, w.run())
	w.s.waitSeal()
	total := probe.calls()
	requireSealsAndMerges(t, w.s)
	w.close()

	var trials []crashTrial
	seeds := []uint64{1}
	if long() {
		seeds = []uint64{1, 2, 3}
	}
	for _, seed := range seeds {
		for k := 1; k <= total; k++ {
			if long() {
				for m := range numCrashModes {
					trials = append(trials, crashTrial{k: k, mode: m, seed: seed, background: background})
				}
			} else {
				trials = append(trials, crashTrial{k: k, mode: crashMode(k % int(numCrashModes)), seed: seed, background: background})
			}
		}
	}
	start := time.Now()
	var failures []string
	ran := 0
	for _, tr := range trials {
		_, reached, err := tr.run(t)
		if reached {
			ran++
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", tr, err))
		}
	}
	t.Logf("%d power-loss trials over %d crash points in %s", ran, total, time.Since(start).Round(time.Millisecond))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
}

// The store fails closed: after a failed fsync the same store refuses
// every further write with ErrBroken, even once the disk is healthy
// again, and a reopened store works and holds what was acknowledged.
func TestFailedSyncBreaksStore(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		short bool
	}{
		{name: "failed fsync", op: "Sync"},
		{name: "failed write", op: "WriteAt"},
		{name: "short write", op: "WriteAt", short: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFaultFS()
			w := newCrashWorkload(fsys, scratchDir(t))
			w.opts.SealObjects = 1 << 20
			_, err := Init(fsys, w.dir, "main")
			require.NoError(t, err)
			w.initDone = true
			w.s, err = Open(w.dir, w.opts)
			require.NoError(t, err)
			defer w.close()
			require.NoError(t, w.commit(1, ""))
			require.NoError(t, w.commit(2, "k"))

			// Fail the next call of the kind.
			fsys.mu.Lock()
			fsys.short = tt.short
			fsys.before = func(c fsCall) {
				fsys.mu.Lock()
				defer fsys.mu.Unlock()
				if c.Op == tt.op && fsys.failAt == 0 {
					fsys.failAt = c.N
				}
			}
			fsys.mu.Unlock()
			err = w.commit(1, "")
			require.Error(t, err)
			require.NotNil(t, fsys.failed, "the %s failed", tt.op)
			fsys.mu.Lock()
			fsys.before = nil
			fsys.mu.Unlock()

			for range 2 {
				err = w.commit(1, "")
				require.ErrorIs(t, err, ErrBroken, "the same store refuses writes")
			}
			require.ErrorIs(t, w.s.Refresh(), ErrBroken)
			// Reads of what was acknowledged still work.
			_, err = w.s.Commit(w.acked[1])
			assert.NoError(t, err)

			w.close()
			// What of the failed write reached the file was taken
			// back: the next open finds no torn tail to cut, which it
			// would take for a crash's and keep in lost-found first (a
			// helper's audit: on a full disk that failed, and with it
			// every command, reads too).
			s2, err := Open(w.dir, w.opts)
			require.NoError(t, err)
			assert.Zero(t, s2.TornBytes(), "bytes of the failed write were left")
			require.NoError(t, s2.Close())
			_, err = verifyRepo(repoCheck{dir: w.dir, initDone: true, acked: w.acked, keys: w.keys, exact: true})
			require.NoError(t, err)
		})
	}
}

// TestPowerLossGroupCommit loses power at a random call while four
// goroutines append concurrently, so groups of transactions share one
// frame and one sync: each goroutine's acknowledged commits must be on
// HEAD's line, in its order.
func TestPowerLossGroupCommit(t *testing.T) {
	trials := 40
	if long() {
		trials = 400
	}
	const writers, perWriter = 4, 12
	total, groupSyncs, groupCommits := 0, 0, 0
	start := time.Now()
	var failures []string
	for trial := range trials {
		root, after := scratchDir(t), scratchDir(t)
		defer os.RemoveAll(root)
		defer os.RemoveAll(after)
		fsys := newFaultFS()
		fsys.syncDelay = 300 * time.Microsecond // let groups form
		dir := filepath.Join(root, ".evgit")
		_, err := Init(fsys, dir, "main")
		require.NoError(t, err)
		s, err := Open(dir, Options{FS: fsys, SealObjects: 16})
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(uint64(trial), 3))
		crashAt := fsys.calls() + 1 + rng.IntN(400)
		reached := false
		fsys.mu.Lock()
		fsys.before = func(c fsCall) {
			if c.N != crashAt {
				return
			}
			reached = true
			if err := fsys.crash(root, after, crashMode(trial%int(numCrashModes)), rng); err != nil {
				panic(err)
			}
			fsys.mu.Lock()
			fsys.dead = true
			fsys.mu.Unlock()
		}
		fsys.mu.Unlock()
		acked := make([][]object.ID, writers)
		done := make(chan int)
		for g := range writers {
			go func() {
				defer func() { done <- g }()
				for i := range perWriter {
					var cid object.ID
					err := s.Update(context.Background(), func(tx *Tx) error {
						head, _, _ := tx.Resolve(mainRef)
						offset := uint64(1)
						if !head.IsZero() {
							_, body, _, err := tx.Get(head)
							if err != nil {
								return err
							}
							parent, err := object.DecodeCommit(body)
							if err != nil {
								return err
							}
							offset = parent.Offset + 1
						}
						ev := object.NewEvent(fmt.Sprintf("w-%d", g), "Deposited", 1, nil, fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i))
						c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(1_700_000_000, 0).UTC(), Offset: offset}
						if !head.IsZero() {
							c.Parents = []object.ID{head}
						}
						cid = tx.PutCommit(c)
						return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: cid, Time: c.Time})
					})
					if err != nil {
						return
					}
					acked[g] = append(acked[g], cid)
				}
			}()
		}
		for range writers {
			<-done
		}
		s.Close()
		if !reached {
			continue
		}
		total++
		if _, err := verifyRepo(repoCheck{dir: filepath.Join(after, ".evgit"), initDone: true, seqs: acked}); err != nil {
			failures = append(failures, fmt.Sprintf("trial %d (crash before call %d, mode %s): %v", trial, crashAt, crashMode(trial%int(numCrashModes)), err))
		}
		syncs, commits := s.SyncStats()
		groupSyncs += int(syncs)
		groupCommits += int(commits)
	}
	t.Logf("%d power losses among %d concurrent writers in %s (%d transactions in %d syncs)", total, writers, time.Since(start).Round(time.Millisecond), groupCommits, groupSyncs)
	assert.Less(t, groupSyncs, groupCommits, "some transactions shared a sync")
	for _, f := range failures {
		t.Error(f)
	}
}
