package evgit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingCtx is a context that counts how often it is asked whether it
// ended, and never ends.
type countingCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countingCtx) Err() error {
	c.n.Add(1)
	return c.Context.Err()
}

// TestFoldLooksAtItsContext: a state folded from many events with no
// snapshot of the model behind it (one just set, which records its
// snapshot at the head alone, or one that takes none) looks at its
// context as it folds, once every foldCheckEvery events, so that a
// cancel ends it (a helper's audit found State answering seconds after a
// cancel, with the whole state and no error). Counted, not timed: with
// the commits the same, the looks grow with the events folded.
func TestFoldLooksAtItsContext(t *testing.T) {
	ctx := context.Background()
	// Each count on a repository of its own: a fold through the line
	// index leaves marks that the next fold starts from.
	repo := func(perCommit int, every string) *Repository {
		r := newRepo(t)
		for i := range 2 {
			batch := make([]EventInput, perCommit)
			for j := range batch {
				batch[j] = ev("one", "D", fmt.Sprintf(`{"n":%d}`, i*perCommit+j))
			}
			_, err := r.Append(ctx, batch, AppendOptions{})
			require.NoError(t, err)
		}
		mdl := every + "types:\n  D:\n    apply: {n: \"(state?.n ?? 0) + event.n\"}\n"
		_, err := r.SetModel(ctx, []byte(mdl), "")
		require.NoError(t, err)
		return r
	}
	looks := func(perCommit int, every string) (state, states int64) {
		c := &countingCtx{Context: ctx}
		st, err := repo(perCommit, every).State(c, "HEAD~1", "one", StateOptions{})
		require.NoError(t, err)
		assert.Equal(t, uint64(perCommit), st.Version)
		state = c.n.Load()
		c = &countingCtx{Context: ctx}
		for _, err := range repo(perCommit, every).States(c, "HEAD~1") {
			require.NoError(t, err)
		}
		return state, c.n.Load()
	}
	for _, every := range []string{"", "snapshot_every: 0\n"} {
		small, smallAll := looks(500, every)
		large, largeAll := looks(4500, every)
		assert.GreaterOrEqual(t, large-small, int64(4000/foldCheckEvery), "State %q", every)
		assert.GreaterOrEqual(t, largeAll-smallAll, int64(4000/foldCheckEvery), "States %q", every)
	}
}
