package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// objectReader hides the store's type, so readStep reads each object
// alone, as it does in a transaction.
type objectReader struct{ reader }

// A walk that reads a frame's commits and events together
// (store.ReadLineStep) indexes the line as one that reads each object
// alone: over imported batches, appends of one and of many events,
// events written again (an event equal to an earlier one), a merge, a
// revert, and packed history after gc.
func TestLineWalkByFramesIndexesAsObjectByObject(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importString(t, r, strings.Join(plainLines(300), ""), ImportOptions{})
	for i := range 20 {
		appendOne(t, r, ev(fmt.Sprintf("s%d", i%3), "T", `{"same":true}`))
	}
	_, err := r.Append(ctx, []EventInput{ev("a", "T", `{}`), ev("b", "T", `{}`), ev("a", "T", `{}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "side", "HEAD~3", "t")
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("c", "T", `{}`)}, AppendOptions{Branch: "side"})
	require.NoError(t, err)
	merge := appendMerge(t, r)
	_, err = r.Revert(ctx, "HEAD~2", RevertOptions{})
	require.NoError(t, err)
	tip, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)

	check := func(name string) {
		byFrames, each := &lineIndex{}, &lineIndex{}
		_, err := byFrames.coverWithin(ctx, r.st, tip, 0)
		require.NoError(t, err, name)
		_, err = each.coverWithin(ctx, objectReader{r.st}, tip, 0)
		require.NoError(t, err, name)
		assert.Equal(t, each.ids, byFrames.ids, name)
		assert.Equal(t, each.offsets, byFrames.offsets, name)
		assert.Equal(t, each.times, byFrames.times, name)
		assert.Equal(t, each.merges, byFrames.merges, name)
		assert.Equal(t, each.streams, byFrames.streams, name)
		assert.Contains(t, byFrames.ids, merge, name)
		assert.Len(t, byFrames.ids, 300+20+1+1+1, name)
	}
	check("segments")
	_, err = r.GC(ctx, GCOptions{})
	require.NoError(t, err)
	check("after gc")
}
