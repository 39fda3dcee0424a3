package evgit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// With no work tree index (deleted, or damaged), `checkout REV -- S`
// writes an index naming only S; a full checkout after it then leaves the
// files of the streams HEAD had and the new revision lacks.
func TestCheckoutAfterAStreamCheckoutWithoutIndex(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	first := appendOne(t, r, ev("a", "T", `{"x":1}`))
	appendOne(t, r, ev("b", "T", `{"x":2}`), ev("c", "T", `{"x":3}`))
	_, err := r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	wt := r.WorkTree()
	for _, s := range []string{"a", "b", "c"} {
		require.FileExists(t, filepath.Join(wt, s+".json"))
	}
	// the index is lost
	require.NoError(t, os.Remove(filepath.Join(r.GitDir(), WorktreeIndexName)))
	_, err = r.Checkout(ctx, "main", CheckoutOptions{Streams: []string{"a"}})
	require.NoError(t, err)
	_, err = r.Checkout(ctx, first.String(), CheckoutOptions{})
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(wt, "b.json"), "b does not exist at %s", first.Short())
	require.NoFileExists(t, filepath.Join(wt, "c.json"))
}
