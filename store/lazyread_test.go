package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// An import's batch holds its commits first and its snapshot tree after,
// compressed apart (Seal): a new process that reads one of its commits
// leaves the tree compressed, and reads the tree after.
func TestSealedBatchReadsACommitWithoutItsTree(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	tx := s.Detached()
	var parent, first object.ID
	for i := range 2000 {
		ev := object.NewEvent(fmt.Sprintf("acc-%d", i%300), "Deposited", 1, nil, []byte(fmt.Sprintf(`{"amount":%d}`, i*7919%100003)))
		eid := tx.PutEvent(ev)
		c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0).UTC(), Offset: uint64(i + 1)}
		if !parent.IsZero() {
			c.Parents = []object.ID{parent}
		}
		parent = tx.PutCommit(c)
		if i == 0 {
			first = parent
		}
	}
	var trees []object.ID
	for i := range 400 {
		tr := &object.Tree{Leaf: true}
		for j := range 10 {
			st := []byte(fmt.Sprintf(`{"balance":%d,"owner":"owner-%d"}`, i*j*7919%1000003, j))
			tr.Entries = append(tr.Entries, object.TreeEntry{Stream: fmt.Sprintf("acc-%03d-%d", i, j), Version: uint64(j + 1), State: st, StateID: object.Hash(object.KindBlob, st)})
		}
		trees = append(trees, tx.PutTree(tr))
	}
	require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/main", New: parent, Time: time.Unix(2000, 0), Message: "import"}))
	tx.Seal()
	require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
	require.NoError(t, s.Close())

	s, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	c, err := s.Commit(first)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), c.Offset)
	loc, ok := s.lookup(first)
	require.True(t, ok)
	f, err := s.frame(loc)
	require.NoError(t, err)
	done, total := f.Decompressed()
	assert.Less(t, done, total/2, "the tree is left compressed")
	for _, id := range trees {
		_, err := s.Tree(id)
		require.NoError(t, err)
	}
	done, total = f.Decompressed()
	assert.Equal(t, total, done)
}
