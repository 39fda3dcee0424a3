package evgit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `checkout main` while another process appends to main between the
// files being written and HEAD being moved: the checkout writes again at
// main's new commit and attaches HEAD there, rather than leaving HEAD
// detached (where a commit is refused) or attached over files of an
// older commit.
func TestCheckoutRacedByAnAppend(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	c1, err := r.Append(ctx, []EventInput{ev("s", "X", `{"a":1}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.Checkout(ctx, c1.Commit.String(), CheckoutOptions{}) // detached
	require.NoError(t, err)
	p2, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer p2.Close()
	races := 0
	checkoutWritten = func() {
		if races < 2 {
			races++
			_, err := p2.Append(ctx, []EventInput{ev("s", "X", `{"a":2}`)}, AppendOptions{Branch: "main"})
			require.NoError(t, err)
		}
	}
	defer func() { checkoutWritten = nil }()
	res, err := r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, races)
	b, err := r.CurrentBranch(ctx)
	require.NoError(t, err)
	assert.Equal(t, "main", b)
	head, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, head, res.Commit, "the files written are main's")
	file, err := os.ReadFile(filepath.Join(r.WorkTree(), "s.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":2}`, string(file))

	// A branch that never stops moving: the checkout gives up, a conflict.
	checkoutWritten = func() {
		_, err := p2.Append(ctx, []EventInput{ev("s", "X", `{"a":3}`)}, AppendOptions{Branch: "main"})
		require.NoError(t, err)
	}
	_, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrConflict)
}
