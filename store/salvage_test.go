package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// A damaged frame in the middle of the newest segment keeps the store
// from opening; opened to salvage, it skips that frame alone: the other
// commits read, the skipped frame is listed, every write is refused and
// nothing on disk changes.
func TestSalvageSkipsADamagedFrame(t *testing.T) {
	s, dir := newStore(t, Options{})
	var ids []object.ID
	for i := range 5 {
		ids = append(ids, appendCommit(t, s, i))
	}
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	// Each commit is a frame of its own, its ref move after its objects:
	// the commit's ID as the ref's new value lies in its frame.
	at := bytes.Index(b, ids[2][:])
	require.Positive(t, at)
	b[at] ^= 0x01
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)

	st, err := Open(dir, Options{Salvage: true})
	require.NoError(t, err)
	skipped := st.Salvaged()
	require.Len(t, skipped, 1)
	assert.Equal(t, segName(1), skipped[0].File)
	assert.ErrorIs(t, skipped[0].Err, ErrCorrupt)
	for i, id := range ids {
		_, err := st.Commit(id)
		if i == 2 {
			assert.ErrorIs(t, err, ErrNotFound, "the damaged frame's commit is not there")
		} else {
			assert.NoError(t, err, "commit %d", i)
		}
	}
	head, _, ok := st.Resolve("refs/heads/main")
	require.True(t, ok)
	assert.Equal(t, ids[4], head)
	err = st.Update(context.Background(), func(tx *Tx) error {
		tx.PutEvent(object.NewEvent("s", "T", 1, nil, []byte(`{}`)))
		return nil
	})
	assert.ErrorIs(t, err, ErrBroken, "read only")
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.True(t, string(after) == string(b), "nothing written")
	// fsck's log check lists the same frame.
	probs := verifyLog(t, st)
	require.Len(t, probs, 1)
	assert.Equal(t, skipped[0].Offset, probs[0].Offset)
	// Close closes its files, though the store refuses writes.
	require.NoError(t, st.Close())
	assert.True(t, st.closed)
	assert.Nil(t, st.segs)
}

// An index file that does not read keeps the store from opening; opened
// to salvage, the store reads the segments it covers instead (an index
// is derived data), and lists the file.
func TestSalvageScansPastADamagedIndex(t *testing.T) {
	dir, ids := sealedStore(t, 3)
	path := filepath.Join(dir, "log", idxName(2, 2))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)-7], 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)

	st, err := Open(dir, Options{Salvage: true})
	require.NoError(t, err)
	skipped := st.Salvaged()
	require.Len(t, skipped, 1)
	assert.Equal(t, idxName(2, 2), skipped[0].File)
	assert.Equal(t, int64(-1), skipped[0].Offset)
	for _, id := range ids {
		_, err := st.Commit(id)
		assert.NoError(t, err)
	}
	log, err := st.Reflog("refs/heads/main")
	require.NoError(t, err)
	assert.Len(t, log, len(ids))
	require.NoError(t, st.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, after, len(b)-7, "left as it was")
}
