package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
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

// TestImportRenamedAtNamesInputLines: each renamed commit is noted with
// the input line its commit starts at, also for a batch built again
// after the branch moved under a prepared import (its lines are parsed
// again, and a parse of a batch's lines alone knows no line numbers; a
// review found line 0 there).
func TestImportRenamedAtNamesInputLines(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	for i := range 6 {
		_, err := src.Append(ctx, []EventInput{ev("s", "T", fmt.Sprintf(`{"n":%d}`, i))}, AppendOptions{Message: fmt.Sprint("m", i), Actor: "a"})
		require.NoError(t, err)
	}
	var exp bytes.Buffer
	require.NoError(t, src.Export(ctx, &exp, ExportOptions{}))
	dst := newRepo(t)
	_, err := dst.Append(ctx, []EventInput{ev("x", "T", `{}`)}, AppendOptions{Actor: "a"})
	require.NoError(t, err)
	old := importBatchCommits
	importBatchCommits = 2
	t.Cleanup(func() { importBatchCommits = old })
	moved := false
	res, err := dst.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{Progress: func(done, total int) {
		if !moved {
			moved = true
			_, err := dst.Append(ctx, []EventInput{ev("y", "T", `{}`)}, AppendOptions{Actor: "a"})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	require.Len(t, res.Renames, 6, "every commit is built on other history")
	want := map[object.ID]int{}
	for i, line := range bytes.Split(bytes.TrimSpace(exp.Bytes()), []byte("\n")) {
		var l struct{ Commit CommitHeader }
		require.NoError(t, json.Unmarshal(line, &l))
		id, err := object.ParseID(l.Commit.ID)
		require.NoError(t, err)
		want[id] = i + 1
	}
	assert.Equal(t, want, res.RenamedAt)
	require.Len(t, res.Renamed, 6, "a batch built again is noted once")
	for i, r := range res.Renamed {
		assert.Equal(t, want[r.Declared], r.Line)
		assert.Equal(t, res.Renames[r.Declared], r.Built)
		if i > 0 {
			assert.Less(t, res.Renamed[i-1].Line, r.Line, "in input order")
		}
	}
}

// Two exports of one history's streams, one after the other, name each
// commit twice, and every commit of both is built anew: Renamed lists all
// four, in input order, where Renames (by the ID named) keeps two, and the
// warning counted two and named the wrong first (a helper's audit).
func TestImportRenamedListsAnIDNamedTwice(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	for i := range 2 {
		_, err := src.Append(ctx, []EventInput{ev("a", "T", fmt.Sprintf(`{"x":%d}`, i)), ev("b", "T", fmt.Sprintf(`{"y":%d}`, i))}, AppendOptions{Actor: "a", Message: fmt.Sprint("c", i)})
		require.NoError(t, err)
	}
	var in bytes.Buffer
	for _, s := range []string{"a", "b"} {
		require.NoError(t, src.Export(ctx, &in, ExportOptions{Stream: s}))
	}
	res, err := newRepo(t).Import(ctx, &in, ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 4, res.Commits)
	assert.Len(t, res.Renames, 2)
	require.Len(t, res.Renamed, 4)
	var lines []int
	for _, r := range res.Renamed {
		lines = append(lines, r.Line)
	}
	assert.Equal(t, []int{1, 2, 3, 4}, lines)
	assert.Equal(t, res.Renamed[0].Declared, res.Renamed[2].Declared)
	assert.NotEqual(t, res.Renamed[0].Built, res.Renamed[2].Built)
	assert.Equal(t, res.Head, res.Renamed[3].Built)
}
