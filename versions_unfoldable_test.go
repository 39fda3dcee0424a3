package evgit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A commit no ref keeps, whose event the model set afterwards cannot
// fold (model set checks the branches and tags): show and log --json
// still give its event's version, which is a count, not a fold.
func TestVersionsOfACommitTheModelCannotFold(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "Open", `{}`))
	_, err := r.CreateBranch(ctx, "tmp", "HEAD", "t")
	require.NoError(t, err)
	res, err := r.Append(ctx, []EventInput{ev("s", "Add", `{"v":1}`)}, AppendOptions{Branch: "tmp"})
	require.NoError(t, err)
	_, err = r.CreateTag(ctx, "keep", "tmp", "t")
	require.NoError(t, err)
	_, err = r.DeleteBranch(ctx, "tmp", "t")
	require.NoError(t, err)
	unfoldable := []byte("types:\n  Add:\n    apply: { n: state.n + event.v }\n")
	_, err = r.SetModel(ctx, unfoldable, "t")
	require.ErrorIs(t, err, ErrRule, "a tag keeps history the model must fold")
	assert.Contains(t, err.Error(), "the model does not fold the history of tag keep: ")
	_, err = r.DeleteTag(ctx, "keep", "t")
	require.NoError(t, err)
	_, err = r.SetModel(ctx, unfoldable, "t")
	require.NoError(t, err)
	keep := res.Commit.String()
	info, err := r.Show(ctx, keep)
	require.NoError(t, err)
	require.Len(t, info.Events, 1)
	assert.Equal(t, uint64(1), info.Events[0].Version)
	for info, err := range r.Log(ctx, LogOptions{Range: keep, Versions: true, Max: 1}) {
		require.NoError(t, err)
		assert.Equal(t, uint64(1), info.Events[0].Version)
	}
}
