package evgit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OpenWith keeps the frame cache within the budget it is given, and
// refuses a negative one.
func TestOpenWithCacheBudget(t *testing.T) {
	ctx := context.Background()
	w := streamLogRepo(t, 200)
	dir := w.gitDir
	require.NoError(t, w.Close())

	_, err := OpenWith(ctx, dir, OpenOptions{CacheBytes: -1})
	require.ErrorIs(t, err, ErrInvalid)

	for _, budget := range []int{0, 16 << 10} {
		r, err := OpenWith(ctx, dir, OpenOptions{CacheBytes: budget})
		require.NoError(t, err)
		for _, err := range r.Log(ctx, LogOptions{}) {
			require.NoError(t, err)
		}
		frames, bytes := r.st.CacheUse()
		if budget == 0 {
			assert.GreaterOrEqual(t, frames, 200, "the default budget keeps every frame read")
		} else {
			assert.Less(t, frames, 50, "budget %d", budget)
			assert.LessOrEqual(t, bytes, budget, "budget %d", budget)
		}
		require.NoError(t, r.Close())
	}
}
