package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// A transaction that compresses its start ahead is written as a frame
// that begins with those bytes, and every object in it, before and after
// the start, reads back, alone or in a group, before and after a reopen.
func TestCompressAhead(t *testing.T) {
	s, dir := newStore(t, Options{})
	blob := func(tag string, i int) []byte {
		return fmt.Appendf(nil, `{"tag":%q,"i":%d,"pad":"%0200d"}`, tag, i, i)
	}
	put := func(tx *Tx, tag string, n int) []object.ID {
		var ids []object.ID
		for i := range n {
			ids = append(ids, tx.PutObject(object.KindBlob, blob(tag, i)))
		}
		return ids
	}
	var ids []object.ID
	var ahead *compressAhead
	require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
		ids = append(ids, put(tx, "start", 400)...) // about 90 KB
		tx.CompressAhead()
		ahead = tx.ahead
		ids = append(ids, put(tx, "rest", 300)...)
		return nil
	}))
	require.NotNil(t, ahead, "a start of 90 KB is compressed ahead")
	<-ahead.done
	require.Greater(t, ahead.c.N, 64<<10, "the start, and only the start, went ahead")
	loc, ok := s.lookup(ids[0])
	require.True(t, ok)
	raw, err := os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	frame := raw[loc.Off:]
	require.True(t, bytes.HasPrefix(frame[pack.FrameHeaderSize:], ahead.c.Zstd), "the frame starts with the bytes compressed ahead")

	// A group whose first transaction compressed ahead: both queue while
	// a third holds the lead, and go in its successor's group.
	release, holding := make(chan struct{}), make(chan struct{})
	errs := make(chan error, 3)
	go func() {
		errs <- s.Update(context.Background(), func(tx *Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	queued := func(n int) {
		for {
			s.group.mu.Lock()
			q := len(s.group.queue)
			s.group.mu.Unlock()
			if q == n {
				return
			}
			runtime.Gosched()
		}
	}
	var groupAhead *compressAhead
	go func() {
		errs <- s.Update(context.Background(), func(tx *Tx) error {
			ids = append(ids, put(tx, "group-a", 400)...)
			tx.CompressAhead()
			groupAhead = tx.ahead
			return nil
		})
	}()
	queued(1)
	go func() {
		errs <- s.Update(context.Background(), func(tx *Tx) error {
			for i := range 50 {
				tx.PutObject(object.KindBlob, blob("group-b", i))
			}
			return nil
		})
	}()
	queued(2)
	syncs, _ := s.SyncStats()
	close(release)
	for range 3 {
		require.NoError(t, <-errs)
	}
	after, _ := s.SyncStats()
	require.Equal(t, syncs+1, after, "the two went in one group (the holder wrote nothing)")
	require.NotNil(t, groupAhead)
	loc, ok = s.lookup(ids[len(ids)-1])
	require.True(t, ok)
	raw, err = os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw[loc.Off+pack.FrameHeaderSize:], groupAhead.c.Zstd), "the group's frame starts with its first transaction's bytes compressed ahead")

	check := func(s *Store) {
		for _, id := range ids {
			_, body, _, err := s.Get(id)
			require.NoError(t, err)
			require.Equal(t, id, object.Hash(object.KindBlob, body))
		}
	}
	check(s)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
}
