package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DeleteMergedBranch deletes a branch only when HEAD's line holds its
// commit (git branch -d); DeleteBranch whatever it holds (git branch -D).
// Found by a helper's audit: the CLI's -d deleted unmerged work, which gc
// then dropped.
func TestDeleteMergedBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "T", `{}`))
	_, err := r.CreateBranch(ctx, "behind", "HEAD", "t")
	require.NoError(t, err)
	appendOne(t, r, ev("a", "T", `{"n":2}`))
	_, err = r.CreateBranch(ctx, "topic", "HEAD", "t")
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("t", "T", `{}`)}, AppendOptions{Branch: "topic"})
	require.NoError(t, err)

	_, err = r.DeleteMergedBranch(ctx, "topic", "t")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = r.Resolve(ctx, "topic")
	require.NoError(t, err, "still there")
	_, err = r.DeleteMergedBranch(ctx, "behind", "t")
	require.NoError(t, err, "HEAD holds its commit")
	_, err = r.DeleteBranch(ctx, "topic", "t")
	require.NoError(t, err)
	for _, b := range []string{"behind", "topic"} {
		_, err = r.Resolve(ctx, b)
		assert.ErrorIs(t, err, ErrNotFound, b)
	}
}

// Deleting a branch or tag that does not exist names it on one line,
// quoted as Go does when the name holds what no ref name may.
func TestDeleteMissingRefNamesItOnOneLine(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.DeleteBranch(ctx, "nope", "t")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, "branch 'nope': not found", err.Error())
	_, err = r.DeleteTag(ctx, "a\nb\x1b[31m", "t")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, `tag "a\nb\x1b[31m": not found`, err.Error())
}

// DeleteBranches and DeleteTags delete all the names or none: one that
// cannot be deleted, anywhere in the list, leaves every ref as it was (a
// helper's audit: the command line deleted the others, as Git does).
func TestDeleteSeveralAllOrNone(t *testing.T) {
	ctx := context.Background()
	r, _, err := Init(ctx, t.TempDir(), InitOptions{})
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Append(ctx, []EventInput{{Stream: "s", Type: "T"}}, AppendOptions{})
	require.NoError(t, err)
	for _, n := range []string{"a", "b", "c"} {
		_, err := r.CreateBranch(ctx, n, "", "")
		require.NoError(t, err)
		_, err = r.CreateTag(ctx, "t"+n, "", "")
		require.NoError(t, err)
	}
	_, err = r.Append(ctx, []EventInput{{Stream: "s", Type: "T"}}, AppendOptions{Branch: "c"})
	require.NoError(t, err)
	refsNow := func() []string {
		var names []string
		for b, err := range r.Branches(ctx) {
			require.NoError(t, err)
			names = append(names, b.Name)
		}
		for tg, err := range r.Tags(ctx) {
			require.NoError(t, err)
			names = append(names, tg.Name)
		}
		return names
	}
	before := refsNow()

	_, err = r.DeleteBranches(ctx, []string{"a", "nope", "b"}, "", false)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = r.DeleteBranches(ctx, []string{"a", "b", "main"}, "", false)
	require.ErrorIs(t, err, ErrInvalid, "HEAD's branch")
	_, err = r.DeleteBranches(ctx, []string{"a", "c"}, "", true)
	require.ErrorIs(t, err, ErrInvalid, "c is not merged")
	_, err = r.DeleteTags(ctx, []string{"ta", "tb", "nope"}, "")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, before, refsNow(), "a refused delete deletes nothing")

	olds, err := r.DeleteBranches(ctx, []string{"a", "c", "a"}, "", false)
	require.NoError(t, err)
	require.Len(t, olds, 3)
	require.Equal(t, olds[0], olds[2])
	olds, err = r.DeleteTags(ctx, []string{"ta", "tb"}, "")
	require.NoError(t, err)
	require.Len(t, olds, 2)
	require.Equal(t, []string{"b", "main", "tc"}, refsNow())
}

// branch -d of a branch far down HEAD's line finds it in the line index,
// not by walking the line commit by commit in every call (1.3 s for a
// branch 150,000 commits down; a helper's audit); one near HEAD is walked
// to, as building the index of a long line would cost more; and a branch
// off the line is still refused.
func TestDeleteMergedBranchFarDownTheLine(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var in strings.Builder
	for i := range farOnLine + 500 {
		fmt.Fprintf(&in, `{"stream":"s-%d","type":"T","data":{"n":%d}}`+"\n", i%10, i)
	}
	_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
	for _, b := range []struct{ name, rev string }{{"far", "main~10200"}, {"near", "main~20"}, {"off", "main~10300"}} {
		_, err := r.CreateBranch(ctx, b.name, b.rev, "t")
		require.NoError(t, err)
	}
	_, err = r.Append(ctx, []EventInput{ev("x", "T", `{}`)}, AppendOptions{Branch: "off"})
	require.NoError(t, err)
	steps := 0
	lineSetStep = func() { steps++ }
	defer func() { lineSetStep = nil }()

	_, err = r.DeleteMergedBranch(ctx, "near", "t")
	require.NoError(t, err)
	assert.True(t, steps > 0 && steps < 100, "walked to, near HEAD: %d commits", steps)
	steps = 0
	_, err = r.DeleteMergedBranch(ctx, "far", "t")
	require.NoError(t, err)
	assert.Zero(t, steps, "found in the line index")
	_, err = r.DeleteMergedBranch(ctx, "off", "t")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "not fully merged")
}
