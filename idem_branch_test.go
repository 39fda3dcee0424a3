package evgit

import (
	"bytes"
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

// A branch made from one that holds a key holds the key too: the commit
// is on its first-parent line (SPEC §3: "already on the branch"), though
// its record names the branch it was made on.
func TestIdempotencyKeyOnABranchMadeFromAnother(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	first, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":1}`)}, AppendOptions{IdempotencyKey: "pay-42"})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "feature", "main", "t")
	require.NoError(t, err)
	again, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":1}`)}, AppendOptions{Branch: "feature", IdempotencyKey: "pay-42"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Commit, again.Commit)
	_, err = r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "feature", IdempotencyKey: "pay-42"})
	require.ErrorIs(t, err, ErrConflict, "other events under the key")

	// A key made on feature after it forked is not on main.
	_, err = r.Append(ctx, []EventInput{ev("s", "T", `{"a":3}`)}, AppendOptions{Branch: "feature", IdempotencyKey: "only-feature"})
	require.NoError(t, err)
	onMain, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":3}`)}, AppendOptions{IdempotencyKey: "only-feature"})
	require.NoError(t, err)
	assert.False(t, onMain.Duplicate)
}

// A retry after export | import into another repository is the same
// events: export writes out the meta time and actor the first try left to
// the commit, and the key's digest leaves out what only repeats them.
func TestIdempotencyRetryAfterExportImport(t *testing.T) {
	ctx := context.Background()
	a := newRepo(t)
	events := []EventInput{ev("acc-1", "Deposited", `{"amount":5}`), ev("acc-2", "Deposited", `{"amount":7}`)}
	first, err := a.Append(ctx, events, AppendOptions{IdempotencyKey: "k-1", Actor: "teller"})
	require.NoError(t, err)
	var exp bytes.Buffer
	require.NoError(t, a.Export(ctx, &exp, ExportOptions{}))
	b := newRepo(t)
	_, err = b.Import(ctx, &exp, ImportOptions{})
	require.NoError(t, err)
	for _, r := range []*Repository{a, b} {
		again, err := r.Append(ctx, events, AppendOptions{IdempotencyKey: "k-1", Actor: "teller"})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.Commit, again.Commit)
		_, err = r.Append(ctx, []EventInput{ev("acc-1", "Deposited", `{"amount":6}`)}, AppendOptions{IdempotencyKey: "k-1", Actor: "teller"})
		require.ErrorIs(t, err, ErrConflict)
	}
}
