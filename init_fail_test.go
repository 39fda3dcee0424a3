package evgit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
// then fails, and took back A's bare mark and storage (a helper's
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
	_, _, err := Init(context.Background(), dir, InitOptions{Bare: true})
	initFS = nil
	require.Error(t, err)
	assert.FileExists(t, filepath.Join(dir, "bare"), "A's bare mark")
	r, err := Open(context.Background(), dir)
	require.NoError(t, err, "A's repository")
	defer r.Close()
	_, err = r.Resolve(context.Background(), "HEAD")
	assert.NoError(t, err, "A's commit")
}
