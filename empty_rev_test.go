package evgit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An empty revision means HEAD wherever the library takes one (a
// helper's audit found it did in State, Log and Checkout, and was an
// unknown revision in Resolve, Show, Diff, Revert and the snapshot
// checks).
func TestEmptyRevisionMeansHead(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("s", "T", `{"n":1}`))
	head := appendOne(t, r, ev("s", "T", `{"n":2}`))

	id, err := r.Resolve(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, head, id)
	id, err = r.ResolveAsOf(ctx, "", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, head, id)
	info, err := r.Show(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, head, info.ID)
	for _, err := range r.Diff(ctx, "", "HEAD") {
		require.NoError(t, err)
		t.Fatal("HEAD differs from itself")
	}
	_, err = r.VerifySnapshots(ctx, "")
	require.NoError(t, err)
	_, err = r.RebuildSnapshots(ctx, "")
	require.NoError(t, err)
	res, err := r.Revert(ctx, "", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, head, res.Reverts[0], "reverted HEAD")
}
