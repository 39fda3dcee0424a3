package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// prepare builds, detached, a commit of one blob on old and the move of
// main from old to it.
func prepare(t *testing.T, s *Store, old object.ID, i int) (*Tx, object.ID) {
	t.Helper()
	tx := s.Detached()
	blob := tx.PutObject(object.KindBlob, []byte(`{"prepared":`+string(rune('0'+i))+`}`))
	c := &object.Commit{Events: []object.ID{blob}, Time: time.Unix(int64(1000+i), 0), Offset: uint64(i)}
	if !old.IsZero() {
		c.Parents = []object.ID{old}
	}
	cid := tx.PutCommit(c)
	_, _, _, err := tx.Get(cid) // a detached transaction reads what it added
	require.NoError(t, err)
	require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: old, New: cid, Time: c.Time, Message: "prepared"}))
	tx.Seal()
	return tx, cid
}

// TestUpdatePrepared: a transaction built and compressed without the
// lock is written when its ref still holds the value it moved it from;
// it is refused, and nothing of it written, when the ref moved meanwhile
// or the check fails. Reads of a detached transaction see only itself.
func TestUpdatePrepared(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	head := appendCommit(t, s, 0)

	tx, cid := prepare(t, s, head, 1)
	_, _, _, err := tx.Get(head)
	require.ErrorIs(t, err, ErrNotFound, "a detached transaction does not read the store")
	require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
	got, _, _ := s.Resolve("refs/heads/main")
	assert.Equal(t, cid, got)

	// The ref moves between preparing and writing: a conflict.
	stale, lost := prepare(t, s, cid, 2)
	moved := appendCommit(t, s, 3)
	require.ErrorIs(t, s.UpdatePrepared(ctx, stale, func(*Tx) error { return nil }), refs.ErrConflict)
	// The check refuses: its error, and nothing written.
	refused, lost2 := prepare(t, s, moved, 4)
	errNo := errors.New("no")
	require.ErrorIs(t, s.UpdatePrepared(ctx, refused, func(*Tx) error { return errNo }), errNo)

	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	got, _, _ = s2.Resolve("refs/heads/main")
	assert.Equal(t, moved, got)
	for _, id := range []object.ID{lost, lost2} {
		_, _, _, err := s2.Get(id)
		require.ErrorIs(t, err, ErrNotFound)
	}
	_, _, _, err = s2.Get(cid)
	require.NoError(t, err)
}

// TestUpdatePreparedBesideOthers: prepared and ordinary transactions
// queued together are all written, the prepared ones each in a frame of
// their own.
func TestUpdatePreparedBesideOthers(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := s.Update(ctx, func(tx *Tx) error {
				tx.PutObject(object.KindBlob, []byte{byte(i)})
				return nil
			})
			assert.NoError(t, err)
		})
	}
	tx := s.Detached()
	blob := tx.PutObject(object.KindBlob, []byte("prepared"))
	tx.Seal()
	require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
	wg.Wait()
	_, _, _, err := s.Get(blob)
	require.NoError(t, err)
	for i := range 8 {
		_, _, _, err := s.Get(object.Hash(object.KindBlob, []byte{byte(i)}))
		require.NoError(t, err)
	}
}

// TestSealNow: Seal indexes the newest segment when it holds enough
// objects, and a store opened after it has nothing to scan.
func TestSealNow(t *testing.T) {
	s, dir := newStore(t, Options{})
	var ids []object.ID
	for i := range 20 {
		ids = append(ids, appendCommit(t, s, i))
	}
	sealed, err := s.Seal(1000)
	require.NoError(t, err)
	assert.False(t, sealed, "fewer objects than asked")
	sealed, err = s.Seal(10)
	require.NoError(t, err)
	assert.True(t, sealed)
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.Empty(t, s2.memOrder, "nothing left to scan")
	for _, id := range ids {
		_, _, _, err := s2.Get(id)
		require.NoError(t, err)
	}
	head, _, _ := s2.Resolve("refs/heads/main")
	assert.Equal(t, ids[19], head)
	appendCommit(t, s2, 20)
}

