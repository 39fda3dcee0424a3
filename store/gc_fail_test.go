package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// logFiles lists the files of a repository's log folder with a hash of
// each, leaving out the lock file (whose generation a failed gc may bump,
// to make other processes read the folder again).
func logFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "log"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "log", e.Name()))
		require.NoError(t, err)
		out[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}

// A gc that fails at any file system call before its pack goes live (a
// full disk, an I/O error) leaves the log folder as it found it: no new
// segment, no pack file, no temporary file (a helper's audit found a new
// segment and a .pack left by a gc that filled the disk). After the
// pack's index is renamed the pack is live, and what gc wrote stays.
// Either way the repository reopens with every acknowledged commit.
func TestGCFailureChangesNothing(t *testing.T) {
	probe := newFaultFS()
	w := newCrashWorkload(probe, scratchDir(t))
	require.NoError(t, w.run())
	w.s.waitSeal()
	start := probe.calls()
	_, err := w.s.GC(context.Background(), GCOptions{PruneNow: true})
	require.NoError(t, err)
	end := probe.calls()
	w.close()
	require.Greater(t, end, start)
	unchanged := 0
	for k := start + 1; k <= end; k++ {
		fsys := newFaultFS()
		root := scratchDir(t)
		w := newCrashWorkload(fsys, root)
		require.NoError(t, w.run())
		w.s.waitSeal()
		before := logFiles(t, w.dir)
		live := false
		fsys.mu.Lock()
		fsys.failAt = k
		fsys.before = func(c fsCall) {
			if c.N < k && c.Op == "Rename" && strings.HasSuffix(c.Path, packIndexSuffix) {
				live = true
			}
		}
		fsys.mu.Unlock()
		_, err := w.s.GC(context.Background(), GCOptions{PruneNow: true})
		call := "no call"
		if fsys.failed != nil {
			call = fsys.failed.String()
		}
		w.close()
		if fsys.failed == nil {
			t.Fatalf("k=%d: the call was not made: the workload is not deterministic", k)
		}
		if err == nil {
			// A failure gc absorbed (a Remove of what it replaced).
			continue
		}
		if !live {
			unchanged++
			assert.Equal(t, before, logFiles(t, w.dir), "failed at %s: %v", call, err)
		}
		_, verr := verifyRepo(repoCheck{dir: w.dir, initDone: true, acked: w.acked, keys: w.keys, exact: true, extra: 1})
		assert.NoError(t, verr, "failed at %s", call)
		os.RemoveAll(root)
	}
	assert.Greater(t, unchanged, 10, "failures before the pack went live")
}

// An init that fails at any file system call (a full disk) takes back
// what it made: no lock file, no log folder, no format file (a helper's
// audit found a lock and an empty log folder left, which were no
// repository). What a stopped init left before stays, for this one to
// finish.
func TestInitFailureLeavesNothing(t *testing.T) {
	probe := newFaultFS()
	root := scratchDir(t)
	_, err := Init(probe, filepath.Join(root, ".evgit"), "main")
	require.NoError(t, err)
	calls, failed := probe.calls(), 0
	for k := 1; k <= calls; k++ {
		fsys := newFaultFS()
		fsys.failAt = k
		root := scratchDir(t)
		dir := filepath.Join(root, ".evgit")
		require.NoError(t, os.Mkdir(dir, 0o755))
		_, err := Init(fsys, dir, "main")
		call := fsys.failed
		if err == nil {
			continue // a failure Init absorbed
		}
		failed++
		ents, rerr := os.ReadDir(dir)
		require.NoError(t, rerr)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Empty(t, names, "failed at %v: %v", call, err)
		os.RemoveAll(root)
	}
	assert.Greater(t, failed, 5, "calls whose failure failed Init")
	// A format file of a stopped init stays when this one fails.
	fsys := newFaultFS()
	dir := filepath.Join(scratchDir(t), ".evgit")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "log"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "format"), []byte(formatLine), 0o644))
	fsys.before = func(c fsCall) {
		if c.Op == "OpenFile" && strings.HasSuffix(c.Path, segName(1)+".tmp") {
			fsys.mu.Lock()
			fsys.failAt = c.N
			fsys.mu.Unlock()
		}
	}
	_, err = Init(fsys, dir, "main")
	require.Error(t, err)
	assert.FileExists(t, filepath.Join(dir, "format"))
	assert.DirExists(t, filepath.Join(dir, "log"))
	assert.NoFileExists(t, filepath.Join(dir, "lock"))
}

// A repository on a file system mounted read-only says so, where it said
// "permission denied", which sent a user to look at file modes (a
// helper's audit); both match fs.ErrPermission.
func TestCannotWriteSaysWhy(t *testing.T) {
	ro := cannotWrite("lock", "could not be opened for writing", &os.PathError{Op: "open", Path: "lock", Err: unix.EROFS})
	assert.ErrorIs(t, ro, fs.ErrPermission)
	assert.Equal(t, "cannot write: lock could not be opened for writing: the file system is mounted read-only", ro.Error())
	perm := cannotWrite("lock", "could not be opened for writing", &os.PathError{Op: "open", Path: "lock", Err: unix.EACCES})
	assert.ErrorIs(t, perm, fs.ErrPermission)
	assert.Contains(t, perm.Error(), "a user who may only read the repository can read it, not write")
}

