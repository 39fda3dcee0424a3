package evgit

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
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

// A key stays on every line that holds its commit, after the branch it
// was made on is deleted: a branch made from that one refuses the key
// with other events and takes it with the same events as a duplicate, so
// no line holds a key twice, and the line's export imports (before, the
// second use was committed, and the import refused it).
func TestIdempotencyKeyOutlivesItsBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":1}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "dev", "main", "t")
	require.NoError(t, err)
	first, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "dev", IdempotencyKey: "k"})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "keep", "dev", "t")
	require.NoError(t, err)
	_, err = r.DeleteBranch(ctx, "dev", "t")
	require.NoError(t, err)

	_, err = r.Append(ctx, []EventInput{ev("s", "T", `{"a":3}`)}, AppendOptions{Branch: "keep", IdempotencyKey: "k"})
	require.ErrorIs(t, err, ErrConflict, "other events under a key the line holds")
	again, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":2}`)}, AppendOptions{Branch: "keep", IdempotencyKey: "k"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Commit, again.Commit)

	// The same after a reopen and after gc, which rewrite the records.
	for _, step := range []string{"reopen", "gc"} {
		if step == "reopen" {
			require.NoError(t, r.Close())
			r, err = Open(ctx, r.GitDir())
			require.NoError(t, err)
			t.Cleanup(func() { r.Close() })
		} else {
			_, err = r.GC(ctx, GCOptions{Prune: "now"})
			require.NoError(t, err)
		}
		_, err = r.Append(ctx, []EventInput{ev("s", "T", `{"a":3}`)}, AppendOptions{Branch: "keep", IdempotencyKey: "k"})
		require.ErrorIs(t, err, ErrConflict, step)
	}

	var exp bytes.Buffer
	require.NoError(t, r.Export(ctx, &exp, ExportOptions{Range: "keep"}))
	b := newRepo(t)
	_, err = b.Import(ctx, &exp, ImportOptions{})
	require.NoError(t, err)
	head, err := b.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, first.Commit, head)
}

// An import run again onto a branch made from the one it was first run
// onto, since deleted, finds what the first run added and adds nothing.
func TestImportAgainAfterItsBranchIsDeleted(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var in bytes.Buffer
	for i := range 5 {
		fmt.Fprintf(&in, `{"stream":"s","type":"T","data":{"n":%d}}`+"\n", i)
	}
	_, err := r.Append(ctx, []EventInput{ev("s", "T", `{"a":1}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "load", "main", "t")
	require.NoError(t, err)
	first, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{Branch: "load"})
	require.NoError(t, err)
	require.Equal(t, 5, first.Commits)
	_, err = r.CreateBranch(ctx, "kept", "load", "t")
	require.NoError(t, err)
	_, err = r.DeleteBranch(ctx, "load", "t")
	require.NoError(t, err)
	again, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{Branch: "kept"})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, 5, again.Skipped)
	assert.Equal(t, first.Head, again.Head)
}

// A key recorded by a build before session 8, whose digest covers the
// events as given (schema 0 kept), in the record form of builds before
// session 15 (the branch's ref before the key): its retry is a duplicate,
// not a reuse (a helper's audit of old builds' repositories: exit 3).
func TestLegacyKeyDigestRetried(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	events := []EventInput{ev("acc-1", "T", `{"a":1}`)}
	c, err := r.Append(ctx, events, AppendOptions{})
	require.NoError(t, err)
	prepared := []preparedEvent{{in: events[0], data: []byte(`{"a":1}`)}}
	require.NotEqual(t, digest(prepared, AppendOptions{}, nil), legacyDigest(prepared), "the digests differ: schema 0 against 1")
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		tx.PutIdempotency("refs/heads/main", "k", c.Commit, legacyDigest(prepared))
		return nil
	}))
	again, err := r.Append(ctx, events, AppendOptions{IdempotencyKey: "k"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, c.Commit, again.Commit)
	_, err = r.Append(ctx, []EventInput{ev("acc-1", "T", `{"a":2}`)}, AppendOptions{IdempotencyKey: "k"})
	var reused *KeyReusedError
	require.ErrorAs(t, err, &reused, "other events are still a reuse")
}

// A new key is looked up under no branch in a repository no build before
// session 15 wrote keys to (they recorded keys under the branch): each
// keyed commit looked under every branch, 13 ms a commit with 5,000
// branches (a helper's audit). Once such a key is there, the branches are
// looked under again, so that it is still found.
func TestNewKeyLooksUnderNoBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	first, err := r.Append(ctx, []EventInput{ev("a", "T", `{}`)}, AppendOptions{IdempotencyKey: "k0"})
	require.NoError(t, err)
	for i := range 20 {
		_, err := r.CreateBranch(ctx, fmt.Sprintf("b%d", i), "main", "t")
		require.NoError(t, err)
	}
	var looked []string
	keyLookedUnder = func(branch string) { looked = append(looked, branch) }
	defer func() { keyLookedUnder = nil }()
	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{"n":1}`)}, AppendOptions{IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Empty(t, looked, "no key is recorded under a branch")

	// An old build's key, under a branch made since.
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		tx.PutIdempotency("refs/heads/b7", "old", first.Commit, object.ZeroID)
		return nil
	}))
	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{"n":2}`)}, AppendOptions{IdempotencyKey: "k2"})
	require.NoError(t, err)
	assert.Contains(t, looked, "refs/heads/b7")
	assert.Len(t, looked, 21, "main, then every other branch")
}
