package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// A transaction larger than a frame may hold is refused and writes
// nothing (a reader refuses such a frame: written, it would make the
// repository unreadable); a group whose transactions fit one by one but
// not together is written in two frames, each read back after a reopen.
func TestTransactionTooLarge(t *testing.T) {
	defer func(old int) { maxTxPayload = old }(maxTxPayload)
	maxTxPayload = 64 << 10
	s, dir := newStore(t, Options{})
	ctx := context.Background()
	blobs := func(tag string, n int) func(*Tx) error {
		return func(tx *Tx) error {
			for i := range n {
				// Random-looking bytes: the limit is on the payload, before compression.
				tx.PutObject(object.KindBlob, fmt.Appendf(nil, "%s %d %x", tag, i, object.Hash(object.KindBlob, fmt.Append(nil, tag, i))))
			}
			return nil
		}
	}
	seg := filepath.Join(dir, "log", segName(1))
	before, err := os.ReadFile(seg)
	require.NoError(t, err)
	err = s.Update(ctx, blobs("big", 1200)) // about 160 KB
	require.True(t, errors.Is(err, ErrTooLarge), "%v", err)
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "nothing written")

	var ids []object.ID
	collect := func(f func(*Tx) error) func(*Tx) error {
		return func(tx *Tx) error {
			if err := f(tx); err != nil {
				return err
			}
			for _, o := range tx.order {
				ids = append(ids, o.id)
			}
			return nil
		}
	}
	inOneGroupSyncs(t, s, 2, collect(blobs("a", 250)), collect(blobs("b", 250))) // about 35 KB each: two frames, one sync each
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	for _, id := range ids {
		kind, body, _, err := s2.Get(id)
		require.NoError(t, err)
		require.Equal(t, id, object.Hash(kind, body))
	}
}
