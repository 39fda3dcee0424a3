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
	var pieces []pack.Compressed
	require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
		ids = append(ids, put(tx, "start", 400)...) // about 90 KB
		tx.CompressAhead()
		ids = append(ids, put(tx, "small", 10)...)
		tx.CompressAhead() // too little since the last piece: nothing
		ids = append(ids, put(tx, "middle", 400)...)
		tx.CompressAhead()
		ids = append(ids, put(tx, "rest", 300)...)
		pieces = tx.compressedAhead()
		return nil
	}))
	require.Len(t, pieces, 2, "two pieces of at least 64 KB went ahead")
	require.Greater(t, pieces[0].N, 64<<10)
	require.Greater(t, pieces[1].N-pieces[0].N, 64<<10)
	loc, ok := s.lookup(ids[0])
	require.True(t, ok)
	raw, err := os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	frame := raw[loc.Off+pack.FrameHeaderSize:]
	require.True(t, bytes.HasPrefix(frame, pieces[0].Zstd), "the frame starts with the first piece")
	require.True(t, bytes.HasPrefix(frame[len(pieces[0].Zstd):], pieces[1].Zstd), "and goes on with the second")

	// A group whose first transaction compressed ahead.
	var groupAhead []pack.Compressed
	inOneGroup(t, s, func(tx *Tx) error {
		ids = append(ids, put(tx, "group-a", 400)...)
		tx.CompressAhead()
		groupAhead = tx.compressedAhead()
		return nil
	}, func(tx *Tx) error {
		for i := range 50 {
			tx.PutObject(object.KindBlob, blob("group-b", i))
		}
		return nil
	})
	require.Len(t, groupAhead, 1)
	loc, ok = s.lookup(ids[len(ids)-1])
	require.True(t, ok)
	raw, err = os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw[loc.Off+pack.FrameHeaderSize:], groupAhead[0].Zstd), "the group's frame starts with its first transaction's bytes compressed ahead")

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

// inOneGroup runs fns as the transactions of one group: each queues, in
// order, while another transaction holds the lead, and they all go in
// the group of the one that leads next, with one sync.
func inOneGroup(t *testing.T, s *Store, fns ...func(*Tx) error) {
	t.Helper()
	inOneGroupSyncs(t, s, 1, fns...)
}

// inOneGroupSyncs is inOneGroup for a group written with syncs syncs.
func inOneGroupSyncs(t *testing.T, s *Store, syncs int, fns ...func(*Tx) error) {
	t.Helper()
	ctx := context.Background()
	release, holding := make(chan struct{}), make(chan struct{})
	errs := make(chan error, len(fns)+1)
	go func() {
		errs <- s.Update(ctx, func(*Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	for i, fn := range fns {
		go func() { errs <- s.Update(ctx, fn) }()
		for queued := 0; queued != i+1; runtime.Gosched() {
			s.group.mu.Lock()
			queued = len(s.group.queue)
			s.group.mu.Unlock()
		}
	}
	before, _ := s.SyncStats()
	close(release)
	for range len(fns) + 1 {
		require.NoError(t, <-errs)
	}
	after, _ := s.SyncStats()
	require.Equal(t, before+uint64(syncs), after, "the transactions went in one group (the holder wrote nothing)")
}
