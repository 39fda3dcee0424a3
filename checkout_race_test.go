package evgit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

	// A branch that never stops moving (other writers appending): the
	// checkout stops catching up after 8 tries and attaches HEAD all the
	// same, over the files of the commit it wrote last, an older commit
	// of the branch, and says where the branch is (it gave up with a
	// conflict, leaving HEAD where it was and the files of some commit of
	// main; a helper's audit: 25 checkouts in 40 against 3 writers).
	_, err = r.Checkout(ctx, c1.Commit.String(), CheckoutOptions{}) // detached again
	require.NoError(t, err)
	n := 2
	checkoutWritten = func() {
		n++
		_, err := p2.Append(ctx, []EventInput{ev("s", "X", fmt.Sprintf(`{"a":%d}`, n))}, AppendOptions{Branch: "main"})
		require.NoError(t, err)
	}
	res, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	assert.Equal(t, "main", res.Branch)
	tip, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, tip, res.MovedOn)
	assert.NotEqual(t, tip, res.Commit)
	b, err = r.CurrentBranch(ctx)
	require.NoError(t, err)
	assert.Equal(t, "main", b, "HEAD attached")
	written, err := r.Show(ctx, res.Commit.String())
	require.NoError(t, err)
	file, err = os.ReadFile(filepath.Join(r.WorkTree(), "s.json"))
	require.NoError(t, err)
	assert.JSONEq(t, string(written.Events[0].Data), string(file), "the files are the commit written's")
	js, err := json.Marshal(res)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"moved_on":"`+tip.String()+`"`)
	// HEAD's reflog names where HEAD is, the tip (so it is read, not
	// taken for an old build's): @{-1} goes back to the detached c1.
	checkoutWritten = nil
	at, err := r.Resolve(ctx, "HEAD@{0}")
	require.NoError(t, err)
	assert.Equal(t, tip, at)
	back, err := r.Checkout(ctx, "@{-1}", CheckoutOptions{})
	require.NoError(t, err)
	assert.Equal(t, c1.Commit, back.Commit)
	assert.True(t, back.Detached)
	// Once the writers stop, a checkout catches up.
	res, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	assert.True(t, res.MovedOn.IsZero())
	assert.Equal(t, tip, res.Commit)
	assert.Equal(t, 1, res.Written)
	js, err = json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(js), "moved_on")
	file, err = os.ReadFile(filepath.Join(r.WorkTree(), "s.json"))
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`{"a":%d}`, n), string(file))
}

// Two checkouts of one work tree at once (two processes, here two
// Repositories) leave it holding HEAD's states, every file, and the index
// vouches only for files as checkout wrote them: before, their files
// interleaved and the last to move HEAD won over a mixed tree (a helper's
// audit: 5–7 trials in 30).
func TestConcurrentCheckoutsOfOneWorkTree(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var main, side []EventInput
	for i := range 300 {
		main = append(main, ev(fmt.Sprintf("s%03d", i), "T", `{"on":"main"}`))
		side = append(side, ev(fmt.Sprintf("s%03d", i), "T", `{"on":"b1"}`))
	}
	_, err := r.Append(ctx, main, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "b1", "main", "t")
	require.NoError(t, err)
	_, err = r.Append(ctx, side, AppendOptions{Branch: "b1"})
	require.NoError(t, err)
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()

	for trial := range 8 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []*Repository{r, other} {
			wg.Go(func() {
				_, errs[i] = p.Checkout(ctx, []string{"main", "b1"}[(i+trial)%2], CheckoutOptions{})
			})
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		branch, err := r.CurrentBranch(ctx)
		require.NoError(t, err)
		want := fmt.Sprintf(`{"on":%q}`, branch)
		for i := range 300 {
			b, err := os.ReadFile(filepath.Join(r.WorkTree(), fmt.Sprintf("s%03d.json", i)))
			require.NoError(t, err)
			require.JSONEq(t, want, string(b), "trial %d: HEAD on %s, file s%03d", trial, branch, i)
		}
	}
}

// A branch deleted while its files were written: HEAD detaches at the
// commit the files show, and the result says so (it detached without a
// word; then, for a review, it refused, the files rewritten and HEAD
// left where it was).
func TestCheckoutOfABranchDeletedMeanwhile(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	c1, err := r.Append(ctx, []EventInput{ev("s", "X", `{"a":1}`)}, AppendOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "b1", "main", "t")
	require.NoError(t, err)
	c2, err := r.Append(ctx, []EventInput{ev("u", "X", `{"a":2}`)}, AppendOptions{Branch: "b1"})
	require.NoError(t, err)
	_, err = r.Checkout(ctx, c1.Commit.String(), CheckoutOptions{})
	require.NoError(t, err)
	p2, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer p2.Close()
	checkoutWritten = func() {
		_, err := p2.DeleteBranch(ctx, "b1", "t")
		require.NoError(t, err)
	}
	defer func() { checkoutWritten = nil }()
	res, err := r.Checkout(ctx, "b1", CheckoutOptions{})
	require.NoError(t, err)
	assert.Equal(t, "b1", res.Deleted)
	assert.True(t, res.Detached)
	js, err := json.Marshal(res)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"deleted":"b1"`)
	assert.Equal(t, c2.Commit, res.Commit)
	branch, err := r.CurrentBranch(ctx)
	require.NoError(t, err)
	assert.Empty(t, branch, "HEAD detached")
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, c2.Commit, head, "at the commit the files show")
	_, err = os.Stat(filepath.Join(r.WorkTree(), "u.json"))
	require.NoError(t, err)
}
