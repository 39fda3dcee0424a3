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
