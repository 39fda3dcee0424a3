package store

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// A transaction held s.mu for writing while its function ran, so every
// read of the process waited for it: behind an import, which checks its
// whole input in one function as it reads it, for as long as the input
// took to come. Reads go on beside a transaction's function now, and see
// the store as it was before the transaction, until it is written.
func TestReadsGoOnBesideATransaction(t *testing.T) {
	s, dir := newStore(t, Options{})
	before, beforeID := putBlob("before", nil)
	require.NoError(t, s.Update(context.Background(), before))
	_, ok := s.Ref("refs/heads/main")
	require.False(t, ok, "main is unborn")

	// Another process writes before the group takes the lock: the group
	// catches up with it, and so do the reads beside it.
	other, err := Open(dir, Options{})
	require.NoError(t, err)
	elsewhere, elsewhereID := putBlob("elsewhere", nil)
	require.NoError(t, other.Update(context.Background(), elsewhere))
	require.NoError(t, other.Close())

	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(unhold) // before the store closes, should the test fail
	duringID := object.Hash(object.KindBlob, []byte("during"))
	first := make(chan error, 1)
	go func() {
		first <- s.Update(context.Background(), func(tx *Tx) error {
			tx.PutObject(object.KindBlob, []byte("during"))
			if err := tx.UpdateRef(refs.Update{Name: "refs/heads/main", New: duringID, Time: time.Now()}); err != nil {
				return err
			}
			close(held)
			<-hold
			return nil
		})
	}()
	<-held

	read := make(chan struct{})
	go func() {
		defer close(read)
		assert.NoError(t, s.Refresh())
		assert.True(t, s.Has(beforeID))
		assert.True(t, s.Has(elsewhereID), "what another process wrote before the group")
		assert.False(t, s.Has(duringID), "the transaction is not written yet")
		_, ok := s.Ref("refs/heads/main")
		assert.False(t, ok, "the ref is not moved yet")
		kind, body, _, err := s.Get(beforeID)
		assert.NoError(t, err)
		assert.Equal(t, object.KindBlob, kind)
		assert.Equal(t, "before", string(body))
	}()
	select {
	case <-read:
	case <-time.After(20 * time.Second):
		t.Fatal("reads wait for the transaction's function")
	}

	unhold()
	require.NoError(t, <-first)
	require.NoError(t, s.Refresh())
	assert.True(t, s.Has(duringID))
	v, ok := s.Ref("refs/heads/main")
	require.True(t, ok)
	assert.Equal(t, duringID, v.ID)
}

// Writers, readers, background seals and gc at once, for -race: reads
// beside transactions touch nothing a write changes without s.mu held for
// writing.
func TestReadsBesideWritersSealsAndGC(t *testing.T) {
	s, _ := newStore(t, Options{SealObjects: 20, BackgroundSeal: true})
	var stop atomic.Bool
	var wg sync.WaitGroup
	var last atomic.Value
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := appendCommit(t, s, w*100000+i)
				last.Store(id)
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_ = s.Refresh()
				if v, ok := last.Load().(object.ID); ok {
					if _, err := s.Commit(v); err != nil {
						t.Errorf("read: %v", err)
					}
				}
				_, _ = s.Reflog("refs/heads/main")
				s.DurableMark()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_, _ = s.GC(context.Background(), GCOptions{PruneNow: true})
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
}

// Each read of the facade refreshes first, and a Refresh took the tables
// for writing even with nothing to catch up on, so readers took turns. One
// with nothing new now holds them only for reading, beside other readers.
func TestRefreshWithNothingNewHoldsTheTablesForReading(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	refresh := func() {
		t.Helper()
		s.mu.RLock() // another reader
		done := make(chan error, 1)
		go func() { done <- s.Refresh() }()
		select {
		case err := <-done:
			s.mu.RUnlock()
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			s.mu.RUnlock()
			require.NoError(t, <-done)
			t.Fatal("Refresh waited for the tables while another reader held them")
		}
	}
	refresh()
	// Something new is still caught up with, under the write hold.
	other, err := Open(dir, Options{})
	require.NoError(t, err)
	id := appendCommit(t, other, 1)
	require.NoError(t, other.Close())
	assert.False(t, s.Has(id))
	require.NoError(t, s.Refresh())
	assert.True(t, s.Has(id))
	refresh()
}

// A Refresh that finds nothing new must still see what the durable mark
// says: another process's synced commit lost from the newest segment (cut
// short at a frame boundary) reads as zeros or the file's end where the
// next frame would start, and was taken for nothing new, the reader going
// on with the refs of before (a helper's review).
func TestRefreshWithNothingNewStillSeesTheMark(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	require.NoError(t, s.Refresh())
	end := s.segs[s.last].Size()
	other, err := Open(dir, Options{})
	require.NoError(t, err)
	appendCommit(t, other, 1)
	require.NoError(t, other.Close())
	require.NoError(t, os.Truncate(filepath.Join(dir, "log", segName(s.last)), end))
	require.ErrorIs(t, s.Refresh(), ErrCorrupt)
}
