package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/walk"
)

// A branch or tag made at a commit that a gc drops between the revision
// being resolved and the ref being written is refused, as it would be
// after the gc: the ref would name nothing, and every later gc would
// stop at it. Found by a helper's audit (branch NAME ID beside gc
// --prune=now, 20 of 20 rounds).
func TestRefNotMadeAtACommitGCDropped(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"branch", "tag"} {
		r := newRepo(t)
		appendOne(t, r, ev("a", "T", `{}`))
		_, err := r.CreateBranch(ctx, "gone", "", "t")
		require.NoError(t, err)
		_, err = r.Append(ctx, []EventInput{ev("b", "T", `{}`)}, AppendOptions{Branch: "gone"})
		require.NoError(t, err)
		id, err := r.Resolve(ctx, "gone")
		require.NoError(t, err)
		_, err = r.DeleteBranch(ctx, "gone", "t")
		require.NoError(t, err)

		other, err := Open(ctx, r.GitDir())
		require.NoError(t, err)
		refResolved = func() {
			_, err := other.GC(ctx, GCOptions{Prune: "now"})
			require.NoError(t, err)
		}
		if kind == "branch" {
			_, err = r.CreateBranch(ctx, "again", id.String(), "t")
		} else {
			_, err = r.CreateTag(ctx, "again", id.String(), "t")
		}
		refResolved = func() {}
		require.NoError(t, other.Close())
		require.ErrorIs(t, err, walk.ErrUnknownRevision, kind)

		rep, err := r.Fsck(ctx, FsckOptions{})
		require.NoError(t, err)
		require.True(t, rep.OK, "%s: %v", kind, rep.Problems)
		_, err = r.GC(ctx, GCOptions{Prune: "now"})
		require.NoError(t, err, kind)
	}
}

// An import whose batches were prepared on the trees of its dry run does
// not write them after a gc dropped nodes those trees share: the gc
// thinned the snapshot of the import's first batch and pruned its nodes,
// which the next batches' trees named. Found by a helper's audit (fsck:
// "tree X: child N Y is missing").
func TestImportAfterAGCBetweenItsBatches(t *testing.T) {
	ctx := context.Background()
	smallBatches(t, 50, 50)
	r := modelRepo(t, "snapshot_every: 10\ntypes: {}\n")
	// main: 2,000 streams, then a long history with many snapshots past
	// the import's, so gc thins the import's first one.
	_, err := r.Append(ctx, nEvents("m", 2000), AppendOptions{})
	require.NoError(t, err)
	for i := range 39 {
		_, err := r.Append(ctx, nEvents(fmt.Sprintf("m%02d", i), 100), AppendOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, r.Flush(ctx))
	_, err = r.CreateBranch(ctx, "imp", "main~39", "t")
	require.NoError(t, err)
	var src strings.Builder
	// The first 100 events change streams a-*, the rest b-*: the trees
	// after the gc share the a-* leaves of the first batch's tree.
	for i := range 600 {
		set := "a"
		if i >= 100 {
			set = "b"
		}
		fmt.Fprintf(&src, `{"stream":"%s-%03d","type":"X","data":{"v":%d}}`+"\n", set, i%5, i)
	}
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	opts := afterBatch(2, ImportOptions{Branch: "imp"}, func() {
		_, err := other.GC(ctx, GCOptions{Prune: "now"})
		require.NoError(t, err)
	})
	res, err := r.Import(ctx, strings.NewReader(src.String()), opts)
	require.NoError(t, err)
	require.Equal(t, 600, res.Events)
	rep, err := r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK, "%d problems, the first %v", len(rep.Problems), rep.Problems[:min(3, len(rep.Problems))])
	_, err = r.VerifySnapshots(ctx, "imp")
	require.NoError(t, err)
}