// TestPreparedBuffersRecycled: a written detached transaction hands its
// buffers to the next one, so each object must be read from its frame on
// disk, never from memory a later transaction wrote over.
func TestPreparedBuffersRecycled(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	var head object.ID
	blobs := map[object.ID][]byte{}
	for i := range 12 {
		tx := s.Detached()
		for j := range 20 + 40*(i%3) {
			body := []byte(fmt.Sprintf(`{"batch":%d,"n":%d,"pad":%q}`, i, j, strings.Repeat("x", i*7)))
			blobs[tx.PutObject(object.KindBlob, body)] = body
		}
		c := &object.Commit{Time: time.Unix(int64(1000+i), 0), Offset: uint64(i)}
		if !head.IsZero() {
			c.Parents = []object.ID{head}
		}
		cid := tx.PutCommit(c)
		require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: head, New: cid, Time: c.Time, Message: "batch"}))
		tx.Seal()
		require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
		assert.Nil(t, tx.frame, "a written detached transaction gives its buffers up")
		head = cid
	}
	check := func(s *Store) {
		for id, body := range blobs {
			_, got, _, err := s.Get(id)
			require.NoError(t, err)
			require.Equal(t, string(body), string(got))
		}
	}
	check(s)
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
	got, _, _ := s2.Resolve("refs/heads/main")
	assert.Equal(t, head, got)
}

// TestHeadLog: a move of the branch HEAD is on is also an entry of HEAD's
// reflog (RecHeadLog), which moves nothing; a prepared transaction is
// refused once HEAD moved onto or off the branch it assumed.
func TestHeadLog(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t, Options{})
	c0 := appendCommit(t, s, 0)
	c1 := appendCommit(t, s, 1)
	news := func(s *Store) []object.ID {
		t.Helper()
		v, ok := s.Ref(refs.HEAD)
		require.True(t, ok)
		assert.Equal(t, "refs/heads/main", v.Symbolic, "HEAD stays attached")
		log, err := s.HeadLog()
		require.NoError(t, err)
		var got []object.ID
		for _, u := range log {
			got = append(got, u.New)
		}
		return got
	}
	assert.Equal(t, []object.ID{c1, c0}, news(s))

	// Prepared assuming HEAD on main: written, with its entry.
	tx := s.Detached()
	tx.AssumeHead("refs/heads/main", true)
	blob := tx.PutObject(object.KindBlob, []byte(`{"b":2}`))
	c2 := tx.PutCommit(&object.Commit{Parents: []object.ID{c1}, Events: []object.ID{blob}, Time: time.Unix(1002, 0), Offset: 2})
	require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: c1, New: c2, Time: time.Unix(1002, 0)}))
	tx.Seal()
	require.NoError(t, s.UpdatePrepared(ctx, tx, func(*Tx) error { return nil }))
	assert.Equal(t, []object.ID{c2, c1, c0}, news(s))

	// Assumed off main while HEAD is on it: refused.
	off, _ := prepare(t, s, c2, 3)
	off.AssumeHead("refs/heads/main", false)
	require.ErrorIs(t, s.UpdatePrepared(ctx, off, func(*Tx) error { return nil }), refs.ErrConflict)
	// Assumed on main once HEAD went elsewhere: refused.
	on, _ := prepare(t, s, c2, 4)
	on.AssumeHead("refs/heads/main", true)
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		require.NoError(t, tx.UpdateRef(refs.Update{Name: "refs/heads/other", New: c0}))
		tx.SetSymbolic(refs.HEAD, "refs/heads/other")
		tx.LogHead(refs.Update{Old: c2, New: c0, Message: "checkout: moving from main to other"})
		return nil
	}))
	require.ErrorIs(t, s.UpdatePrepared(ctx, on, func(*Tx) error { return nil }), refs.ErrConflict)
	require.NoError(t, s.Update(ctx, func(tx *Tx) error {
		tx.SetSymbolic(refs.HEAD, "refs/heads/main")
		tx.LogHead(refs.Update{Old: c0, New: c2})
		return nil
	}))

	// Replayed from the log: HEAD attached, the same reflog.
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	got, _, _ := s2.Resolve(refs.HEAD)
	assert.Equal(t, c2, got)
	assert.Equal(t, []object.ID{c2, c0, c2, c1, c0}, news(s2))
}
