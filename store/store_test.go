package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

func newStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".evgit")
	_, err := Init(nil, dir, "main")
	require.NoError(t, err)
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// appendCommit commits one event to main through the store.
func appendCommit(t *testing.T, s *Store, i int) object.ID {
	t.Helper()
	var cid object.ID
	err := s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve("refs/heads/main")
		ev := object.NewEvent(fmt.Sprintf("s-%d", i%7), "T", 1, map[string]string{"n": fmt.Sprint(i)}, []byte(fmt.Sprintf(`{"i":%d}`, i)))
		eid := tx.PutEvent(ev)
		c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0), Offset: uint64(i + 1)}
		if !head.IsZero() {
			c.Parents = []object.ID{head}
		}
		cid = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: head, New: cid, Time: c.Time, Message: "commit"})
	})
	require.NoError(t, err)
	return cid
}

func TestStoreRoundTripAcrossSeals(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 10})
	var ids []object.ID
	for i := range 100 {
		ids = append(ids, appendCommit(t, s, i))
	}
	check := func(s *Store) {
		head, target, ok := s.Resolve("HEAD")
		require.True(t, ok)
		assert.Equal(t, "refs/heads/main", target)
		assert.Equal(t, ids[99], head)
		for i, id := range ids {
			c, err := s.Commit(id)
			require.NoError(t, err, "commit %d", i)
			assert.Equal(t, uint64(i+1), c.Offset)
			ev, err := s.Event(c.Events[0])
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(ev.Data))
		}
		log, err := s.Reflog("refs/heads/main")
		require.NoError(t, err)
		require.Len(t, log, 100)
		assert.Equal(t, ids[99], log[0].New)
		assert.Equal(t, ids[0], log[99].New)
	}
	check(s)
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{SealObjects: 10})
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
	ents, _ := os.ReadDir(filepath.Join(dir, "log"))
	idx := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".idx" {
			idx++
		}
	}
	assert.Less(t, idx, 12, "indexes are merged")
}

func TestTornTailIsCut(t *testing.T) {
	s, dir := newStore(t, Options{})
	id := appendCommit(t, s, 0)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, end)
	require.NoError(t, err)
	f.Close()
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, int64(11), s2.TornBytes())
	head, _, _ := s2.Resolve("HEAD")
	assert.Equal(t, id, head)
	appendCommit(t, s2, 1)
}

func TestDamageBeforeTailIsCorruption(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1)
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", segName(1))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[end/2] ^= 0x40
	require.NoError(t, os.WriteFile(seg, b, 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.Equal(t, b, after, "nothing is cut")
}
