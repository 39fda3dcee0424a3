package evgit

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
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

// model set folds what refs off HEAD's line add, each from its fork: a ref
// whose tip lies among the own commits of another (tags along a branch
// HEAD is not on) is folded with it, not again down to the fork (17 s for
// 50 tags; a review); and the states kept at a fork are those of the
// streams its refs touch, not a copy of every stream (gigabytes for
// thousands of forks; a helper's audit).
func TestModelSetFoldsRefsOffHeadOnce(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for i := range 60 {
		appendOne(t, r, ev(fmt.Sprintf("s-%d", i%30), "T", fmt.Sprintf(`{"n":%d}`, i)))
	}
	for i := range 10 {
		_, err := r.CreateTag(ctx, fmt.Sprintf("v%d", i), fmt.Sprintf("main~%d", i*2), "t")
		require.NoError(t, err)
	}
	_, err := r.CreateBranch(ctx, "side", "main~40", "t")
	require.NoError(t, err)
	side, err := r.Append(ctx, []EventInput{ev("s-3", "T", `{"side":1}`)}, AppendOptions{Branch: "side"})
	require.NoError(t, err)
	_, err = r.Checkout(ctx, "main~30", CheckoutOptions{})
	require.NoError(t, err)

	mdl, err := model.Parse([]byte("{}"))
	require.NoError(t, err)
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	sideCommit, err := r.st.Commit(side.Commit)
	require.NoError(t, err)
	// Read in a transaction, checked after it: it writes nothing.
	errDone := errors.New("done")
	var branches []offHead
	var forks map[object.ID]map[string]streamState
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		if branches, err = r.branchesOffHead(tx); err != nil {
			return err
		}
		if forks, err = r.foldsAtHead(ctx, tx, mdl, object.ZeroID, branches); err != nil {
			return err
		}
		return errDone
	})
	require.ErrorIs(t, err, errDone)
	var names []string
	for _, b := range branches {
		names = append(names, b.name)
	}
	assert.ElementsMatch(t, []string{"refs/heads/main", "refs/heads/side"}, names, "the tags along main are folded with it")
	kept := forks[sideCommit.Parent()]
	assert.Len(t, kept, 1, "the one stream side touches")
	assert.Contains(t, kept, "s-3")
	assert.Len(t, forks[head], 30, "main's commits since HEAD touch every stream")
	_, err = r.SetModel(ctx, []byte("{}"), "t")
	require.NoError(t, err)
}
