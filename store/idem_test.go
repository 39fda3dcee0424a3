package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// Every use of a key stays readable, newest first, wherever its record
// lies: sealed indexes, the segment not yet indexed, the transaction's
// group, the transaction itself; and after a reopen.
func TestIdempotencyAllKeepsEveryUse(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{SealObjects: 10})
	var want []IdemUse // oldest first
	use := func(tx *Tx, c object.ID) {
		tx.PutIdempotency("", "k", c, object.Hash(object.KindBlob, c[:]))
		want = append(want, IdemUse{c, object.Hash(object.KindBlob, c[:])})
	}
	newestFirst := func() []IdemUse {
		out := make([]IdemUse, len(want))
		for i, u := range want {
			out[len(want)-1-i] = u
		}
		return out
	}
	read := func(s *Store) []IdemUse {
		var got []IdemUse
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			var err error
			got, err = tx.IdempotencyAll("", "k")
			return err
		}))
		return got
	}
	for i := range 45 {
		c := appendCommit(t, s, i)
		if i%10 == 3 {
			require.NoError(t, s.Update(ctx, func(tx *Tx) error {
				use(tx, c)
				return nil
			}))
		}
	}
	require.Equal(t, newestFirst(), read(s))

	// Two transactions of one group: the second sees the first's use.
	head, _, _ := s.Resolve("refs/heads/main")
	other := object.Hash(object.KindBlob, []byte("other"))
	var wantBefore, seenBefore, seenAfter []IdemUse
	inOneGroup(t, s, func(tx *Tx) error {
		use(tx, head)
		return nil
	}, func(tx *Tx) error {
		// Checked after the group: a failing require here would stop
		// the test's goroutine with the group waiting.
		var err error
		if seenBefore, err = tx.IdempotencyAll("", "k"); err != nil {
			return err
		}
		wantBefore = newestFirst()
		use(tx, other)
		seenAfter, err = tx.IdempotencyAll("", "k")
		return err
	})
	require.Equal(t, wantBefore, seenBefore, "the group's use")
	require.Equal(t, newestFirst(), seenAfter, "the transaction's own use")
	require.Equal(t, newestFirst(), read(s))
	c, d, ok, err := s.Idempotency("", "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, IdemUse{other, object.Hash(object.KindBlob, other[:])}, IdemUse{c, d}, "the newest use")

	require.NoError(t, s.Close())
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, newestFirst(), read(s))
}

// BranchIdem tells whether any key is recorded under a branch (as builds
// before session 15 did), wherever the record lies: in the transaction,
// in memory, in a sealed index, and after a reopen; keys recorded for no
// branch do not count.
func TestBranchIdemFindsKeysUnderABranch(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{SealObjects: 10})
	branchIdem := func(s *Store, put func(*Tx)) bool {
		var got bool
		require.NoError(t, s.Update(ctx, func(tx *Tx) error {
			if put != nil {
				put(tx)
			}
			var err error
			got, err = tx.BranchIdem()
			return err
		}))
		return got
	}
	c := appendCommit(t, s, 0)
	require.False(t, branchIdem(s, func(tx *Tx) { tx.PutIdempotency("", "k", c, c) }))
	for i := range 30 { // sealed, in an index
		appendCommit(t, s, i+1)
	}
	require.NotEmpty(t, s.indexes)
	require.False(t, branchIdem(s, nil))
	require.True(t, branchIdem(s, func(tx *Tx) { tx.PutIdempotency("refs/heads/main", "old", c, c) }), "in the transaction")
	require.True(t, branchIdem(s, nil), "in memory")
	for i := range 30 {
		appendCommit(t, s, i+31)
	}
	require.Empty(t, s.memIdem, "sealed")
	require.True(t, branchIdem(s, nil), "in an index")
	require.NoError(t, s.Close())
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.True(t, branchIdem(s, nil), "after a reopen")
}
