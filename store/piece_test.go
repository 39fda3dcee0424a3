package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// A piece built and compressed on another goroutine goes into the frame
// as its compressed bytes, after what the transaction added before it
// (compressed then as a piece of its own); every object, before, in and
// after the piece, reads back in the transaction, after it and after a
// reopen. A piece not compressed, or put in a detached transaction, adds
// its objects one by one, and they read back too.
func TestPutPiece(t *testing.T) {
	s, dir := newStore(t, Options{})
	blob := func(tag string, i int) []byte {
		return fmt.Appendf(nil, `{"tag":%q,"i":%d,"pad":"%0200d"}`, tag, i, i)
	}
	newPiece := func(tag string, n int, compress bool) (*Piece, []object.ID) {
		p := NewPiece(n, 0)
		var ids []object.ID
		done := make(chan struct{})
		go func() { // as a snapshot job builds one
			defer close(done)
			for i := range n {
				b := blob(tag, i)
				id := object.Hash(object.KindTree, b)
				p.PutHashed(id, object.KindTree, b)
				ids = append(ids, id)
			}
			if compress {
				p.Compress()
			}
		}()
		<-done
		return p, ids
	}
	type want struct {
		id   object.ID
		kind object.Kind
	}
	var wants []want
	check := func(get func(object.ID) (object.Kind, []byte, []byte, error)) {
		t.Helper()
		for _, w := range wants {
			kind, body, _, err := get(w.id)
			require.NoError(t, err)
			require.Equal(t, w.kind, kind)
			require.Equal(t, w.id, object.Hash(kind, body))
		}
	}
	piece, pieceIDs := newPiece("piece", 400, true)
	var first object.ID
	require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
		for i := range 20 { // less than CompressAhead takes: compressed when the piece comes
			id := tx.PutObject(object.KindBlob, blob("before", i))
			wants = append(wants, want{id, object.KindBlob})
			if i == 0 {
				first = id
			}
		}
		tx.PutPiece(piece)
		for _, id := range pieceIDs {
			wants = append(wants, want{id, object.KindTree})
		}
		for i := range 20 {
			wants = append(wants, want{tx.PutObject(object.KindBlob, blob("after", i)), object.KindBlob})
		}
		check(tx.Get)
		return nil
	}))
	loc, ok := s.lookup(first)
	require.True(t, ok)
	raw, err := os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	frame := raw[loc.Off+pack.FrameHeaderSize:]
	at := bytes.Index(frame, piece.zstd)
	require.Greater(t, at, 0, "the frame holds the piece's compressed bytes, after the bytes before it")

	// Uncompressed, and in a detached transaction: one by one.
	plain, plainIDs := newPiece("plain", 30, false)
	detached, detachedIDs := newPiece("detached", 30, true)
	require.NoError(t, s.Update(context.Background(), func(tx *Tx) error {
		tx.PutPiece(plain)
		return nil
	}))
	tx := s.Detached()
	tx.PutPiece(detached)
	require.NoError(t, s.UpdatePrepared(context.Background(), tx, func(*Tx) error { return nil }))
	for _, id := range append(plainIDs, detachedIDs...) {
		wants = append(wants, want{id, object.KindTree})
	}
	check(s.Get)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	check(s2.Get)
}

// Pieces in a group: the first transaction's piece goes in compressed
// as it is, the second's is compressed with the rest of the group's
// payload, and every object reads back.
func TestPutPieceInAGroup(t *testing.T) {
	s, dir := newStore(t, Options{})
	var ids []object.ID
	newPiece := func(tag string) *Piece {
		p := NewPiece(300, 0)
		for i := range 300 {
			b := fmt.Appendf(nil, `{"tag":%q,"i":%d,"pad":"%0200d"}`, tag, i, i)
			id := object.Hash(object.KindTree, b)
			p.PutHashed(id, object.KindTree, b)
			ids = append(ids, id)
		}
		p.Compress()
		return p
	}
	a, b := newPiece("a"), newPiece("b")
	var fns []func(*Tx) error
	for i, p := range []*Piece{a, b} {
		fns = append(fns, func(tx *Tx) error {
			ids = append(ids, tx.PutObject(object.KindBlob, fmt.Appendf(nil, "before %d", i)))
			tx.PutPiece(p)
			ids = append(ids, tx.PutObject(object.KindBlob, fmt.Appendf(nil, "after %d", i)))
			return nil
		})
	}
	inOneGroup(t, s, fns...)
	loc, ok := s.lookup(ids[len(ids)-1])
	require.True(t, ok)
	raw, err := os.ReadFile(filepath.Join(dir, "log", segName(loc.Seg)))
	require.NoError(t, err)
	require.Greater(t, bytes.Index(raw[loc.Off:], a.zstd), 0, "the first transaction's piece is in the frame as it was compressed")
	check := func(s *Store) {
		for _, id := range ids {
			kind, body, _, err := s.Get(id)
			require.NoError(t, err)
			require.Equal(t, id, object.Hash(kind, body))
		}
	}
	check(s)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
}
