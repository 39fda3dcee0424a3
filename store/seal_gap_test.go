package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// An uncovered segment that holds no object (only its checkpoint), older
// than the newest: what two segment starts with no write between leave
// (say a background seal killed after startSeal, then a gc killed after its
// startSegment). seal() derives the segments it covers from memOrder, so
// it never lists that segment; uncoverAfterGap then drops every index it
// writes, and every open scans everything from there on.
func TestSealCoversASegmentWithNoObject(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1) // segment 1: uncovered, with objects
	require.NoError(t, s.lock.lock())
	s.mu.Lock()
	require.NoError(t, s.lock.bumpGen())
	require.NoError(t, s.startSegment(2)) // killed seal/gc: segment 2, checkpoint only
	require.NoError(t, s.startSegment(3)) // a second one, from another process
	s.mu.Unlock()
	s.lock.unlock()
	require.NoError(t, s.Close())

	s, err := Open(dir, Options{})
	require.NoError(t, err)
	for i := 2; i < 12; i++ {
		appendCommit(t, s, i)
		sealed, err := s.Seal(0)
		require.NoError(t, err)
		require.True(t, sealed)
	}
	require.NoError(t, s.Close())
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	log, err := s.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log, 12)
	s.mu.RLock()
	scanned := len(s.memOrder)
	s.mu.RUnlock()
	require.Zero(t, scanned, "sealed segments are not scanned at open")
}

// The pack a gc killed before its .pidx leaves (a .pack and a .ridx that
// nothing reads) is removed by the next process to open with the lock,
// instead of taking room for good.
func TestDeadGCsPackIsRemoved(t *testing.T) {
	s, dir := newStore(t, Options{})
	appendCommit(t, s, 0)
	appendCommit(t, s, 1)
	require.NoError(t, s.Close())
	for _, suf := range []string{packDataSuffix, packRecordsSuffix} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log", packName(1, suf)), []byte("half a pack"), 0o644))
	}
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	for _, suf := range []string{packDataSuffix, packRecordsSuffix} {
		_, err := os.Stat(filepath.Join(dir, "log", packName(1, suf)))
		require.ErrorIs(t, err, os.ErrNotExist)
	}
	log, err := s.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log, 2)
}
