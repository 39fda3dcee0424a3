package evgit

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
)

func TestExportImportReproducesIDs(t *testing.T) {
	ctx := context.Background()
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 1, Events: 3000, Accounts: 50}))
	a := newRepo(t)
	_, err := a.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	res, err := a.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3000, res.Commits)
	assert.Equal(t, 3000, res.Events)

	// Run again: every batch is skipped.
	again, err := a.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, res.Head, again.Head)

	var exp bytes.Buffer
	require.NoError(t, a.Export(ctx, &exp, ExportOptions{}))
	b := newRepo(t)
	res2, err := b.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, res.Head, res2.Head, "same commit IDs")

	st, err := a.StreamAt(res.Head, "acc-000000")
	require.NoError(t, err)
	ref, err := bankgen.Fold(bankgen.New(bankgen.Config{Seed: 1, Events: 3000, Accounts: 50}).All())
	require.NoError(t, err)
	assert.Equal(t, uint64(ref["acc-000000"].Version), st.Version)
	assert.Contains(t, string(st.State), `"balance":`)
}

// An import run again, whole or after an interruption, skips the batches
// that landed without folding them a second time: under a model whose
// rules hold only once (an account opens once), folding them again would
// refuse the import.
func TestImportRunAgainDoesNotFoldLandedBatches(t *testing.T) {
	ctx := context.Background()
	once := strings.Replace(bankgen.Model, "  AccountOpened:\n", "  AccountOpened:\n    require: [\"state == nil\"]\n", 1)
	require.NotEqual(t, bankgen.Model, once)
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 3, Events: 2500, Accounts: 40}))
	lines := bytes.SplitAfter(src.Bytes(), []byte("\n"))
	first := bytes.Join(lines[:2*importBatchCommits], nil) // the first two batches

	clean := newRepo(t)
	_, err := clean.SetModel(ctx, []byte(once), "test")
	require.NoError(t, err)
	want, err := clean.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)

	r := newRepo(t)
	_, err = r.SetModel(ctx, []byte(once), "test")
	require.NoError(t, err)
	_, err = r.Import(ctx, bytes.NewReader(first), ImportOptions{}) // as if interrupted there
	require.NoError(t, err)
	res, err := r.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 500, res.Commits)
	assert.Equal(t, 2000, res.Skipped)
	assert.Equal(t, want.Head, res.Head, "the same commits a clean import makes")

	again, err := r.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, 2500, again.Skipped)
	assert.Equal(t, want.Head, again.Head)
	st, err := r.StreamAt(want.Head, "acc-000000")
	require.NoError(t, err)
	wantSt, err := clean.StreamAt(want.Head, "acc-000000")
	require.NoError(t, err)
	assert.Equal(t, string(wantSt.State), string(st.State))
}
