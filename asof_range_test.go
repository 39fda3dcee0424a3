package evgit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// As-of far outside the int64-nanosecond range: the line index path must
// agree with the walk path.
func TestAsOfOutsideTheNanosecondRange(t *testing.T) {
	ctx := context.Background()
	for _, asOf := range []time.Time{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)} {
		r := modelRepo(t, "snapshot_every: 0\n")
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 5 {
			_, err := r.Append(ctx, []EventInput{ev("s", "Set", fmt.Sprintf(`{"n":%d}`, i))}, AppendOptions{Time: base.Add(time.Duration(i) * time.Hour)})
			require.NoError(t, err)
		}
		// fresh: no index, the walk path
		walkSt, walkErr := r.State(ctx, "HEAD", "s", StateOptions{AsOf: asOf})
		// build the index
		_, err := r.State(ctx, "HEAD", "s", StateOptions{})
		require.NoError(t, err)
		idxSt, idxErr := r.State(ctx, "HEAD", "s", StateOptions{AsOf: asOf})
		t.Logf("as-of %s: walk=%v %v ; index=%v %v", asOf.Format(time.RFC3339), walkSt, walkErr, idxSt, idxErr)
		assert.Equal(t, walkErr == nil, idxErr == nil, "as-of %s", asOf)
		if walkErr == nil && idxErr == nil {
			assert.Equal(t, walkSt.Version, idxSt.Version, "as-of %s", asOf)
		}
	}
}

// A stream missing, or too short, at the commit an as-of time led to is
// reported at that commit, not at the revision the time was taken on,
// where it may well exist (a helper's audit).
func TestAsOfErrorsNameTheCommitFound(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	early, err := r.Append(ctx, []EventInput{ev("acc-1", "T", `{"a":1}`)}, AppendOptions{Time: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("acc-3", "T", `{"b":1}`)}, AppendOptions{Time: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	asOf := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	at := early.Commit.Short() + " (HEAD as of 2026-11-25T00:00:00Z)"
	_, err = r.State(ctx, "HEAD", "acc-3", StateOptions{AsOf: asOf})
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, "stream acc-3 does not exist at "+at)
	_, err = r.State(ctx, "HEAD", "acc-1", StateOptions{AsOf: asOf, Version: 3})
	require.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "acc-1 at "+at+": ")
	_, err = r.Checkout(ctx, "HEAD", CheckoutOptions{AsOf: asOf, Streams: []string{"acc-3"}})
	assert.EqualError(t, err, "stream acc-3 does not exist at "+at)
}
