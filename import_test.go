package evgit

import (
	"bytes"
	"context"
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
