package evgit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const envCheckoutKill = "EVGIT_CHECKOUT_KILL"

// TestCheckoutKillChild is the child of TestCheckoutKilledPartWay: it
// checks out "other" and kills itself with SIGKILL as it writes the
// 20th file, as kill -9 or a power loss would stop it.
func TestCheckoutKillChild(t *testing.T) {
	dir := os.Getenv(envCheckoutKill)
	if dir == "" {
		t.Skip("the child process of TestCheckoutKilledPartWay")
	}
	r, err := Open(context.Background(), dir)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	var n atomic.Int32
	writeWorkFile = func(f *os.File, b []byte) (int, error) {
		if n.Add(1) == 20 {
			f.Write(b[:len(b)/2])
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return f.Write(b)
	}
	_, err = r.Checkout(context.Background(), "other", CheckoutOptions{})
	fmt.Println("ERR checkout finished:", err)
	os.Exit(3)
}

// A checkout killed part way (kill -9, a power loss) left the files it
// had written of the other revision for good: the next checkout took
// them for the user's, kept them, and refused to write over them; and
// the files it was writing beside them stayed too (a helper's audit).
// The index now lists, before the first file, what the checkout may
// write, and the next checkout rewrites or removes those files and
// clears what was left beside them.
func TestCheckoutKilledPartWay(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("base", "Set", `{"v":0}`))
	_, err := r.CreateBranch(ctx, "other", "main", "")
	require.NoError(t, err)
	var in strings.Builder
	for i := range 60 {
		fmt.Fprintf(&in, `{"stream":"k/a%02d","type":"Set","data":{"v":%d}}`+"\n", i, i)
	}
	_, err = r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Branch: "other", Batch: 60})
	require.NoError(t, err)
	checkout(t, r, "main", CheckoutOptions{})
	fresh := workTreeFiles(t, r.WorkTree())
	require.Len(t, fresh, 1)
	require.NoError(t, r.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckoutKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCheckoutKill+"="+r.GitDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v: %s", err, out)
	require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal(), "%s", out)
	left, err := filepath.Glob(filepath.Join(r.WorkTree(), "k", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, left, "the child wrote files before it was killed")

	r, err = Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer r.Close()
	checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, fresh, workTreeFiles(t, r.WorkTree()), "the tree a fresh checkout of main writes, no file left over")
	// And other checks out whole, with no file in the way.
	checkout(t, r, "other", CheckoutOptions{})
	assert.Len(t, workTreeFiles(t, r.WorkTree()), 61)
}
