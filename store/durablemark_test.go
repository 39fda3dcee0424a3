package store

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A damaged last frame looked just like an append a crash interrupted,
// so it was cut as a torn tail: a flipped bit in it, or the segment cut
// short at a frame boundary, silently took back commits that had been
// acknowledged, and fsck found nothing (a helper's audit). The lock file
// now records how much of the newest segment was synced; frames ending
// short of that are damage, never cut, and fsck names it.
func TestDamageBelowTheDurableMark(t *testing.T) {
	build := func(t *testing.T) (dir string, first, last int64) {
		s, dir := newStore(t, Options{})
		appendCommit(t, s, 0)
		first = s.segs[1].Size() // the last frame starts here
		appendCommit(t, s, 1)
		last = s.segs[1].Size()
		require.NoError(t, s.Close())
		return dir, first, last
	}
	t.Run("a flipped bit in the last frame", func(t *testing.T) {
		dir, first, last := build(t)
		openDamaged(t, dir, func(b []byte) { b[(first+last)/2] ^= 0x40 })
		assertSalvageNames(t, dir, first)
		_, err := os.Stat(filepath.Join(dir, LostFound))
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing was kept, since nothing was cut")
	})
	t.Run("the segment cut short at a frame boundary", func(t *testing.T) {
		dir, first, _ := build(t)
		seg := filepath.Join(dir, "log", segName(1))
		require.NoError(t, os.Truncate(seg, first))
		_, err := Open(dir, Options{})
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "synced")
		assertSalvageNames(t, dir, first)
	})
	t.Run("a torn append past the mark is still cut", func(t *testing.T) {
		dir, _, last := build(t)
		f, err := os.OpenFile(filepath.Join(dir, "log", segName(1)), os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, last)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		s, err := Open(dir, Options{})
		require.NoError(t, err)
		assert.Equal(t, int64(11), s.TornBytes())
		require.NoError(t, s.Close())
	})
	t.Run("a lock file without a mark, as older versions wrote it", func(t *testing.T) {
		dir, first, last := build(t)
		require.NoError(t, os.Truncate(filepath.Join(dir, "lock"), 8))
		seg := filepath.Join(dir, "log", segName(1))
		b, err := os.ReadFile(seg)
		require.NoError(t, err)
		b[(first+last)/2] ^= 0x40
		require.NoError(t, os.WriteFile(seg, b, 0o644))
		s, err := Open(dir, Options{})
		require.NoError(t, err, "cut as a torn tail, as before")
		assert.Equal(t, last-first, s.TornBytes())
		require.NoError(t, s.Close())
	})
	t.Run("a mark that does not check is no mark", func(t *testing.T) {
		dir, first, _ := build(t)
		lock := filepath.Join(dir, "lock")
		b, err := os.ReadFile(lock)
		require.NoError(t, err)
		require.Len(t, b, markOff+markSize)
		b[markOff+5] ^= 1
		require.NoError(t, os.WriteFile(lock, b, 0o644))
		require.NoError(t, os.Truncate(filepath.Join(dir, "log", segName(1)), first))
		s, err := Open(dir, Options{})
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	// The mark names the frame synced last, not only its end: a longer
	// file of another copy of the repository (diverged from this one
	// within the segment) was read as this one's, and gc then dropped the
	// commits only this copy held (a helper's review).
	t.Run("another copy's segment, longer than the mark", func(t *testing.T) {
		s, base := newStore(t, Options{})
		appendCommit(t, s, 0)
		require.NoError(t, s.Close())
		other := filepath.Join(t.TempDir(), ".evgit")
		require.NoError(t, os.CopyFS(other, os.DirFS(base)))
		for dir, n := range map[string]int{base: 2, other: 4} {
			s, err := Open(dir, Options{})
			require.NoError(t, err)
			for i := range n {
				appendCommit(t, s, 10*n+i)
			}
			require.NoError(t, s.Close())
		}
		b, err := os.ReadFile(filepath.Join(other, "log", segName(1)))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(base, "log", segName(1)), b, 0o644))
		_, err = Open(base, Options{})
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "the frame synced last")
		s, err = Open(base, Options{Salvage: true})
		require.NoError(t, err)
		assert.NotEmpty(t, s.Salvaged())
		require.NoError(t, s.Close())
	})
	t.Run("a mark of 16 bytes, as evgit wrote it before session 30", func(t *testing.T) {
		dir, first, last := build(t)
		lock := filepath.Join(dir, "lock")
		b, err := os.ReadFile(lock)
		require.NoError(t, err)
		binary.LittleEndian.PutUint32(b[markOff+12:], crc32.Checksum(b[markOff:markOff+12], castagnoli))
		require.NoError(t, os.WriteFile(lock, b[:markOff+markSize16], 0o644))
		m, ok := (&flock{f: openFile(t, lock)}).mark()
		require.True(t, ok)
		assert.Equal(t, Mark{Seg: 1, End: last}, m)
		require.NoError(t, os.Truncate(filepath.Join(dir, "log", segName(1)), first))
		_, err = Open(dir, Options{})
		require.ErrorIs(t, err, ErrCorrupt, "read still")
		require.ErrorContains(t, err, "synced")
	})
}

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// assertSalvageNames checks that a salvage open (fsck's) reports the
// newest segment's damage at off.
func assertSalvageNames(t *testing.T, dir string, off int64) {
	t.Helper()
	s, err := Open(dir, Options{Salvage: true})
	require.NoError(t, err)
	defer s.Close()
	found := false
	for _, p := range s.Salvaged() {
		if p.File == segName(1) && p.Offset == off {
			found = true
		}
	}
	assert.True(t, found, "salvage lists the damage: %v", s.Salvaged())
}
