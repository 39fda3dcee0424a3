package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// Two readers going through two frames at once, with a cache too small
// for both, read each frame from the file once with FrameReader; through
// Get, they push each other's frame out and read it again for every
// object (a helper's review of fsck on two cores: nine times slower on
// frames larger than half the cache).
func TestFrameReaderKeepsItsFrame(t *testing.T) {
	_, dir := newStore(t, Options{})
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	var frames [2][]object.ID
	for f := range frames {
		require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
			for i := range 50 {
				frames[f] = append(frames[f], tx.PutObject(object.KindBlob, fmt.Appendf(nil, `{"frame":%d,"i":%d}`, f, i)))
			}
			return nil
		}))
	}
	require.NoError(t, s.Close())

	fsys := newFaultFS()
	var reads atomic.Int64
	fsys.before = func(c fsCall) {
		if c.Op == "ReadAt" && strings.HasSuffix(c.Path, ".seg") && c.Len > pack.FrameHeaderSize {
			reads.Add(1)
		}
	}
	s, err = Open(dir, Options{FS: fsys, CacheBytes: 1})
	require.NoError(t, err)
	defer s.Close()
	locs := map[object.ID]pack.Location{}
	require.NoError(t, s.Objects(func(id object.ID, loc pack.Location) error {
		locs[id] = loc
		return nil
	}))

	readBoth := func(get func(f int, id object.ID) ([]byte, error)) int64 {
		before := reads.Load()
		for i := range frames[0] {
			for f := range frames {
				body, err := get(f, frames[f][i])
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf(`{"frame":%d,"i":%d}`, f, i), string(body))
			}
		}
		return reads.Load() - before
	}
	readers := [2]*FrameReader{s.NewFrameReader(), s.NewFrameReader()}
	assert.Equal(t, int64(2), readBoth(func(f int, id object.ID) ([]byte, error) {
		_, body, _, err := readers[f].Get(id, locs[id])
		return body, err
	}), "each frame read once")
	assert.Greater(t, readBoth(func(_ int, id object.ID) ([]byte, error) {
		_, body, _, err := s.Get(id)
		return body, err
	}), int64(90), "through the cache alone, read again and again")
}
