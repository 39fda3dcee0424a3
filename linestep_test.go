package evgit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
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

// A fold that reads a frame's commits and events together
// (store.ReadFoldStep), from the store or in a transaction, folds the
// line as one that reads each object alone, commit by commit: over
// imported batches, appends of one and of many events, events written
// again, a revert, and packed history after gc.
func TestFoldByFramesFoldsAsObjectByObject(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importString(t, r, strings.Join(plainLines(300), ""), ImportOptions{})
	for i := range 20 {
		appendOne(t, r, ev(fmt.Sprintf("s%d", i%3), "T", `{"same":true}`))
	}
	_, err := r.Append(ctx, []EventInput{ev("a", "T", `{"x":1}`), ev("b", "T", `{}`), ev("a", "T", `{"y":2}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{"x":3}`), ev("s1", "T", `{"z":4}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	tip, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	var mdl *model.Model
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		mdl, _, err = r.modelIn(tx)
		return err
	}))

	type seen struct {
		id      object.ID
		streams []string
	}
	fold := func(rd reader) (map[string]streamState, []seen) {
		ids, err := r.lineCommits(rd, tip)
		require.NoError(t, err)
		var all []seen
		states, err := foldCommits(ctx, rd, mdl, ids, nil, func(_ int, id object.ID, _ *object.Commit, _ map[string]streamState, streams []string) error {
			all = append(all, seen{id, slices.Clone(streams)})
			return nil
		})
		require.NoError(t, err)
		return states, all
	}
	check := func(name string) {
		want, wantSeen := fold(objectReader{r.st})
		require.Len(t, wantSeen, 300+20+1+1+1, name)
		got, gotSeen := fold(r.st)
		assert.Equal(t, want, got, name)
		assert.Equal(t, wantSeen, gotSeen, name)
		require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
			got, gotSeen := fold(tx)
			assert.Equal(t, want, got, name+", in a transaction")
			assert.Equal(t, wantSeen, gotSeen, name+", in a transaction")
			return nil
		}))
	}
	check("segments")
	_, err = r.GC(ctx, GCOptions{})
	require.NoError(t, err)
	check("after gc")
}
