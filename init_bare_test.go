package evgit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
