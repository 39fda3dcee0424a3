package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// openUncut builds a repository with n commits and a torn tail, and opens
// it while lost-found cannot be made (a full disk): s.uncut is set.
// roomAgain lets lost-found be made again.
func openUncut(t *testing.T, n int) (s2 *Store, roomAgain func()) {
	fsys := newFaultFS()
	dir := filepath.Join(scratchDir(t), ".evgit")
	_, err := Init(fsys, dir, "main")
	require.NoError(t, err)
	s, err := Open(dir, Options{FS: fsys})
	require.NoError(t, err)
	for i := range n {
		appendCommit(t, s, i)
	}
	end := s.segs[1].Size()
	require.NoError(t, s.Close())
	f, err := os.OpenFile(filepath.Join(dir, "log", segName(1)), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, end)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	var full atomic.Bool
	full.Store(true)
	fsys.mu.Lock()
	fsys.before = func(c fsCall) {
		if full.Load() && c.Op == "MkdirAll" && strings.Contains(c.Path, LostFound) {
			fsys.mu.Lock()
			fsys.failAt = c.N
			fsys.mu.Unlock()
		}
	}
	fsys.mu.Unlock()
	s2, err = Open(dir, Options{FS: fsys})
	require.NoError(t, err, "reads need no room on the disk")
	t.Cleanup(func() { s2.Close() })
	require.NotNil(t, s2.uncut)
	return s2, func() { full.Store(false) }
}

// A torn tail is kept in lost-found before it is cut; when that fails (a
// full disk), opening failed, and with it every command, reads and fsck
// too (a helper's audit). The store opens now and reads up to the tail;
// writes are refused, naming why, until the tail can be kept and cut.
func TestTornTailThatCannotBeKept(t *testing.T) {
	s, roomAgain := openUncut(t, 1)
	assert.Zero(t, s.TornBytes())
	id, _, _ := s.Resolve("HEAD")
	_, err := s.Commit(id)
	require.NoError(t, err)
	require.NoError(t, s.Refresh())

	err = s.Update(context.Background(), func(tx *Tx) error {
		tx.PutObject(object.KindBlob, []byte("after"))
		return nil
	})
	require.ErrorContains(t, err, "keeping the torn tail of segment 1")
	assert.False(t, s.Has(object.Hash(object.KindBlob, []byte("after"))))

	roomAgain() // the next write keeps and cuts the tail
	appendCommit(t, s, 1)
	assert.Equal(t, int64(11), s.TornBytes())
	s3, err := Open(s.dir, Options{})
	require.NoError(t, err)
	defer s3.Close()
	assert.Zero(t, s3.TornBytes())
	head3, _, _ := s3.Resolve("HEAD")
	head, _, _ := s.Resolve("HEAD")
	assert.Equal(t, head, head3)
	assert.NotEqual(t, id, head3)
}

// A locked scan that leaves the tail uncut returns before s.scanned is
// set: the next scan starts over from where the previous one began and
// takes every record of the segment in again.
func TestUncutTailIsScannedOnce(t *testing.T) {
	s, _ := openUncut(t, 3)
	log0, err := s.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log0, 3)
	for range 3 { // each refused write scans again
		err := s.Update(context.Background(), func(tx *Tx) error {
			tx.PutObject(object.KindBlob, []byte("x"))
			return nil
		})
		require.Error(t, err)
	}
	require.NoError(t, s.Refresh())
	log1, err := s.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log1, 3, "reflog entries taken in again by the rescans")
}

// A Refresh that found no group running and waits for s.mu while the
// group catches up becomes a pending writer once the group holds s.mu for
// reading: every read of the process then waits for the transaction's
// function, and a function that waits for such a read never returns.
func TestRefreshDoesNotQueueBehindAGroup(t *testing.T) {
	s, _ := newStore(t, Options{})
	before, beforeID := putBlob("before", nil)
	require.NoError(t, s.Update(context.Background(), before))
	for try := range 20 {
		s.mu.RLock() // a read in progress as the group starts
		held, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.Update(context.Background(), func(tx *Tx) error {
				close(held)
				<-release
				return nil
			})
		}()
		time.Sleep(20 * time.Millisecond) // the leader waits for s.mu.Lock
		go func() { _ = s.Refresh() }()   // no group current yet: waits for s.mu.Lock
		time.Sleep(20 * time.Millisecond)
		s.mu.RUnlock()
		<-held
		read := make(chan bool, 1)
		go func() { read <- s.Has(beforeID) }()
		select {
		case ok := <-read:
			require.True(t, ok)
			close(release)
			require.NoError(t, <-first)
		case <-time.After(10 * time.Second): // a read that waits, waits for ever: slack for a loaded machine
			close(release)
			require.NoError(t, <-first)
			t.Fatalf("try %d: a read waits for the transaction's function (a Refresh queued for s.mu.Lock behind the group's RLock)", try)
		}
	}
}

// refresh(true) with s.stale set returns what reload returns, and a
// reload whose locked scan leaves the tail uncut returns nil: the write
// goes on, appended over the tail it could not keep.
func TestStaleReloadStillRefusesOverAnUncutTail(t *testing.T) {
	s, _ := openUncut(t, 2)
	s.mu.Lock()
	s.stale = errors.New("catching up with the log failed: a read failed once") // any failed catch-up
	s.mu.Unlock()
	err := s.Update(context.Background(), func(tx *Tx) error {
		tx.PutObject(object.KindBlob, []byte("after"))
		return nil
	})
	require.Error(t, err, "a write while the torn tail is uncut must be refused")
}

// The records taken in twice reach the index a seal writes: the reopened
// repository's reflog still holds them twice.
func TestUncutTailRecordsReachTheIndexOnce(t *testing.T) {
	s, roomAgain := openUncut(t, 3)
	require.NoError(t, s.Refresh()) // a reader's refresh scans from 0 again
	roomAgain()                     // the next write keeps and cuts the tail
	appendCommit(t, s, 3)
	_, err := s.Seal(1)
	require.NoError(t, err)
	dir := s.dir
	require.NoError(t, s.Close())
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	log, err := s2.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log, 4)
}

// On a disk without room for an index, a seal wrote the next segment,
// then failed to write the index, and the next commit did the same: a
// new segment a commit (a helper's audit, on a full disk). No seal starts
// now until there is room; the segment grows meanwhile.
func TestNoSealWithoutRoomForTheIndex(t *testing.T) {
	for _, background := range []bool{false, true} {
		s, _ := newStore(t, Options{SealObjects: 8, BackgroundSeal: background})
		full := true
		saved := freeSpace
		freeSpace = func(dir string) (int64, bool) {
			if full {
				return 4096, true
			}
			return saved(dir)
		}
		t.Cleanup(func() { freeSpace = saved })
		for i := range 30 {
			appendCommit(t, s, i)
		}
		s.waitSeal()
		assert.Equal(t, uint32(1), s.last, "no segment started (background %v)", background)
		full = false
		appendCommit(t, s, 30)
		s.waitSeal()
		assert.Greater(t, s.last, uint32(1), "sealed once there is room (background %v)", background)
	}
}
