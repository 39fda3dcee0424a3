package evgit

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/store"
)

func nEvents(prefix string, n int) []EventInput {
	out := make([]EventInput, n)
	for i := range out {
		out[i] = ev(fmt.Sprintf("%s-%03d", prefix, i), "X", fmt.Sprintf(`{"v":%d}`, i))
	}
	return out
}

// A process caches main's head with its last snapshot root; gc in another
// process thins that snapshot and prunes its tree. The next snapshot on
// main must not be built on the pruned tree (its nodes would be missing):
// the cached head is dropped, and the writer starts from a snapshot that
// is there.
func TestCachedHeadAfterGCDroppedItsSnapshot(t *testing.T) {
	for _, self := range []bool{false, true} {
		t.Run(fmt.Sprintf("gc-by-this-process=%v", self), func(t *testing.T) { cachedHeadAfterGC(t, self) })
	}
}

// cachedHeadAfterGC is the test above with gc run by another process, or
// by the one that caches the head (whose check of the cached tree waits
// for the store to load its files again: Tx.Loads).
func cachedHeadAfterGC(t *testing.T, self bool) {
	ctx := context.Background()
	r := modelRepo(t, "snapshot_every: 100\ntypes: {}\n")
	_, err := r.Append(ctx, nEvents("base", 5), AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "other", "", "t")
	require.NoError(t, err)
	// main: one commit crossing 100 and 200 with 200 streams of its own
	_, err = r.Append(ctx, nEvents("m", 200), AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Flush(ctx)) // the tree left building is recorded
	mainAt, _ := r.Resolve(ctx, "main")
	// A commit on main that records no snapshot: this process caches
	// main's head, its tree found held.
	_, err = r.Append(ctx, []EventInput{ev("m-001", "X", `{"v":999}`)}, AppendOptions{})
	require.NoError(t, err)
	_, mid, _ := r.Model(ctx)
	// another process grows "other" well past main
	p2, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer p2.Close()
	_, err = p2.Append(ctx, nEvents("o", 210), AppendOptions{Branch: "other"})
	require.NoError(t, err)
	for i := 0; i < 4; i++ {
		_, err = p2.Append(ctx, nEvents(fmt.Sprintf("o%d", i), 200), AppendOptions{Branch: "other"})
		require.NoError(t, err)
	}
	require.NoError(t, p2.Flush(ctx))
	gcBy := p2
	if self {
		gcBy = r
	}
	// Thinned by model alone: along main's line, gc keeps its newest.
	_, err = gcBy.Store().GC(ctx, store.GCOptions{PruneNow: true, ByModelOnly: true})
	require.NoError(t, err)
	_, kept, err := gcBy.Store().Snapshot(mainAt, mid)
	require.NoError(t, err)
	require.False(t, kept, "gc thinned main's snapshot: the case under test")
	// this process appends on main again, reaching the 300 boundary
	_, err = r.Append(ctx, []EventInput{ev("m-000", "X", `{"v":1000}`)}, AppendOptions{})
	require.NoError(t, err)
	same := make([]EventInput, 99)
	for i := range same {
		same[i] = ev("m-000", "X", fmt.Sprintf(`{"v":%d}`, 2000+i))
	}
	_, err = r.Append(ctx, same, AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Flush(ctx))
	rep, err := r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Problems)
	_, err = r.VerifySnapshots(ctx, "main")
	require.NoError(t, err)
}
