package evgit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A byte flipped in a frame of the pack that holds only snapshot trees
// stopped every gc for good, while every read worked (a helper's audit).
// Snapshots are derived data: gc now drops those whose trees it cannot
// read whole and goes on; damage anywhere else still stops it, writing
// nothing. Either way, history reads as before.
func TestGCDropsSnapshotsWhoseTreesAreDamaged(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, bankModelEvery(20))
	var in strings.Builder
	for i := range 600 {
		if i < 60 {
			fmt.Fprintf(&in, `{"stream":"acc-%03d","type":"AccountOpened","data":{"owner":"o%d"}}`+"\n", i, i)
		} else {
			fmt.Fprintf(&in, `{"stream":"acc-%03d","type":"MoneyDeposited","data":{"amount":%d}}`+"\n", i%60, i)
		}
	}
	_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
	_, err = r.GC(ctx, GCOptions{Prune: "now"})
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, r.Export(ctx, &want, ExportOptions{}))
	dir := filepath.Dir(r.GitDir())
	require.NoError(t, r.Close())
	packs, err := filepath.Glob(filepath.Join(dir, DirName, "log", "pack-*.pack"))
	require.NoError(t, err)
	require.Len(t, packs, 1)
	orig, err := os.ReadFile(packs[0])
	require.NoError(t, err)

	damagedTrees, refused, trial := map[string]int{}, 0, 0
	for off := 64; off < len(orig); off += len(orig) / 60 {
		// Half with the default grace: a damaged node, unreachable once
		// its snapshot is dropped, is not copied for its grace either.
		prune := []string{"now", ""}[trial%2]
		trial++
		copyDir := t.TempDir()
		require.NoError(t, os.CopyFS(copyDir, os.DirFS(dir)))
		b := bytes.Clone(orig)
		b[off] ^= 0x5a
		pack := filepath.Join(copyDir, DirName, "log", filepath.Base(packs[0]))
		require.NoError(t, os.WriteFile(pack, b, 0o644))
		r, err := Open(ctx, filepath.Join(copyDir, DirName))
		require.NoError(t, err)
		st, err := r.GC(ctx, GCOptions{Prune: prune})
		if err != nil && prune == "" && strings.Contains(err.Error(), "gc --prune=now drops them") {
			// Within the grace period gc keeps unreachable objects, and a
			// damaged frame may hold some: it refuses, and says how on.
			require.ErrorIs(t, err, ErrCorrupt)
			st, err = r.GC(ctx, GCOptions{Prune: "now"})
			require.NoError(t, err, "offset %d", off)
			require.Positive(t, st.DamagedFrames)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "offset %d", off)
			refused++
			require.NoError(t, r.Close())
			continue
		}
		if st.SnapshotsDamaged > 0 {
			damagedTrees[prune]++
		}
		var got bytes.Buffer
		require.NoError(t, r.Export(ctx, &got, ExportOptions{}), "offset %d", off)
		require.Equal(t, want.String(), got.String(), "offset %d: history reads as before", off)
		rep, err := r.Fsck(ctx, FsckOptions{})
		require.NoError(t, err, "offset %d", off)
		require.Empty(t, rep.Problems, "offset %d: gc left nothing damaged", off)
		n, err := r.VerifySnapshots(ctx, "HEAD")
		require.NoError(t, err, "offset %d", off)
		_ = n
		st2, err := r.State(ctx, "HEAD", "acc-007", StateOptions{})
		require.NoError(t, err)
		assert.Contains(t, string(st2.State), `"owner":"o7"`)
		require.NoError(t, r.Close())
	}
	t.Logf("damaged trees %v, refused %d", damagedTrees, refused)
	assert.Positive(t, damagedTrees["now"], "some flips land in frames of trees only, and gc goes on")
	assert.Positive(t, damagedTrees[""], "so with the default grace")
	assert.Positive(t, refused, "some flips land in events or commits, and gc refuses")
}
