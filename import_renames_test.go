package evgit

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ImportResult.Renames names the commits built with other IDs than their
// headers give: none for a whole export into an empty repository, the
// last commit of an export cut inside it.
func TestImportRenames(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	_, err := src.Append(ctx, []EventInput{ev("a", "T", `{"n":1}`)}, AppendOptions{})
	require.NoError(t, err)
	cut, err := src.Append(ctx, []EventInput{ev("a", "T", `{"n":2}`), ev("a", "T", `{"n":3}`)}, AppendOptions{})
	require.NoError(t, err)
	var exp bytes.Buffer
	require.NoError(t, src.Export(ctx, &exp, ExportOptions{}))

	whole, err := newRepo(t).Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Empty(t, whole.Renames)

	lines := bytes.SplitAfter(exp.Bytes(), []byte("\n"))
	part, err := newRepo(t).Import(ctx, bytes.NewReader(bytes.Join(lines[:2], nil)), ImportOptions{})
	require.NoError(t, err)
	require.Len(t, part.Renames, 1)
	assert.Equal(t, part.Head, part.Renames[cut.Commit])
}