// Two inits of one folder at once: B looked at what was there before A
// made the repository, A finished, then B failed (a transient error on a
// folder sync) and its take-back removed A's repository (a helper's
// review). An init takes nothing back before it holds the lock, and
// syncs the folders once it holds it and finds no repository made.
func TestConcurrentInitFailureKeepsTheOther(t *testing.T) {
	root := scratchDir(t)
	dir := filepath.Join(root, ".evgit")
	require.NoError(t, os.Mkdir(dir, 0o755))
	b := newFaultFS()
	ranA := false
	b.before = func(c fsCall) {
		if c.Op == "MkdirAll" && !ranA {
			ranA = true
			created, err := Init(nil, dir, "main") // A, another process
			require.NoError(t, err)
			require.True(t, created)
		}
		if c.Op == "SyncDir" && ranA {
			b.mu.Lock()
			if b.failAt == 0 {
				b.failAt = c.N
			}
			b.mu.Unlock()
		}
	}
	created, err := Init(b, dir, "main")
	require.NoError(t, err, "B finds, once it holds the lock, the repository A made")
	assert.False(t, created)
	assert.True(t, Initialized(nil, dir), "A's repository")
	assert.FileExists(t, filepath.Join(dir, "format"))
}

// An init that fails takes back what it made while it holds the lock: an
// init waiting for the lock then makes the repository, which stays (a
// helper's review found the take-back running after the unlock, removing
// what the waiting init made).
func TestInitTakeBackBeforeUnlock(t *testing.T) {
	dir := filepath.Join(scratchDir(t), ".evgit")
	a := newFaultFS()
	var started bool
	done := make(chan error, 1)
	a.before = func(c fsCall) {
		if c.Op == "OpenFile" && filepath.Base(c.Path) == segName(1)+".tmp" {
			a.mu.Lock()
			a.failAt = c.N // a full disk
			a.mu.Unlock()
		}
		if c.Op == "Remove" && !started {
			started = true
			go func() { // B, waiting for the lock A holds
				_, err := Init(nil, dir, "main")
				done <- err
			}()
			time.Sleep(50 * time.Millisecond) // B reaches the lock
		}
	}
	_, err := Init(a, dir, "main")
	require.Error(t, err)
	require.True(t, started)
	require.NoError(t, <-done)
	assert.True(t, Initialized(nil, dir), "B's repository")
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	s.Close()
}

// lockInit takes the lock file at the path, again when the file it waited
// for was removed meanwhile: holding a file no longer there kept out no
// one who opened the path after.
func TestLockInitFollowsARemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, _, err := lockInit(path)
	require.NoError(t, err)
	got := make(chan *flock, 1)
	go func() {
		lk, _, err := lockInit(path)
		assert.NoError(t, err)
		got <- lk
	}()
	time.Sleep(50 * time.Millisecond) // the second waits on the first's file
	require.NoError(t, os.Remove(path))
	first.unlock()
	first.f.Close()
	second := <-got
	require.NotNil(t, second)
	defer second.f.Close()
	held, err := second.f.Stat()
	require.NoError(t, err)
	now, err := os.Stat(path)
	require.NoError(t, err, "the file at the path")
	assert.True(t, os.SameFile(held, now), "the lock held is the file at the path")
	second.unlock()
}

// lockInit makes the lock file's folders again while a failed init takes
// its own back: a folder removed between making its parent and making it
// is made again, not an error (the CI saw an init waiting on a failed one
// fail with "mkdir ...: no such file or directory").
func TestLockInitRacesFoldersTakenBack(t *testing.T) {
	for range 100 {
		top := filepath.Join(t.TempDir(), "new")
		path := filepath.Join(top, "repo", "lock")
		stop := takeBackFolders(filepath.Dir(path), top)
		lk, _, err := lockInit(path)
		stop()
		require.NoError(t, err)
		lk.unlock()
		lk.f.Close()
	}
}

// takeBackFolders removes the folders, each when empty, in the order
// given (deepest first), over and over on a goroutine, as failed inits
// beside a test's take back theirs, until 20 removals of the last
// succeeded or the returned stop is called (which waits for it).
func takeBackFolders(dirs ...string) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for removed := 0; removed < 20; {
			select {
			case <-quit:
				return
			default:
			}
			for i, d := range dirs {
				if os.Remove(d) == nil && i == len(dirs)-1 {
					removed++
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// Init makes its folders again while failed inits beside it take theirs
// back (the facade's, emptied under the lock), and makes the repository.
func TestInitRacesFoldersTakenBack(t *testing.T) {
	for range 50 {
		top := filepath.Join(t.TempDir(), "new")
		dir := filepath.Join(top, ".evgit")
		// The facade's folders: store.Init takes back the log folder
		// under the lock.
		stop := takeBackFolders(dir, top)
		created, err := Init(nil, dir, "main")
		stop()
		require.NoError(t, err)
		require.True(t, created)
		s, err := Open(dir, Options{})
		require.NoError(t, err)
		s.Close()
	}
}
