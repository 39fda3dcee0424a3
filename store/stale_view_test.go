package store

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reader reloads (without the lock) while a seal of another process runs:
// after the seal's first gen bump, before its next segment is renamed in.
// The sealer dies before its closing bump. The reader's gen is then current
// though its listing lacks the new segment, so its locked fast path appends
// to the sealed segment.
func TestReloadInsideAnotherSeal(t *testing.T) {
	for _, afterIndex := range []bool{false, true} {
		t.Run(map[bool]string{false: "dies before its index", true: "dies after its index"}[afterIndex], func(t *testing.T) {
			fsys := newFaultFS()
			tw := openPair(t, fsys)
			require.NoError(t, tw.commit(tw.b, "b"))
			require.NoError(t, tw.commit(tw.b, "b")) // B seals segment 1: A's names are now stale
			require.NoError(t, tw.commit(tw.b, "b"))
			var once sync.Once
			var refreshErr error
			renamed := false
			fsys.mu.Lock()
			fsys.before = func(c fsCall) {
				if c.Op == "OpenFile" && strings.HasSuffix(c.Path, segName(3)+".tmp") {
					once.Do(func() { refreshErr = tw.a.Refresh() }) // A reloads inside B's seal
				}
				fail := false
				if !afterIndex && c.Op == "WriteAt" && strings.Contains(c.Path, idxSuffix+".tmp") {
					fail = true // B "dies" after segment 3 is durable, before its index
				}
				if afterIndex && c.Op == "Rename" && strings.HasSuffix(c.Path, idxSuffix) {
					renamed = true
					return
				}
				if renamed && c.Op == "SyncDir" {
					renamed, fail = false, true // B "dies" with its index published
				}
				if fail {
					fsys.mu.Lock()
					fsys.failAt = c.N
					fsys.mu.Unlock()
				}
			}
			fsys.mu.Unlock()
			require.NoError(t, tw.commit(tw.b, "b"), "acked before the seal")
			require.NoError(t, refreshErr)
			require.NotNil(t, fsys.failed)
			require.NoError(t, tw.commit(tw.a, "a"), "A's commit is acknowledged")
			tw.a.Close()
			tw.b.Close()
			_, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked})
			require.NoError(t, err, "every acknowledged commit survives")
		})
	}
}

// Same window in gc: a reader reloads while gc writes its pack (after
// gc's first bump and its new segment), gc dies after the .pidx rename and
// before its closing bump. The reader, gen current, never learns of the
// pack; its seal writes an index over the segment the pack replaced.
func TestReloadInsideAnotherGC(t *testing.T) {
	fsys := newFaultFS()
	tw := openPair(t, fsys)
	require.NoError(t, tw.commit(tw.b, "b"))
	require.NoError(t, tw.commit(tw.a, "a")) // A seals segment 1
	require.NoError(t, tw.commit(tw.b, "b")) // segment 2: one commit, uncovered
	var once sync.Once
	var refreshErr error
	refreshed, pidxRenamed := false, false
	fsys.mu.Lock()
	fsys.before = func(c fsCall) {
		if c.Op == "Rename" && strings.HasSuffix(c.Path, packDataSuffix) {
			// gc wrote its pack's files as temporary ones, bumped the
			// generation and started its new segment.
			once.Do(func() { refreshErr, refreshed = tw.a.Refresh(), true })
		}
		if c.Op == "Rename" && strings.HasSuffix(c.Path, packIndexSuffix) {
			pidxRenamed = true
			return
		}
		if pidxRenamed && c.Op == "SyncDir" {
			pidxRenamed = false
			fsys.mu.Lock()
			fsys.failAt = c.N // gc "dies" with the pack live, before its last bump
			fsys.mu.Unlock()
		}
	}
	fsys.mu.Unlock()
	_, err := tw.b.GC(t.Context(), GCOptions{})
	require.Error(t, err)
	require.NoError(t, refreshErr)
	require.True(t, refreshed, "the reader reloaded inside gc")
	tw.b.Close()
	require.NoError(t, tw.commit(tw.a, "a"))
	_, err = tw.a.Seal(1) // the commit may have sealed already (SealObjects 4)
	require.NoError(t, err)
	for _, id := range tw.acked {
		_, err := tw.a.Commit(id)
		assert.NoError(t, err, "commit %s", id.Short())
	}
	log, err := tw.a.Reflog(mainRef)
	require.NoError(t, err)
	assert.Len(t, log, len(tw.acked), "reflog entries")
	tw.a.Close()
	s, err := Open(tw.dir, Options{})
	require.NoError(t, err, "reopen")
	defer s.Close()
	log, err = s.Reflog(mainRef)
	require.NoError(t, err)
	assert.Len(t, log, len(tw.acked), "reflog entries after reopen")
	for _, id := range tw.acked {
		_, err := s.Commit(id)
		assert.NoError(t, err, "after reopen: commit %s", id.Short())
	}
}

// The reader itself, after the same window, never sees commits another
// writer makes in the new segment: its unlocked fast path scans the old one.
func TestReaderAfterAnotherSeal(t *testing.T) {
	fsys := newFaultFS()
	tw := openPair(t, fsys)
	require.NoError(t, tw.commit(tw.b, "b"))
	require.NoError(t, tw.commit(tw.b, "b"))
	require.NoError(t, tw.commit(tw.b, "b"))
	var once sync.Once
	fsys.mu.Lock()
	fsys.before = func(c fsCall) {
		if c.Op == "OpenFile" && strings.HasSuffix(c.Path, segName(3)+".tmp") {
			once.Do(func() { _ = tw.a.Refresh() })
		}
		if c.Op == "WriteAt" && strings.Contains(c.Path, idxSuffix+".tmp") {
			fsys.mu.Lock()
			fsys.failAt = c.N
			fsys.mu.Unlock()
		}
	}
	fsys.mu.Unlock()
	require.NoError(t, tw.commit(tw.b, "b"))
	tw.b.Close()
	c, err := Open(tw.dir, Options{SealObjects: 1000})
	require.NoError(t, err)
	defer c.Close()
	for range 3 {
		require.NoError(t, tw.commit(c, "c"))
	}
	require.NoError(t, tw.a.Refresh())
	want, _, _ := c.Resolve(mainRef)
	got, _, _ := tw.a.Resolve(mainRef)
	assert.Equal(t, want.Short(), got.Short(), "a reader that refreshed sees the head")
}
