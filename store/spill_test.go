package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// TestSpilledFrameIsWrittenWhole: a prepared transaction whose frame
// was set aside in a spill file is written as if it had stayed in
// memory, its objects found where they landed; the spill file leaves no
// name behind.
func TestSpilledFrameIsWrittenWhole(t *testing.T) {
	ctx := context.Background()
	s, dir, head, sp := spillStore(t)
	for _, d := range []string{dir, filepath.Join(dir, "log")} {
		ents, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, e := range ents {
			assert.NotContains(t, e.Name(), "spill", "the spill file has no name")
		}
	}

	tx, cid := prepare(t, s, head, 1)
	assert.Equal(t, len(tx.frame)+len(tx.sealedObjs)*sealedObjSize, tx.SealedSize())
	require.NoError(t, tx.SpillFrame(sp))
	assert.Nil(t, tx.frame, "the frame left memory")
	assert.Nil(t, tx.sealedObjs, "and its objects' IDs")
	assert.Zero(t, tx.SealedSize())
	require.Error(t, tx.SpillFrame(sp), "set aside once")
	require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
	got, _, _ := s.Resolve("refs/heads/main")
	assert.Equal(t, cid, got)
	_, _, _, err := s.Get(cid)
	require.NoError(t, err, "the commit is found where it landed")

	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	_, _, _, err = s2.Get(cid)
	require.NoError(t, err, "and after opening again")
}

// TestDamagedSpillIsNotWritten: a spilled frame that reads back other
// than it was written is an error, and nothing is written.
func TestDamagedSpillIsNotWritten(t *testing.T) {
	ctx := context.Background()
	s, dir, head, sp := spillStore(t)
	tx, _ := prepare(t, s, head, 1)
	require.NoError(t, tx.SpillFrame(sp))
	size := func() int64 {
		var n int64
		ents, err := os.ReadDir(filepath.Join(dir, "log"))
		require.NoError(t, err)
		for _, e := range ents {
			fi, err := e.Info()
			require.NoError(t, err)
			n += fi.Size()
		}
		return n
	}
	was := size()
	_, err := sp.f.WriteAt([]byte{0xff}, tx.spilled.off+int64(tx.spilled.n)/2)
	require.NoError(t, err)
	err = s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil })
	require.ErrorContains(t, err, "read back damaged")
	got, _, _ := s.Resolve("refs/heads/main")
	assert.Equal(t, head, got, "main did not move")
	assert.Equal(t, was, size(), "nothing written")
}

// spillStore is a store with one commit on main, and a spill file of it
// that the test's end closes.
func spillStore(t *testing.T) (*Store, string, object.ID, *Spill) {
	t.Helper()
	s, dir := newStore(t, Options{})
	head := appendCommit(t, s, 0)
	sp, err := s.NewSpill()
	require.NoError(t, err)
	t.Cleanup(func() { sp.Close() })
	return s, dir, head, sp
}
