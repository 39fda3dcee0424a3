package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// TestSegmentInAnotherSegmentsPlace: a segment file put in another's
// place is refused as corrupt, not read as an older repository. Before
// the checkpoint named its segment, swapping the newest segment with an
// older one (or restoring an older one over it) opened a repository
// rewound to that segment's refs, exit 0, took commits onto it, and gc
// then dropped the acknowledged ones for good (a helper's audit).
func TestSegmentInAnotherSegmentsPlace(t *testing.T) {
	var head object.ID
	build := func(t *testing.T) string {
		s, dir := newStore(t, Options{SealObjects: 10})
		for i := range 30 {
			head = appendCommit(t, s, i)
		}
		require.NoError(t, s.Close())
		return dir
	}
	seg := func(dir string, n uint32) string { return filepath.Join(dir, "log", segName(n)) }
	newest := func(t *testing.T, dir string) uint32 {
		segs, err := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
		require.NoError(t, err)
		require.Greater(t, len(segs), 2)
		return uint32(len(segs))
	}
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, dir string, last uint32)
	}{
		{"newest swapped with the first", func(t *testing.T, dir string, last uint32) {
			require.NoError(t, os.Rename(seg(dir, 1), seg(dir, 0)))
			require.NoError(t, os.Rename(seg(dir, last), seg(dir, 1)))
			require.NoError(t, os.Rename(seg(dir, 0), seg(dir, last)))
		}},
		{"newest replaced by the one before", func(t *testing.T, dir string, last uint32) {
			b, err := os.ReadFile(seg(dir, last-1))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(seg(dir, last), b, 0o644))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := build(t)
			last := newest(t, dir)
			c.damage(t, dir, last)
			_, err := Open(dir, Options{SealObjects: 10})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, "holds the frames of segment")
		})
	}

	// A segment without the record, as evgit wrote them before it, is
	// read as before (the newest one here: its checkpoint alone, and the
	// lock file without a durable mark, which its frames would not reach).
	t.Run("no record", func(t *testing.T) {
		dir := build(t)
		last := newest(t, dir)
		var p pack.Payload
		p.AddRecord(RecCheckpoint, []byte("HEAD"), refs.EncodeValue(refs.Value{Symbolic: "refs/heads/main"}))
		p.AddRecord(RecCheckpoint, []byte("refs/heads/main"), refs.EncodeValue(refs.Value{ID: head}))
		require.NoError(t, os.Remove(seg(dir, last)))
		require.NoError(t, pack.WriteSegment(pack.OS, seg(dir, last), pack.AppendFrame(nil, p.Bytes(), false)))
		require.NoError(t, os.Truncate(filepath.Join(dir, "lock"), 8))
		s, err := Open(dir, Options{SealObjects: 10})
		require.NoError(t, err)
		defer s.Close()
		got, _, ok := s.Resolve("HEAD")
		require.True(t, ok)
		assert.Equal(t, head, got)
	})
}

// TestInitOverAnOldLockFile: init of a folder whose log and format were
// removed but whose lock file was kept made a repository every command
// refused, the old durable mark claiming more of segment 1 than the new
// one held (a helper's review). Init records the mark of its own segment.
func TestInitOverAnOldLockFile(t *testing.T) {
	s, dir := newStore(t, Options{})
	for i := range 5 {
		appendCommit(t, s, i)
	}
	require.NoError(t, s.Close())
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "log")))
	require.NoError(t, os.Remove(filepath.Join(dir, "format")))
	created, err := Init(nil, dir, "main")
	require.NoError(t, err)
	require.True(t, created)
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	appendCommit(t, s, 0)
	require.NoError(t, s.Close())
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
}
