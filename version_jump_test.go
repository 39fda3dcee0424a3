package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A version far behind the head, in history an import wrote (snapshots
// every 1,000 events, so the walk back passes boundaries without one), is
// loaded from the snapshot nearest the commit that holds it, which the
// line index names: it was folded from the line's start, every earlier
// event of the stream read (a version in the middle of a hot stream of a
// million commits took 1.0–1.9 s, and takes 0.3 s). The fold from the
// start leaves its marks in the line index; the load from a snapshot
// leaves none.
func TestVersionLoadsFromTheNearestSnapshot(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var in strings.Builder
	for i := 1; i <= 10_000; i++ {
		fmt.Fprintf(&in, `{"stream":"hot","type":"Set","data":{"n":%d}}`+"\n", i)
	}
	_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
	for _, v := range []uint64{2000, 2001, 1500} {
		st, err := r.State(ctx, "HEAD", "hot", StateOptions{Version: v})
		require.NoError(t, err)
		assert.Equal(t, v, st.Version)
		assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, v), string(st.State))
	}
	li := &r.derived().line
	li.mu.Lock()
	sl := li.streams["hot"]
	require.NotNil(t, sl, "the line index was used")
	marks := len(sl.marks)
	li.mu.Unlock()
	assert.Zero(t, marks, "nothing folded from the line's start")

	// Past the last event: the error as before.
	_, err = r.State(ctx, "HEAD", "hot", StateOptions{Version: 10_001})
	require.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "has 10000 events, not 10001")
}
