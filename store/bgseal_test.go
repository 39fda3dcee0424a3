package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// liveIndexes opens the index files of a log folder.
func liveIndexes(t *testing.T, dir string) []*pack.Index {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "log"))
	require.NoError(t, err)
	var ixs []*pack.Index
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), idxSuffix) {
			ix, err := pack.OpenIndex(pack.OS, filepath.Join(dir, "log", e.Name()))
			require.NoError(t, err)
			t.Cleanup(func() { ix.Close() })
			ixs = append(ixs, ix)
		}
	}
	return ixs
}

// requireDisjoint checks that no segment is covered by two indexes: its
// records would be read twice.
func requireDisjoint(t *testing.T, ixs []*pack.Index) {
	t.Helper()
	owner := map[uint32]string{}
	for _, ix := range ixs {
		for _, n := range ix.Segments() {
			require.Empty(t, owner[n], "segment %d is in %s and %s", n, owner[n], filepath.Base(ix.Path))
			owner[n] = filepath.Base(ix.Path)
		}
	}
}

// requireLinkedReflog checks that main's reflog has n entries, each
// moving the branch from where the one before left it, and that every
// commit it names is readable.
func requireLinkedReflog(t *testing.T, s *Store, n int) {
	t.Helper()
	require.NoError(t, s.Refresh()) // the other writer's last commits
	log, err := s.Reflog(mainRef)
	require.NoError(t, err)
	require.Equal(t, n, len(log), "reflog entries")
	for i := range log {
		if i+1 < len(log) {
			require.Equal(t, log[i+1].New, log[i].Old, "reflog entries %d and %d", i, i+1)
		}
		_, err := s.Commit(log[i].New)
		require.NoError(t, err, "commit of entry %d", i)
	}
	head, _, _ := s.Resolve(mainRef)
	require.Equal(t, log[0].New, head)
}

// Two stores on one repository, as two processes, commit at once with
// segments sealed every few objects in the background. Each sees its own
// set of uncovered segments when its seal begins; indexes are published
// under the lock only over segments still uncovered, so none overlap, and
// the reflog reads every move once.
func TestBackgroundSealTwoWriters(t *testing.T) {
	opts := Options{SealObjects: 6, BackgroundSeal: true}
	a, dir := newStore(t, opts)
	b, err := Open(dir, opts)
	require.NoError(t, err)
	const per = 150
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w, s := range []*Store{a, b} {
		wg.Go(func() {
			for i := range per {
				if err := commitOnMain(s, w*per+i); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	requireLinkedReflog(t, a, 2*per)
	requireLinkedReflog(t, b, 2*per)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())

	ixs := liveIndexes(t, dir)
	require.NotEmpty(t, ixs, "segments were sealed")
	requireDisjoint(t, ixs)
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	requireLinkedReflog(t, s, 2*per)
}

// commitOnMain commits one event on main, wherever main is.
func commitOnMain(s *Store, i int) error {
	return s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve(mainRef)
		ev := object.NewEvent(fmt.Sprintf("s-%d", i%5), "T", 1, nil, []byte(fmt.Sprintf(`{"i":%d}`, i)))
		c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(int64(i), 0), Offset: uint64(i + 1)}
		if !head.IsZero() {
			c.Parents = []object.ID{head}
		}
		return tx.UpdateRef(refs.Update{Name: mainRef, Old: head, New: tx.PutCommit(c), Time: c.Time, Message: "commit"})
	})
}

