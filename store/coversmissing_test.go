package store

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An index that names a segment with no file is refused on open, by
// name: a damaged one (its checksum fails) as damaged, an intact one as
// the loss of that segment. Before, a damaged one was taken, the next
// seal started the segment it named, and every later open failed with
// an error about a segment lost that never was.
func TestIndexCoveringAMissingSegment(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 10})
	for i := range 30 {
		appendCommit(t, s, i)
	}
	require.NoError(t, s.Close())
	idx, err := filepath.Glob(filepath.Join(dir, "log", "*.idx"))
	require.NoError(t, err)
	require.NotEmpty(t, idx)
	segs, err := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	require.NoError(t, err)
	path := idx[0]
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	// One bit of the first segment number: a number no file has.
	bad := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(bad[24:], binary.LittleEndian.Uint32(bad[24:])+uint32(len(segs)+5))
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Base(path)+" is damaged")
	assert.Contains(t, err.Error(), "remove it")

	// Removed, the repository opens and takes commits again.
	require.NoError(t, os.Remove(path))
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	appendCommit(t, s, 30)
	require.NoError(t, s.Close())
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// An intact index whose segment file is gone: that segment is lost.
	s, dir = newStore(t, Options{SealObjects: 10})
	for i := range 30 {
		appendCommit(t, s, i)
	}
	var first uint32
	for _, ix := range s.indexes {
		if ix != s.packRecs {
			first = ix.Segments()[0]
			break
		}
	}
	require.NoError(t, s.Close())
	require.NotZero(t, first)
	require.NoError(t, os.Remove(filepath.Join(dir, "log", segName(first))))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "the commits it held are lost")
}
