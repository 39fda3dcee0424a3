package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// A fold along a line reads a frame of many commits with one index
// lookup, not one per object; an event that lies in another frame is
// read through the index; a transaction reads the commits it and its
// group added; and every step holds what reading each object alone
// gives.
func TestReadFoldStep(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	var ids []object.ID
	var reused object.ID // an event of the first frame, named again by a later commit
	chain := func(tx *Tx, n int, tag string) {
		old, _, _ := tx.Resolve("refs/heads/main")
		head := old
		for i := range n {
			var events []object.ID
			for j := range 1 + i%3 {
				ev := object.NewEvent(fmt.Sprintf("s-%d", j), "T", 1, nil, fmt.Appendf(nil, `{"tag":%q,"i":%d}`, tag, i))
				events = append(events, tx.PutEvent(ev))
			}
			if reused.IsZero() {
				reused = events[0]
			}
			if tag == "later" && i == 0 {
				events = append([]object.ID{reused}, events...)
			}
			c := &object.Commit{Events: events, Time: time.Unix(int64(len(ids)), 0).UTC(), Offset: uint64(len(ids) + 1)}
			if !head.IsZero() {
				c.Parents = []object.ID{head}
			}
			head = tx.PutCommit(c)
			ids = append(ids, head)
			if i%50 == 49 { // something else between commits, as a snapshot tree
				tx.PutObject(object.KindTree, fmt.Appendf(nil, "not a commit %s %d", tag, i))
			}
		}
		require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: head, Time: time.Unix(1, 0)}))
	}
	require.NoError(t, s.Update(ctx, func(tx *Tx) error { chain(tx, 300, "first"); return nil }))
	require.NoError(t, s.Update(ctx, func(tx *Tx) error { chain(tx, 10, "later"); return nil }))

	check := func(name string, read func(id object.ID, prev *FoldStep) (*FoldStep, error), get func(object.ID) (object.Kind, []byte, []byte, error)) int {
		t.Helper()
		lookups := 0
		lookupSeen = func(object.ID) { lookups++ }
		defer func() { lookupSeen = nil }()
		var step *FoldStep
		for _, id := range ids {
			var err error
			step, err = read(id, step)
			require.NoError(t, err, name)
			_, body, _, err := get(id)
			require.NoError(t, err)
			c, err := object.DecodeCommit(body)
			require.NoError(t, err)
			require.Equal(t, c, step.Commit, name)
			require.Len(t, step.Bodies, len(c.Events))
			for i, eid := range c.Events {
				_, body, data, err := get(eid)
				require.NoError(t, err)
				require.Equal(t, body, step.Bodies[i], name)
				require.Equal(t, data, step.Data[i], name)
			}
		}
		return lookups
	}
	lookups := 0
	n := check("store", s.ReadFoldStep, func(id object.ID) (object.Kind, []byte, []byte, error) {
		lookups++ // the checks' own lookups, not the fold's
		return s.Get(id)
	})
	require.LessOrEqual(t, n-lookups, 3, "two frames and the reused event: one lookup each")

	// In a transaction that adds more: the commits it holds are read as
	// objects, the others by frames.
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		chain(tx, 5, "pending")
		check("transaction", tx.ReadFoldStep, tx.Get)
		return nil
	}))
}
