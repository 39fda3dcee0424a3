package evgit

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/walk"
)

// As-of through skip links gives the same commit as a walk back, for
// times before, between and after commits, across link boundaries.
func TestAsOfFollowsLinks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25000 / 50 {
		batch := make([]EventInput, 50)
		for j := range batch {
			batch[j] = EventInput{Stream: fmt.Sprintf("s-%d", j%7), Type: "T", Data: json.RawMessage(`{"n":1}`)}
		}
		// Some commits share a time, as bulk loads do.
		_, err := r.Append(ctx, batch, AppendOptions{Time: start.Add(time.Duration(i/3) * time.Minute)})
		require.NoError(t, err)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	links := 0
	for id := head; !id.IsZero(); {
		if _, ok, err := r.st.Link(id); err == nil && ok {
			links++
		}
		c, err := r.st.Commit(id)
		require.NoError(t, err)
		id = c.Parent()
	}
	assert.Equal(t, 250, links, "one link every 100 events")
	for _, minutes := range []float64{-1, 0, 0.5, 1, 7.5, 50, 100.2, 133, 166, 1000} {
		at := start.Add(time.Duration(minutes * float64(time.Minute)))
		want, werr := walk.AsOf(ctx, source{r.st}, head, at)
		got, gerr := r.asOf(ctx, head, at)
		if werr != nil {
			require.Error(t, gerr, "minute %v", minutes)
			continue
		}
		require.NoError(t, gerr, "minute %v", minutes)
		assert.Equal(t, want, got, "minute %v", minutes)
	}
}
