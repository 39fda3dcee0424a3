package evgit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// An import run again over input all landed left the head its dry run
// forked cached, and ended by flattening into it outside any transaction,
// while a refused Append loaded streams into that same head inside its
// own (a helper's review: a fatal concurrent map access every run, and a
// data race under -race before that). Now an import keeps its fold's
// head only once a batch of it landed.
func TestReimportBesideRefusedAppends(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, "snapshot_every: 3\n")
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, `{"stream":"s%d","type":"Put","data":{"i":%d}}`+"\n", i%4, i)
	}
	input := in.String()
	_, err := r.Import(ctx, strings.NewReader(input), ImportOptions{})
	require.NoError(t, err)
	dir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := r.Append(ctx, []EventInput{ev("x", "Put", `{}`)}, AppendOptions{Expect: map[string]uint64{fmt.Sprint("new", i): 7}})
			if !errors.Is(err, ErrConflict) {
				t.Errorf("append: %v", err)
				return
			}
		}
	}()
	for range 300 {
		res, err := r.Import(ctx, strings.NewReader(input), ImportOptions{})
		require.NoError(t, err)
		require.Zero(t, res.Commits)
	}
	close(stop)
	wg.Wait()
}
