package evgit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A key is used only when its commit is on the branch: after a branch is
// deleted and made again, the same key commits anew.
func TestIdempotencyKeyOnlyOnTheBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":1}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "dev", "main", "t")
	require.NoError(t, err)
	first, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "dev", IdempotencyKey: "k"})
	require.NoError(t, err)
	again, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "dev", IdempotencyKey: "k"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Commit, again.Commit)

	_, err = r.DeleteBranch(ctx, "dev", "t")
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "dev", "main", "t")
	require.NoError(t, err)
	fresh, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "dev", IdempotencyKey: "k"})
	require.NoError(t, err)
	assert.False(t, fresh.Duplicate, "the key's commit is not on the new branch")
}
