package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An import cancelled (or killed) after its last batch landed, before it
// recorded the key of its whole input, leaves that key out; the next
// run, which finds every batch on the branch, records it, so that an
// import of the same lines with another Batch writes nothing (a review
// found every event written twice).
func TestImportRecordsTheWholeKeyLeftOut(t *testing.T) {
	var in strings.Builder
	for i := range 2500 {
		fmt.Fprintf(&in, `{"stream":"s%d","type":"Ev","data":{"n":%d}}`+"\n", i%7, i)
	}
	r := newRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	afterImportLanded = cancel
	t.Cleanup(func() { afterImportLanded = nil })
	res, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Batch: 3})
	require.NoError(t, err)
	assert.Equal(t, 834, res.Commits)
	afterImportLanded = nil

	again := func(batch int) *ImportResult {
		t.Helper()
		res, err := r.Import(context.Background(), strings.NewReader(in.String()), ImportOptions{Batch: batch})
		require.NoError(t, err)
		return res
	}
	assert.Equal(t, 0, again(3).Commits, "every batch is on the branch")
	assert.Equal(t, 0, again(2).Commits, "the same lines, another batch")
	st, err := r.State(context.Background(), "HEAD", "s0", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(358), st.Version)
}
