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
