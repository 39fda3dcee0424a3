package evgit

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// A head whose offset leaves no room for more events is damage: a commit
// on it is refused as corrupt, and nothing is written. Its offset wrapped
// to a small number before, and the commit written then did not decode (a
// helper's audit crafted such a head; fsck names it).
func TestCommitOnAHeadWithNoRoomLeftIsRefused(t *testing.T) {
	ctx := context.Background()
	r, _, err := Init(ctx, t.TempDir(), InitOptions{})
	require.NoError(t, err)
	defer r.Close()
	first, err := r.Append(ctx, []EventInput{ev("a", "T", `{}`)}, AppendOptions{})
	require.NoError(t, err)
	e := object.NewEvent("a", "T", 1, nil, []byte(`{"n":1}`))
	var full object.ID
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		c := &object.Commit{Parents: []object.ID{first.Commit}, Events: []object.ID{tx.PutEvent(e)}, Time: first.Time, Offset: math.MaxUint64, Message: "full"}
		full = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: first.Commit, New: full, Time: c.Time, Message: "full"})
	}))
	r.forgetHeads()

	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{"n":2}`)}, AppendOptions{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "commit "+full.Short()+" has offset 18446744073709551615, which leaves no room for 1 more events")
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"b","type":"T","data":{}}`+"\n"), ImportOptions{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "leaves no room")
	head, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, full, head, "nothing written")
}
