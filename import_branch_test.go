package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An import onto HEAD's branch (no -b) while another process checks out
// another branch between two of its batches.
func TestImportStaysOnItsBranchWhenHEADMoves(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("base", "X", `{}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "feature", "", "t")
	require.NoError(t, err)
	var in strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&in, `{"stream":"s-%d","type":"X","data":{"i":%d}}`+"\n", i%50, i)
	}
	p2, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer p2.Close()
	moved := false
	_, err = r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Progress: func(done, total int) {
		if !moved {
			moved = true
			_, err := p2.Checkout(ctx, "feature", CheckoutOptions{})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	count := func(rev string) int {
		n := 0
		for info, err := range r.Log(ctx, LogOptions{Range: rev}) {
			require.NoError(t, err)
			n += len(info.Events)
		}
		return n
	}
	m, f := count("main"), count("feature")
	require.True(t, m == 2501 || f == 2501, "the import is split across two branches")
}
