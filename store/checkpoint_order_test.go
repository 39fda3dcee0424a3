package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// TestCheckpointInNameOrder: a new segment's checkpoint lists the refs in
// byte order of their names, so the same refs give the same bytes (it was
// Go's map order, which changes from run to run; a helper's format
// audit).
func TestCheckpointInNameOrder(t *testing.T) {
	s, dir := newStore(t, Options{})
	head := appendCommit(t, s, 0)
	err := s.Update(context.Background(), func(tx *Tx) error {
		for i := range 40 {
			name := fmt.Sprintf("refs/tags/t%02d", (i*17)%40)
			if err := tx.UpdateRef(refs.Update{Name: name, New: head, Message: "tag"}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	_, err = s.Seal(0)
	require.NoError(t, err)
	segs, err := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	require.NoError(t, err)
	slices.Sort(segs)
	seg, err := pack.OpenSegment(pack.OS, segs[len(segs)-1], uint32(len(segs)), false)
	require.NoError(t, err)
	defer seg.Close()
	payload, _, err := seg.ReadFrame(int64(len(pack.SegmentMagic)))
	require.NoError(t, err)
	entries, err := pack.ParseEntries(payload)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		require.Equal(t, uint8(RecCheckpoint), e.Kind)
		key, _, err := e.Record()
		require.NoError(t, err)
		names = append(names, string(key))
	}
	require.Len(t, names, 42) // HEAD, main and the tags
	require.True(t, slices.IsSorted(names), "%q", names)
}
