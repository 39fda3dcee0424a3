package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/pack"
)

// holdLockElsewhere opens a second store on dir and takes its lock, as another
// process holding the repository lock would. release undoes it.
func holdLockElsewhere(t *testing.T, dir string) (release func()) {
	t.Helper()
	// The lock file alone, as another process holding it has it: no
	// load, so nothing is cut by the holder.
	h, err := openLock(filepath.Join(dir, "lock"))
	require.NoError(t, err)
	require.NoError(t, h.lock())
	var once sync.Once
	release = func() {
		once.Do(func() {
			h.unlock()
			h.f.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func writeAtPath(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// A torn tail seen by an open without the lock is neither cut nor
// reported; the first write, under the lock, cuts it (kept) and appends
// where it began.
func TestOpenUnlockedTornTailFirstWriteCuts(t *testing.T) {
	s, dir := newStore(t, Options{})
	id0 := appendCommit(t, s, 0)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	writeAtPath(t, seg, []byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, end)

	release := holdLockElsewhere(t, dir)
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, int64(0), s2.TornBytes())
	head, _, _ := s2.Resolve("HEAD")
	assert.Equal(t, id0, head)
	release()
	id1 := appendCommit(t, s2, 1)
	assert.Equal(t, int64(11), s2.TornBytes(), "the first write cut the tail")
	kept, err := os.ReadFile(filepath.Join(dir, s2.TornKept()))
	require.NoError(t, err)
	assert.Equal(t, []byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, kept)
	require.NoError(t, s2.Close())

	s3, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s3.Close()
	assert.Equal(t, int64(0), s3.TornBytes())
	head, _, _ = s3.Resolve("HEAD")
	assert.Equal(t, id1, head)
	_, err = s3.Commit(id0)
	assert.NoError(t, err)
}

// A torn write whose first bytes are zeros (a power loss keeps sectors
// in any order) is cut by a locked open, which verifies the tail, and,
// after an open without the lock, by the first write, which loads again
// as a locked open does. Found by a helper's audit: that write caught up
// from where the open stopped without verifying the tail, the stray
// bytes stayed past the logical end, and a later torn frame in front of
// them read as corruption (the repository no longer opened).
func TestOpenUnlockedZeroHeadedTearIsCutByTheFirstWrite(t *testing.T) {
	for _, unlocked := range []bool{false, true} {
		name := "locked"
		if unlocked {
			name = "unlocked"
		}
		t.Run(name, func(t *testing.T) {
			s, dir := newStore(t, Options{})
			appendCommit(t, s, 0)
			end := s.segs[1].Size()
			require.NoError(t, s.Close())
			seg := filepath.Join(dir, "log", segName(1))
			// Zeros where the header would be, stray bytes 2 KiB on.
			writeAtPath(t, seg, []byte{9, 9, 9, 9, 9, 9, 9, 9}, end+2048)

			var release func()
			if unlocked {
				release = holdLockElsewhere(t, dir)
			}
			s2, err := Open(dir, Options{})
			require.NoError(t, err)
			if release != nil {
				release()
			}
			id1 := appendCommit(t, s2, 1)
			last := s2.segs[1].Size()
			require.NoError(t, s2.Close())
			// A process killed in its next append leaves the header and
			// part of the frame: a torn tail like any other.
			writeAtPath(t, seg, []byte{200, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 1, 2, 3}, last)

			s3, err := Open(dir, Options{})
			require.NoError(t, err, "a kill's torn tail must open (cut), not read as corruption")
			defer s3.Close()
			head, _, _ := s3.Resolve("HEAD")
			assert.Equal(t, id1, head)
		})
	}
}

// hookFS is the OS file system with a hook called after each ReadAt of a
// file.
type hookFS struct {
	after func(path string, off int64, n int)
}

type hookFile struct {
	pack.File
	path string
	fs   *hookFS
}

func (h *hookFS) OpenFile(name string, flag int, perm fs.FileMode) (pack.File, error) {
	f, err := pack.OS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, path: name, fs: h}, nil
}
func (h *hookFS) Rename(o, n string) error                { return pack.OS.Rename(o, n) }
func (h *hookFS) Remove(n string) error                   { return pack.OS.Remove(n) }
func (h *hookFS) ReadDir(n string) ([]fs.DirEntry, error) { return pack.OS.ReadDir(n) }
func (h *hookFS) MkdirAll(n string, p fs.FileMode) error  { return pack.OS.MkdirAll(n, p) }
func (h *hookFS) SyncDir(n string) error                  { return pack.OS.SyncDir(n) }
func (f *hookFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	if f.fs.after != nil {
		f.fs.after(f.path, off, n)
	}
	return n, err
}

// An open that cannot take the lock scans the newest segment while the
// holder appends to it. It reads a frame half written, the holder then
// finishes it, syncs, and appends the next commit before the open looks
// for a whole frame after the damage: the frame, read again, is whole,
// and the open succeeds. Found by a helper's audit: the open failed as
// corrupt, though the log was whole (Refresh, which catches up without
// the lock, could meet the same race before Open could).
func TestOpenUnlockedReadsAFrameWrittenMeanwhile(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1)
	f2 := s.segs[1].Size()
	appendCommit(t, s, 2)
	f3 := s.segs[1].Size()
	appendCommit(t, s, 3)
	f4 := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	full, err := os.ReadFile(seg)
	require.NoError(t, err)

	release := holdLockElsewhere(t, dir)
	defer release()
	// The holder is in the middle of writing the frame at f2: its header
	// and a few bytes are there, nothing after.
	cut := f2 + pack.FrameHeaderSize + 4
	writeAtPath(t, seg, make([]byte, f4-cut), cut)
	done := false
	hfs := &hookFS{after: func(path string, off int64, n int) {
		if done || path != seg || off != f2+pack.FrameHeaderSize {
			return
		}
		done = true
		// The open read the half frame; the holder finishes it and
		// writes the next (both synced, acknowledged).
		writeAtPath(t, seg, full[cut:f4], cut)
	}}
	s2, err := Open(dir, Options{FS: hfs})
	require.True(t, done, "the hook ran")
	if err == nil {
		s2.Close()
	}
	require.NoError(t, err, "the log is whole: frames %d..%d were being appended", f2, f3)
}

// A store opened to salvage while another process holds the lock opens,
// refuses writes, and closes.
func TestOpenUnlockedSalvage(t *testing.T) {
	s, dir := newStore(t, Options{})
	id := appendCommit(t, s, 0)
	require.NoError(t, s.Close())
	release := holdLockElsewhere(t, dir)
	s2, err := Open(dir, Options{Salvage: true})
	require.NoError(t, err)
	head, _, _ := s2.Resolve("HEAD")
	assert.Equal(t, id, head)
	release()
	err = s2.Update(t.Context(), func(tx *Tx) error { tx.PutObject(1, []byte("x")); return nil })
	assert.True(t, errors.Is(err, ErrBroken), "%v", err)
	require.NoError(t, s2.Close())
	require.NoError(t, s2.Close())
}
