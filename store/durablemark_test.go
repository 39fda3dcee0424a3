package store

import (
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
