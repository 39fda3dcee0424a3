package evgit

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/pack"
)

// noSpaceFS is the operating system's file system, with no room for a
// file whose name ends in full.
type noSpaceFS struct {
	pack.FS
	full string
}

func (f noSpaceFS) OpenFile(name string, flag int, perm os.FileMode) (pack.File, error) {
	if strings.HasSuffix(name, f.full) {
		return nil, &os.PathError{Op: "write", Path: name, Err: errors.New("no space left on device")}
	}
	return f.FS.OpenFile(name, flag, perm)
}

// An init that fails (a full disk) leaves nothing of the repository it
// began: not the folders it made, not the bare mark (a helper's audit
// found a lock file and a log folder left, which were no repository).
func TestInitFailureTakesBackWhatItMade(t *testing.T) {
	for _, full := range []string{"format.tmp", ".seg.tmp"} {
		for _, bare := range []bool{false, true} {
			initFS = noSpaceFS{FS: pack.OS, full: full}
			dir := filepath.Join(t.TempDir(), "new", "repo")
			_, _, err := Init(context.Background(), dir, InitOptions{Bare: bare})
			initFS = nil
			require.Error(t, err, "%s bare=%v", full, bare)
			assert.NoDirExists(t, filepath.Dir(dir), "%s bare=%v: the folders init made", full, bare)
			// In a folder that was there, the folder stays, empty.
			dir = t.TempDir()
			initFS = noSpaceFS{FS: pack.OS, full: full}
			_, _, err = Init(context.Background(), dir, InitOptions{Bare: bare})
			initFS = nil
			require.Error(t, err)
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, ents, "%s bare=%v", full, bare)
		}
	}
}

// raceInitFS runs another init in its first MkdirAll, then fails every
// folder sync.
type raceInitFS struct {
	pack.FS
	other func()
	ran   *bool
}

func (f raceInitFS) MkdirAll(name string, perm os.FileMode) error {
	if !*f.ran {
		*f.ran = true
		f.other()
	}
	return f.FS.MkdirAll(name, perm)
}

func (f raceInitFS) SyncDir(name string) error {
	if *f.ran {
		return errors.New("injected: transient error")
	}
	return f.FS.SyncDir(name)
}

// Two `init --bare` of one folder at once: A finishes while B runs; B
// then failed, and took back A's bare mark and storage (a helper's
// review). A's repository stays, bare, with its commit.
func TestConcurrentBareInitFailureKeepsTheOther(t *testing.T) {
	dir := t.TempDir()
	ran := false
	initFS = raceInitFS{FS: pack.OS, ran: &ran, other: func() {
		saved := initFS
		initFS = nil
		r, created, err := Init(context.Background(), dir, InitOptions{Bare: true})
		initFS = saved
		require.NoError(t, err)
		require.True(t, created)
		_, err = r.Append(context.Background(), []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":5}`)}, AppendOptions{})
		require.NoError(t, err)
		r.Close()
	}}
	// B finds, once it holds the lock, the repository A made.
	_, _, err := Init(context.Background(), dir, InitOptions{Bare: true})
	initFS = nil
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "bare"), "A's bare mark")
	r, err := Open(context.Background(), dir)
	require.NoError(t, err, "A's repository")
	defer r.Close()
	_, err = r.Resolve(context.Background(), "HEAD")
	assert.NoError(t, err, "A's commit")
}

// orderFS: the first MkdirAll (B's) starts A and waits until A reaches its
// own MkdirAll, where A waits for release; the first SyncDir (B's) fails.
type orderFS struct {
	pack.FS
	mu        sync.Mutex
	mkdirs    int
	syncFails int
	startA    func()
	aReached  chan struct{}
	release   chan struct{}
}

func (f *orderFS) MkdirAll(name string, perm os.FileMode) error {
	f.mu.Lock()
	f.mkdirs++
	n := f.mkdirs
	f.mu.Unlock()
	switch n {
	case 1: // B
		f.startA()
		<-f.aReached
	case 2: // A
		close(f.aReached)
		<-f.release
	}
	return f.FS.MkdirAll(name, perm)
}

func (f *orderFS) SyncDir(name string) error {
	f.mu.Lock()
	fail := f.syncFails == 0
	f.syncFails++
	f.mu.Unlock()
	if fail {
		return errors.New("injected: transient error")
	}
	return f.FS.SyncDir(name)
}

