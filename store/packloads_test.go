package store

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// Every gc moves PackLoads, also when the first reload after it fails
// having taken the new pack's number (here: the pack's index cannot be
// opened once): the reload that then succeeded found no change, and
// PackLoads never moved though the gc dropped objects. Found by a
// helper's review.
func TestPackLoadsMovesAfterAFailedReload(t *testing.T) {
	ctx := context.Background()
	s1, dir := newStore(t, Options{})
	appendCommit(t, s1, 0)
	ffs := newFaultFS()
	s2, err := Open(dir, Options{FS: ffs})
	require.NoError(t, err)
	defer s2.Close()

	var orphan object.ID
	var before uint64
	require.NoError(t, s2.Update(ctx, func(tx *Tx) error {
		orphan = tx.PutObject(object.KindTree, []byte("a snapshot node"))
		return nil
	}))
	require.NoError(t, s2.Update(ctx, func(tx *Tx) error {
		require.True(t, tx.Has(orphan))
		before = tx.PackLoads()
		return nil
	}))

	_, err = s1.GC(ctx, GCOptions{PruneNow: true})
	require.NoError(t, err)

	var once atomic.Bool
	ffs.before = func(c fsCall) {
		if c.Op == "OpenFile" && strings.HasSuffix(c.Path, ".pidx") && once.CompareAndSwap(false, true) {
			ffs.mu.Lock()
			ffs.failAt = c.N
			ffs.mu.Unlock()
		}
	}
	err = s2.Update(ctx, func(tx *Tx) error { return nil })
	require.Error(t, err, "the injected failure")
	require.NoError(t, s2.Update(ctx, func(tx *Tx) error {
		has := tx.Has(orphan)
		require.False(t, has, "gc dropped it")
		require.NotEqual(t, before, tx.PackLoads(), "a gc dropped objects: PackLoads must have moved")
		return nil
	}))
}
