package evgit

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OpenWith keeps the frame cache within the budget it is given, and
// refuses a negative one.
func TestOpenWithCacheBudget(t *testing.T) {
	ctx := context.Background()
	w := streamLogRepo(t, 200)
	dir := w.gitDir
	require.NoError(t, w.Close())

	_, err := OpenWith(ctx, dir, OpenOptions{CacheBytes: -1})
	require.ErrorIs(t, err, ErrInvalid)

	for _, budget := range []int{0, 16 << 10} {
		r, err := OpenWith(ctx, dir, OpenOptions{CacheBytes: budget})
		require.NoError(t, err)
		for _, err := range r.Log(ctx, LogOptions{}) {
			require.NoError(t, err)
		}
		frames, bytes := r.st.CacheUse()
		if budget == 0 {
			assert.GreaterOrEqual(t, frames, 200, "the default budget keeps every frame read")
		} else {
			assert.Less(t, frames, 50, "budget %d", budget)
			assert.LessOrEqual(t, bytes, budget, "budget %d", budget)
		}
		require.NoError(t, r.Close())
	}
}

// Discover refuses a folder that is not there, or a file, as `git -C`
// does, where it used to walk up from the missing path to the repository
// of a parent (a helper's audit); a folder inside the work tree finds it.
func TestDiscoverRefusesAMissingFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, _, err := Init(ctx, dir, InitOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "file"), nil, 0o644))

	r, err = Discover(ctx, filepath.Join(dir, "sub", "deeper"))
	require.NoError(t, err)
	require.NoError(t, r.Close())

	_, err = Discover(ctx, filepath.Join(dir, "sub", "missing"))
	require.ErrorIs(t, err, ErrNotRepository)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "missing")
	_, err = Discover(ctx, filepath.Join(dir, "sub", "file"))
	require.ErrorIs(t, err, ErrNotRepository)
	assert.Contains(t, err.Error(), "not a folder")
	_, err = FindGitDir(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, ErrNotRepository)
}

// A repository folder whose format file cannot be looked at (a folder
// the user may not enter, too many open files) is an error naming it:
// discovery does not take it for no repository and walk on to one further
// up (a helper's audit saw "not an evgit repository" for a folder the user
// could not read). A loop of symbolic links or a path too long is no
// repository, as for Git: the walk goes on (a review).
func TestDiscoverStopsAtAFormatItCannotLookAt(t *testing.T) {
	ctx := context.Background()
	outer := t.TempDir()
	r, _, err := Init(ctx, outer, InitOptions{})
	require.NoError(t, err)
	r.Close()
	inner := filepath.Join(outer, "sub", DirName)
	require.NoError(t, os.MkdirAll(filepath.Join(inner, "log"), 0o755))
	require.NoError(t, os.Symlink("format", filepath.Join(inner, "format")))
	found, err := FindGitDir(filepath.Join(outer, "sub"))
	require.NoError(t, err, "a loop is no repository")
	assert.Equal(t, filepath.Join(outer, DirName), found)

	failWith := func(errno syscall.Errno) {
		statFormat = func(name string) (os.FileInfo, error) {
			if filepath.Dir(name) == inner {
				return nil, &fs.PathError{Op: "stat", Path: name, Err: errno}
			}
			return os.Stat(name)
		}
	}
	defer func() { statFormat = os.Stat }()
	failWith(syscall.ENAMETOOLONG) // a work tree deep enough to pass PATH_MAX
	found, err = FindGitDir(filepath.Join(outer, "sub"))
	require.NoError(t, err, "a path too long is no repository")
	assert.Equal(t, filepath.Join(outer, DirName), found)

	failWith(syscall.EACCES)
	_, err = Discover(ctx, filepath.Join(outer, "sub"))
	require.Error(t, err, "not the outer repository")
	assert.Equal(t, "cannot look for a repository in "+inner+": permission denied", err.Error())
	assert.NotErrorIs(t, err, ErrNotRepository)
	assert.ErrorIs(t, err, fs.ErrPermission)
}
