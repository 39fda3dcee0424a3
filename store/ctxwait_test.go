package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// putBlob is a transaction adding one blob; its ID is returned.
func putBlob(body string, ran *bool) (func(*Tx) error, object.ID) {
	return func(tx *Tx) error {
		if ran != nil {
			*ran = true
		}
		tx.PutObject(object.KindBlob, []byte(body))
		return nil
	}, object.Hash(object.KindBlob, []byte(body))
}

// A writer waiting behind another transaction of its process, or behind
// another process's lock, waited past its context's end (a helper's
// audit of the library: an Append with a 300 ms deadline still waited
// after 10 minutes behind an import). It returns when its context ends
// now, having written nothing, and the writers after it go on.
func TestWritersLeaveWhenTheirContextEnds(t *testing.T) {
	guard := func(t *testing.T, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("the writer still waits")
			return nil
		}
	}
	t.Run("behind a transaction of this process", func(t *testing.T) {
		s, _ := newStore(t, Options{})
		hold, held := make(chan struct{}), make(chan struct{})
		var once sync.Once
		unhold := func() { once.Do(func() { close(hold) }) }
		t.Cleanup(unhold) // before the store closes, should the test fail
		first := make(chan error, 1)
		go func() {
			first <- s.Update(context.Background(), func(tx *Tx) error {
				close(held)
				<-hold
				return nil
			})
		}()
		<-held
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var ran bool
		fn, id := putBlob("late", &ran)
		done := make(chan error, 1)
		go func() { done <- s.Update(ctx, fn) }()
		require.ErrorIs(t, guard(t, done), context.DeadlineExceeded)
		unhold()
		require.NoError(t, guard(t, first))
		next, nextID := putBlob("next", nil)
		require.NoError(t, s.Update(context.Background(), next), "the lead was handed on")
		assert.False(t, ran, "the abandoned transaction never ran")
		assert.False(t, s.Has(id))
		assert.True(t, s.Has(nextID))
	})
	t.Run("leading, behind another process's lock", func(t *testing.T) {
		s, dir := newStore(t, Options{})
		release := holdLockElsewhere(t, dir)
		ctx, cancel := context.WithCancel(context.Background())
		var ran bool
		fn, id := putBlob("leader", &ran)
		done := make(chan error, 1)
		go func() { done <- s.Update(ctx, fn) }()
		time.Sleep(20 * time.Millisecond) // it leads and waits for the lock
		// A writer that cannot give up queues behind it.
		behind, behindID := putBlob("behind", nil)
		after := make(chan error, 1)
		go func() { after <- s.Update(context.Background(), behind) }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		require.ErrorIs(t, guard(t, done), context.Canceled)
		select {
		case err := <-after:
			t.Fatalf("the writer behind returned %v while the lock was held", err)
		case <-time.After(50 * time.Millisecond):
		}
		release()
		require.NoError(t, guard(t, after), "the writer behind leads now")
		assert.False(t, ran)
		assert.False(t, s.Has(id))
		assert.True(t, s.Has(behindID))
	})
}

// Writers with and without deadlines, in goroutines, while another
// "process" takes and drops the lock: each either lands or reports its
// context's end and leaves nothing, and the store takes a last write.
func TestWritersLeavingAtRandom(t *testing.T) {
	s, dir := newStore(t, Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			release := holdLockElsewhere(t, dir)
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			release()
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
		}
	})
	type outcome struct {
		id  object.ID
		err error
	}
	results := make(chan outcome, 400)
	var writers sync.WaitGroup
	for g := range 8 {
		writers.Go(func() {
			for i := range 50 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if (g+i)%3 != 0 {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rand.IntN(2000))*time.Microsecond)
				}
				fn, id := putBlob(fmt.Sprintf("w%d-%d", g, i), nil)
				err := s.Update(ctx, fn)
				cancel()
				results <- outcome{id, err}
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	close(results)
	landed, left := 0, 0
	for o := range results {
		switch {
		case o.err == nil:
			landed++
			assert.True(t, s.Has(o.id))
		case errors.Is(o.err, context.DeadlineExceeded):
			left++
			assert.False(t, s.Has(o.id), "a writer that left wrote nothing")
		default:
			t.Fatalf("unexpected error: %v", o.err)
		}
	}
	t.Logf("landed %d, left %d", landed, left)
	fn, id := putBlob("last", nil)
	require.NoError(t, s.Update(context.Background(), fn))
	assert.True(t, s.Has(id))
}

