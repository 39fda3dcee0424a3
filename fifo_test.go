//go:build unix

package evgit

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A FIFO in a repository file's place is refused by name, never waited
// on: opening one blocks until something writes to it, and every command
// with it, fsck included.
func TestFIFOInAFilesPlace(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"format", "log/00000001.seg", "cache/line"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r, _, err := Init(ctx, dir, InitOptions{})
			require.NoError(t, err)
			for range lineCacheMin + 10 {
				_, err := r.Append(ctx, []EventInput{ev("s", "T", `{"n":1}`)}, AppendOptions{})
				require.NoError(t, err)
			}
			streamLogIDs(t, r, "s") // the line cache, saved at Close
			require.NoError(t, r.Close())
			path := filepath.Join(dir, DirName, name)
			require.NoError(t, os.Remove(path))
			require.NoError(t, syscall.Mkfifo(path, 0o644))

			// What Open refuses, or fsck reports.
			done := make(chan string, 1)
			go func() {
				r, err := Open(ctx, filepath.Join(dir, DirName))
				if err != nil {
					done <- err.Error()
					return
				}
				defer r.Close()
				rep, err := r.Fsck(ctx, FsckOptions{})
				switch {
				case err != nil:
					done <- err.Error()
				case rep.OK || len(rep.Problems) == 0:
					done <- "fsck found nothing"
				default:
					done <- rep.Problems[0].Message
				}
			}()
			select {
			case msg := <-done:
				assert.Contains(t, msg, "not a regular file")
			case <-time.After(30 * time.Second):
				t.Fatal("blocked on the FIFO")
			}
		})
	}
}

// init refuses a format file that is not a regular file, as it refuses
// one that is not evgit's: it writes nothing there.
func TestInitKeepsAFIFONamedFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DirName, "format")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, syscall.Mkfifo(path, 0o644))
	_, _, err := Init(context.Background(), dir, InitOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	st, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, st.Mode().Type(), "left as it was")
}
