package evgit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A key another writer uses between an import's dry run and the write of
// the commit that carries it is refused as the dry run refuses one, by
// its line: it said "commit N of the batch" there (a helper's audit saw
// both forms for one race).
func TestImportKeyTakenAfterTheDryRun(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var in strings.Builder
	const plain = 2500
	for i := range plain {
		fmt.Fprintf(&in, `{"stream":"s","type":"X","data":{"i":%d}}`+"\n", i)
	}
	in.WriteString(`{"stream":"s","type":"X","data":{"k":1},"commit":{"idempotency_key":"K"}}` + "\n")
	raced := false
	_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Progress: func(done, total int) {
		if !raced {
			raced = true
			_, err := r.Append(ctx, []EventInput{ev("s", "X", `{"other":1}`)}, AppendOptions{IdempotencyKey: "K"})
			require.NoError(t, err)
		}
	}})
	require.True(t, raced)
	require.ErrorIs(t, err, ErrConflict)
	var reused *KeyReusedError
	require.True(t, errors.As(err, &reused))
	assert.Equal(t, plain+1, reused.Line)
	assert.Equal(t, fmt.Sprintf("line %d: idempotency key \"K\" was used with other events (commit %s)", plain+1, reused.Commit.Short()), err.Error())
}