// waitQueue waits until the store's queue holds n requests.
func waitQueue(s *Store, n int) {
	for {
		s.group.mu.Lock()
		got := len(s.group.queue)
		s.group.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(10 * time.Microsecond)
	}
}

// A leader that leaves (its context ended while another process holds
// the lock) puts the rest of its group back in the queue. A request of
// that group whose caller left at the same moment was put back too, and
// handed the lead nobody would take: every later writer hung (found by a
// helper's review). The rest is now chosen under the queue's lock.
func TestLeaderLeavingAsItsGroupLeaves(t *testing.T) {
	for i := range 200 {
		s, dir := newStore(t, Options{})
		release := holdLockElsewhere(t, dir)
		g := &s.group
		g.mu.Lock()
		g.leading = true // another leader runs a group
		g.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		own := &request{ctx: ctx, fn: func(*Tx) error { return nil }}
		other := &request{ctx: ctx, fn: func(*Tx) error { return nil }}
		ownDone, otherDone := make(chan error, 1), make(chan error, 1)
		go func() { ownDone <- s.update(own) }()
		waitQueue(s, 1)
		go func() { otherDone <- s.update(other) }()
		waitQueue(s, 2)
		// The other leader hands on the lead: own takes both and waits
		// for the lock; then both callers leave at once.
		g.mu.Lock()
		g.queue[0].lead <- struct{}{}
		g.mu.Unlock()
		waitQueue(s, 0)
		time.Sleep(time.Duration(i%7) * 50 * time.Microsecond)
		cancel()
		require.ErrorIs(t, <-ownDone, context.Canceled)
		require.ErrorIs(t, <-otherDone, context.Canceled)
		release()
		done := make(chan error, 1)
		go func() { done <- s.Update(context.Background(), func(*Tx) error { return nil }) }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a writer hangs after a leader and its group left", i)
		}
		require.NoError(t, s.Close())
	}
}

// A writer that gave up on another process's lock left a goroutine
// waiting in the kernel with the lock's in-process mutex held, so the
// store's Close (an interrupted `evgit commit` on its way out) waited for
// the other process all the same (a helper's stress run). The wait holds
// no mutex now: Close returns at once, and a store opened again writes
// once the lock is free.
func TestCloseAfterAWriterGaveUpOnTheLock(t *testing.T) {
	s, dir := newStore(t, Options{})
	release := holdLockElsewhere(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	fn, _ := putBlob("given up", nil)
	require.ErrorIs(t, s.Update(ctx, fn), context.DeadlineExceeded)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("Close waits for another process's lock")
	}
	release()
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	fn, id := putBlob("after", nil)
	require.NoError(t, s2.Update(context.Background(), fn))
	assert.True(t, s2.Has(id))
}

// A store opened by a relative path, in a process that then changed
// folder: a writer with a context waited for the lock through the lock
// file opened again by that relative path, and failed (a helper's
// review). The path is made absolute when the store opens.
func TestWaitingForTheLockAfterAChangeOfFolder(t *testing.T) {
	_, dir := newStore(t, Options{})
	t.Chdir(filepath.Dir(dir))
	s, err := Open(filepath.Base(dir), Options{})
	require.NoError(t, err)
	defer s.Close()
	t.Chdir(t.TempDir())
	release := holdLockElsewhere(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fn, id := putBlob("after a chdir", nil)
	done := make(chan error, 1)
	go func() { done <- s.Update(ctx, fn) }()
	time.Sleep(50 * time.Millisecond)
	release()
	require.NoError(t, <-done)
	assert.True(t, s.Has(id))
}

// gc waited for another process's lock whatever its context said (a
// helper's review: a TERM to `evgit gc` could not stop it); it gives up
// when its context ends now, and a writer behind it in this process is
// not held up by that.
func TestGCLeavesWhenItsContextEnds(t *testing.T) {
	s, dir := newStore(t, Options{})
	fn, _ := putBlob("before", nil)
	require.NoError(t, s.Update(context.Background(), fn))
	release := holdLockElsewhere(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.GC(ctx, GCOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(20 * time.Second):
		release()
		t.Fatal("gc still waits for the lock")
	}
	release()
	fn, id := putBlob("after", nil)
	require.NoError(t, s.Update(context.Background(), fn))
	assert.True(t, s.Has(id))
	_, err := s.GC(context.Background(), GCOptions{})
	require.NoError(t, err)
}
