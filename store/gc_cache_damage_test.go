package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// A frame decoded into the frame cache before the pack was damaged on
// disk: gc reads the kept snapshot's tree through the cache (whole,
// good) and counts it reachable, but the listing reads the frame from
// disk, finds it damaged and, with PruneNow, passes over it. gc kept the
// snapshot record naming a tree it dropped (a helper's review); now
// everything reachable must be written or listed, or gc refuses.
func TestGCRefusesWhenAReachableObjectIsNotListed(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	var last object.ID
	for i := range 5 {
		last = appendCommit(t, s, i)
	}
	mdl := object.Hash(object.KindBlob, []byte("model"))
	big := []byte(`{"x":"` + strings.Repeat("y", 400) + `"}`)
	var root, blob object.ID
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		blob = tx.PutObject(object.KindBlob, big)
		root = tx.PutTree(&object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "s-1", Version: 1, StateID: blob}}})
		tx.PutSnapshot(last, mdl, root)
		return nil
	}))
	_, err := s.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)
	// Read the tree and blob: their frame is now in the frame cache.
	_, _, _, err = s.Get(root)
	require.NoError(t, err)
	_, _, _, err = s.Get(blob)
	require.NoError(t, err)

	offs := s.packIdx.FrameOffsets()
	require.GreaterOrEqual(t, len(offs), 2)
	lastFrame := int64(offs[len(offs)-1])
	packs, _ := filepath.Glob(filepath.Join(dir, "log", "pack-*.pack"))
	require.Len(t, packs, 1)
	b, err := os.ReadFile(packs[0])
	require.NoError(t, err)
	at := lastFrame + pack.FrameHeaderSize + 5
	require.Less(t, at, int64(len(b)))
	b[at] ^= 0x5a
	f, err := os.OpenFile(packs[0], os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b[at:at+1], at)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	st, err := s.GC(ctx, GCOptions{PruneNow: true})
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		return // refused, nothing changed
	}
	got, ok, err := s.Snapshot(last, mdl)
	require.NoError(t, err)
	if ok {
		_, _, _, err = s.Get(got)
		require.NoError(t, err, "gc kept the snapshot record (kept=%d) but dropped its tree (damaged frames=%d)", st.SnapshotsKept, st.DamagedFrames)
	}
}
