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
)

// TestInitBareStoppedAfterStorage stops init --bare of a folder named
// .evgit just after it made the storage, as a crash would, and runs it
// again: the second run finishes a bare repository. The mark used to be
// written after the storage, so the rerun took the storage for a work
// tree's repository and refused it.
func TestInitBareStoppedAfterStorage(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "x", DirName)
	crash := errors.New("stopped")
	initStopsHere = func() error { return crash }
	_, _, err := Init(ctx, dir, InitOptions{Bare: true})
	initStopsHere = func() error { return nil }
	require.ErrorIs(t, err, crash)

	r, created, err := Init(ctx, dir, InitOptions{Bare: true})
	require.NoError(t, err)
	defer r.Close()
	require.False(t, created, "the storage was made by the first run")
	require.FileExists(t, filepath.Join(dir, "bare"))
	require.Empty(t, r.workTree, "a bare repository has no work tree")
	_, err = r.Append(ctx, []EventInput{{Stream: "a", Type: "Opened", Data: []byte(`{}`)}}, AppendOptions{})
	require.NoError(t, err)
}

// TestInitBareKeepsAWorkTreesRepository: init --bare of the repository
// of a work tree still refuses, and leaves no mark.
func TestInitBareKeepsAWorkTreesRepository(t *testing.T) {
	ctx := context.Background()
	wt := t.TempDir()
	r, _, err := Init(ctx, wt, InitOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, _, err = Init(ctx, filepath.Join(wt, DirName), InitOptions{Bare: true})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = os.Stat(filepath.Join(wt, DirName, "bare"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A plain init of a folder where an init --bare stopped after its mark,
// before the storage, makes a work tree's repository: the mark goes.
// Found by a helper's review.
func TestInitOverAStoppedBareInit(t *testing.T) {
	ctx := context.Background()
	wt := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(wt, DirName), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(wt, DirName, "bare"), nil, 0o644))
	r, created, err := Init(ctx, wt, InitOptions{})
	require.NoError(t, err)
	defer r.Close()
	require.True(t, created)
	require.Equal(t, wt, r.WorkTree())
	require.NoFileExists(t, filepath.Join(wt, DirName, "bare"))
}

// A path init cannot make is named with the reason, not by the first
// step that trips on it (removing a bare mark, said a helper's audit).
func TestInitNamesAPathItCannotMake(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644))
	for _, c := range []struct{ path, why string }{
		{filepath.Join(dir, "afile", "x"), "a folder on its path is a file"},
		{filepath.Join(dir, strings.Repeat("x", 300)), "file name too long"},
		{filepath.Join(dir, "nul\x00x"), "invalid argument"},
	} {
		_, _, err := Init(ctx, c.path, InitOptions{})
		require.ErrorIs(t, err, ErrInvalid, c.path)
		assert.ErrorContains(t, err, "cannot make a repository in")
		assert.ErrorContains(t, err, c.why)
		assert.NotContains(t, err.Error(), "bare")
	}
}

// TestInitMakesOneRepositoryAFolder: init --bare of a folder that holds
// a work tree's .evgit, and init of a bare repository's folder, refuse
// and write nothing; each made a second repository beside the first,
// and commands run there found only one of them.
func TestInitMakesOneRepositoryAFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, _, err := Init(ctx, dir, InitOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, _, err = Init(ctx, dir, InitOptions{Bare: true})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, "invalid input: "+dir+" holds the repository of a work tree (.evgit); init --bare makes no second one there", err.Error())
	assert.Equal(t, []string{DirName}, dirNames(t, dir), "nothing written")

	bare := t.TempDir()
	r, _, err = Init(ctx, bare, InitOptions{Bare: true})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	before := dirNames(t, bare)
	_, _, err = Init(ctx, bare, InitOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, "invalid input: "+bare+" is a bare repository; init makes no work tree's repository inside it", err.Error())
	assert.Equal(t, before, dirNames(t, bare), "nothing written")

	// Each init run again is still harmless.
	for _, c := range []struct {
		dir  string
		bare bool
	}{{dir, false}, {bare, true}} {
		r, created, err := Init(ctx, c.dir, InitOptions{Bare: c.bare})
		require.NoError(t, err)
		assert.False(t, created)
		require.NoError(t, r.Close())
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestCloseOfAFailedOpen: the nil Repository a failed Open returns
// closes without a panic, so `defer r.Close()` may come before the
// error check.
func TestCloseOfAFailedOpen(t *testing.T) {
	r, err := Open(context.Background(), filepath.Join(t.TempDir(), "none"))
	require.Error(t, err)
	assert.NoError(t, r.Close())
}