// A background seal that cannot write its index costs nothing but speed:
// commits go on, and the next seal's index covers the segment too.
func TestBackgroundSealWriteFailure(t *testing.T) {
	fsys := newFaultFS()
	failNth(fsys, 1, func(c fsCall) bool { return c.Op == "WriteAt" && strings.Contains(c.Path, idxSuffix+".") })
	s, dir := newStore(t, Options{FS: fsys, SealObjects: 8, BackgroundSeal: true})
	for i := range 40 {
		require.NoError(t, commitOnMain(s, i))
		s.waitSeal()
	}
	require.NotNil(t, fsys.failed, "an index write failed")
	requireLinkedReflog(t, s, 40)
	require.NoError(t, s.Close())

	requireDisjoint(t, liveIndexes(t, dir))
	var published []string
	for _, c := range fsys.trace {
		if c.Op == "Rename" && strings.Contains(c.Path, idxSuffix+".") {
			published = append(published, c.Path[strings.LastIndex(c.Path, " ")+1:])
		}
	}
	require.NotEmpty(t, published)
	assert.Equal(t, idxName(1, 2), published[0], "the next seal covers the segment whose index failed")
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	requireLinkedReflog(t, s2, 40)
}

// The repository lock excludes goroutines of one process too: an flock
// alone would let a second goroutine in, and its unlock release the
// first's.
func TestLockExcludesGoroutines(t *testing.T) {
	s, _ := newStore(t, Options{})
	require.NoError(t, s.lock.lock())
	got, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = s.lock.lock()
		close(got)
		s.lock.unlock()
	}()
	select {
	case <-got:
		t.Error("a second goroutine took the lock while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	s.lock.unlock()
	<-done
}

// GC runs beside commits that seal in the background: it waits for a
// seal under way, and removes the temporary files killed writes left.
func TestGCBesideBackgroundSeals(t *testing.T) {
	s, dir := newStore(t, Options{SealObjects: 6, BackgroundSeal: true})
	leftover := filepath.Join(dir, "log", idxName(1, 1)+".999-1.tmp")
	require.NoError(t, os.WriteFile(leftover, []byte("killed"), 0o644))
	const n = 200
	var wg sync.WaitGroup
	var commitErr error
	wg.Go(func() {
		for i := range n {
			if commitErr = commitOnMain(s, i); commitErr != nil {
				return
			}
		}
	})
	for range 3 {
		_, err := s.GC(context.Background(), GCOptions{})
		require.NoError(t, err)
	}
	wg.Wait()
	require.NoError(t, commitErr)
	assert.NoFileExists(t, leftover)
	requireLinkedReflog(t, s, n)
	require.NoError(t, s.Close())
	requireDisjoint(t, liveIndexes(t, dir))
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s2.Close()
	requireLinkedReflog(t, s2, n)
}

// While another live process writes an index (its temporary file is in
// the log folder), a writer whose segment is due to be sealed lets it
// finish instead of sealing the same segments again; a dead process's
// file does not hold it back, nor does a live one once the segment has
// grown far past its bound.
func TestNoSealBesideAnotherSealer(t *testing.T) {
	opts := Options{SealObjects: 6, BackgroundSeal: true}
	s, dir := newStore(t, opts)
	segments := func() int {
		ents, err := os.ReadDir(filepath.Join(dir, "log"))
		require.NoError(t, err)
		n := 0
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), segSuffix) {
				n++
			}
		}
		return n
	}
	live := filepath.Join(dir, "log", fmt.Sprintf("00000009-00000009.idx.%d-999999.tmp", os.Getpid()))
	require.NoError(t, os.WriteFile(live, nil, 0o644))
	for i := range 8 { // 16 objects: past the bound, not four times past it
		require.NoError(t, commitOnMain(s, i))
		s.waitSeal()
	}
	assert.Equal(t, 1, segments(), "sealed beside a live sealer")
	for i := 8; i < 12; i++ { // 24 objects: four times the bound
		require.NoError(t, commitOnMain(s, i))
		s.waitSeal()
	}
	assert.Greater(t, segments(), 1, "not sealed far past the bound")

	t2, dir2 := newStore(t, opts)
	dead := filepath.Join(dir2, "log", "00000009-00000009.idx.999999999-999999.tmp")
	require.NoError(t, os.WriteFile(dead, nil, 0o644))
	for i := range 4 {
		require.NoError(t, commitOnMain(t2, i))
		t2.waitSeal()
	}
	ents, err := os.ReadDir(filepath.Join(dir2, "log"))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Contains(t, strings.Join(names, " "), "00000002"+segSuffix, "a dead sealer holds nothing back")
}