// Two `init --bare` of a folder: B marks it bare, A finds the mark and
// goes on to make the storage; B fails before A has made it and takes the
// mark back. A's repository was then not bare, its work tree the folder
// above (a helper's review): A writes the mark again.
func TestBareInitKeepsItsMarkWhenAnotherFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	fsys := &orderFS{FS: pack.OS, aReached: make(chan struct{}), release: make(chan struct{})}
	type res struct {
		created bool
		err     error
		bare    bool
	}
	aDone := make(chan res, 1)
	fsys.startA = func() {
		go func() {
			r, created, err := Init(context.Background(), dir, InitOptions{Bare: true})
			out := res{created: created, err: err}
			if err == nil {
				out.bare = r.WorkTree() == ""
				r.Close()
			}
			aDone <- out
		}()
	}
	initFS = fsys
	defer func() { initFS = nil }()
	_, _, errB := Init(context.Background(), dir, InitOptions{Bare: true})
	require.Error(t, errB, "B")
	close(fsys.release)
	a := <-aDone
	require.NoError(t, a.err, "A")
	assert.True(t, a.created)
	assert.FileExists(t, filepath.Join(dir, "bare"), "A's repository is bare")
	assert.True(t, a.bare, "A's repository opens bare")
	r, err := Open(context.Background(), dir)
	require.NoError(t, err)
	assert.Empty(t, r.WorkTree())
	r.Close()
}

// failFirstFormat fails the first write of format.tmp, after starting B
// and giving it time to wait on the lock.
type failFirstFormat struct {
	pack.FS
	mu     sync.Mutex
	done   bool
	onFail func()
}

func (f *failFirstFormat) OpenFile(name string, flag int, perm os.FileMode) (pack.File, error) {
	if filepath.Base(name) == "format.tmp" {
		f.mu.Lock()
		first := !f.done
		f.done = true
		f.mu.Unlock()
		if first {
			f.onFail()
			return nil, &os.PathError{Op: "write", Path: name, Err: errors.New("no space left on device")}
		}
	}
	return f.FS.OpenFile(name, flag, perm)
}

// A fails while B waits on the lock A holds: B makes the repository,
// though A's facade took back the folders it made (lockInit makes them
// again, as B had made them; a helper's review found B failing).
func TestWaitingInitMakesTheFoldersAgain(t *testing.T) {
	fails := 0
	var last error
	for range 10 {
		dir := filepath.Join(t.TempDir(), "new")
		bDone := make(chan error, 1)
		fsys := &failFirstFormat{FS: pack.OS}
		fsys.onFail = func() {
			go func() {
				r, _, err := Init(context.Background(), dir, InitOptions{})
				if err == nil {
					r.Close()
				}
				bDone <- err
			}()
			time.Sleep(20 * time.Millisecond) // B waits on A's lock
		}
		initFS = fsys
		_, _, errA := Init(context.Background(), dir, InitOptions{})
		require.Error(t, errA)
		errB := <-bDone
		initFS = nil
		if errB != nil {
			fails++
			last = errB
		}
	}
	assert.Zero(t, fails, "B failed %d of 10 times, last: %v", fails, last)
}

// Inits of one folder at once, bare or not: every one succeeds and one
// made the repository (a helper's audit found bare ones failing on the
// mark's one temporary name, all renaming it).
func TestConcurrentInitsAllSucceed(t *testing.T) {
	for _, bare := range []bool{false, true} {
		for range 10 {
			dir := filepath.Join(t.TempDir(), "sub", "repo")
			var wg sync.WaitGroup
			var mu sync.Mutex
			made, errs := 0, []error(nil)
			for range 12 {
				wg.Go(func() {
					r, created, err := Init(context.Background(), dir, InitOptions{Bare: bare})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					if created {
						made++
					}
					r.Close()
				})
			}
			wg.Wait()
			require.Empty(t, errs, "bare=%v", bare)
			assert.Equal(t, 1, made, "bare=%v: one init made it", bare)
			r, err := Open(context.Background(), dirOf(dir, bare))
			require.NoError(t, err)
			assert.Equal(t, bare, r.WorkTree() == "", "bare=%v", bare)
			r.Close()
		}
	}
}

// dirOf is the repository folder of an init of dir.
func dirOf(dir string, bare bool) string {
	if bare {
		return dir
	}
	return filepath.Join(dir, DirName)
}

// Inits of one new folder at once on a full disk all fail, and leave no
// file: a helper's audit found a lock file left, made again by an init
// that waited for the lock of one that failed and took it back. (An
// empty folder may stay, made by one init while another, which did not
// make it, was the last to fail.)
func TestConcurrentInitsOnAFullDiskLeaveNoFile(t *testing.T) {
	initFS = noSpaceFS{FS: pack.OS, full: "format.tmp"}
	defer func() { initFS = nil }()
	for range 20 {
		root := t.TempDir()
		dir := filepath.Join(root, "r", "w")
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, _, err := Init(context.Background(), dir, InitOptions{})
				assert.Error(t, err)
			})
		}
		wg.Wait()
		var files []string
		require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		}))
		assert.Empty(t, files)
	}
}
