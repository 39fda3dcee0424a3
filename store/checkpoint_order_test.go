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
	// The frame starts with the record naming the segment.
	require.NotEmpty(t, entries)
	require.Equal(t, uint8(RecSegment), entries[0].Kind)
	_, named, err := entries[0].Record()
	require.NoError(t, err)
	require.Empty(t, SegmentRecordProblem(uint32(len(segs)), named))
	var names []string
	for _, e := range entries[1:] {
		require.Equal(t, uint8(RecCheckpoint), e.Kind)
		key, _, err := e.Record()
		require.NoError(t, err)
		names = append(names, string(key))
	}
	require.Len(t, names, 42) // HEAD, main and the tags
	require.True(t, slices.IsSorted(names), "%q", names)
}

// TestNewSegmentNeedsNoGrowthSync: a new segment is written with zeros
// past its checkpoint, so the first commit after init and after a seal
// syncs once, its frame, and not first the zeros it would grow the file
// by (a helper's syscall audit found two syncs there).
func TestNewSegmentNeedsNoGrowthSync(t *testing.T) {
	fsys := newFaultFS()
	dir := filepath.Join(t.TempDir(), ".evgit")
	_, err := Init(fsys, dir, "main")
	require.NoError(t, err)
	s, err := Open(dir, Options{FS: fsys})
	require.NoError(t, err)
	defer s.Close()
	syncsOf := func(commit func()) int {
		fsys.mu.Lock()
		from := len(fsys.trace)
		fsys.mu.Unlock()
		commit()
		fsys.mu.Lock()
		defer fsys.mu.Unlock()
		n := 0
		for _, c := range fsys.trace[from:] {
			if c.Op == "Sync" {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, syncsOf(func() { appendCommit(t, s, 0) }), "the first commit after init")
	require.Equal(t, 1, syncsOf(func() { appendCommit(t, s, 1) }))
	_, err = s.Seal(0)
	require.NoError(t, err)
	require.Equal(t, 1, syncsOf(func() { appendCommit(t, s, 2) }), "the first commit after a seal")
}
