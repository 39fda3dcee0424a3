package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// sealedStore makes a store of n commits, each sealed into a segment and
// an index of its own (n < 4, so none are merged), and closes it.
func sealedStore(t *testing.T, n int) (string, []object.ID) {
	t.Helper()
	s, dir := newStore(t, Options{})
	var ids []object.ID
	for i := range n {
		ids = append(ids, appendCommit(t, s, i))
		sealed, err := s.Seal(0)
		require.NoError(t, err)
		require.True(t, sealed)
	}
	require.NoError(t, s.Close())
	return dir, ids
}

// mergeFiles writes the index that merging the named index files makes,
// as a merge does before it removes them, and returns its name.
func mergeFiles(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var group []*pack.Index
	for _, n := range names {
		ix, err := pack.OpenIndex(pack.OS, filepath.Join(dir, "log", n))
		require.NoError(t, err)
		defer ix.Close()
		group = append([]*pack.Index{ix}, group...) // newest first
	}
	name, data, err := mergeData(group)
	require.NoError(t, err)
	require.NoError(t, pack.WriteFileAtomic(pack.OS, name, data))
	return filepath.Base(name)
}

// Two indexes that share a segment with neither covering the other (two
// merges that raced, the first killed before it removed its inputs) are
// not both read: the records of the shared segment would count twice. The
// reflog reads once, linked, and a writer removes the smaller index.
func TestOverlappingIndexesReadOnce(t *testing.T) {
	dir, ids := sealedStore(t, 3)
	a := mergeFiles(t, dir, idxName(1, 1), idxName(2, 2))
	b := mergeFiles(t, dir, idxName(2, 2), idxName(3, 3))
	for _, n := range []uint32{1, 2, 3} {
		require.NoError(t, os.Remove(filepath.Join(dir, "log", idxName(n, n))))
	}
	check := func(s *Store) {
		t.Helper()
		log, err := s.Reflog("refs/heads/main")
		require.NoError(t, err)
		require.Len(t, log, len(ids))
		for i := range log {
			assert.Equal(t, ids[len(ids)-1-i], log[i].New, "entry %d", i)
		}
		for _, id := range ids {
			_, err := s.Commit(id)
			require.NoError(t, err)
		}
	}
	st, err := Open(dir, Options{})
	require.NoError(t, err)
	check(st)
	require.NoError(t, st.Close())
	_, errA := os.Stat(filepath.Join(dir, "log", a))
	_, errB := os.Stat(filepath.Join(dir, "log", b))
	assert.True(t, (errA == nil) != (errB == nil), "one of the two is removed: %v, %v", errA, errB)
	st, err = Open(dir, Options{})
	require.NoError(t, err)
	defer st.Close()
	check(st)
}

// A merge does not take indexes that a published merge covers, even while
// their files are still there (its process was killed before it removed
// them): they are left out of the tables as subsumed, and merging them
// again would overlap the published index.
func TestMergeLeavesIndexesAnotherMergeCovers(t *testing.T) {
	dir, _ := sealedStore(t, 3)
	merged := mergeFiles(t, dir, idxName(1, 1), idxName(2, 2)) // its inputs stay
	st, err := Open(dir, Options{})
	require.NoError(t, err)
	defer st.Close()
	st.mu.RLock()
	defer st.mu.RUnlock()
	var live []string
	for _, ix := range st.indexes {
		live = append(live, filepath.Base(ix.Path))
	}
	slices.Sort(live)
	assert.Equal(t, []string{merged, idxName(3, 3)}, live)
	assert.True(t, slices.Contains(st.idxNames, idxName(2, 2)), "the file is still there")
	assert.False(t, st.mergeable([]string{idxName(2, 2), idxName(3, 3)}, []uint32{2, 3}), "a subsumed index")
	assert.False(t, st.mergeable([]string{idxName(3, 3)}, []uint32{2, 3}), "segments another live index covers")
	assert.True(t, st.mergeable([]string{merged, idxName(3, 3)}, []uint32{1, 2, 3}))
}

// What the race leaves when the first merge also kept its inputs: M1
// covering 1 and 2 with its input for 1, and M2 covering 2 and 3. The
// repair keeps indexes that cover every segment (M2 and the input for
// 1), so an open scans no sealed segment.
func TestOverlapRepairKeepsEverySegmentCovered(t *testing.T) {
	dir, ids := sealedStore(t, 3)
	mergeFiles(t, dir, idxName(1, 1), idxName(2, 2))
	m2 := mergeFiles(t, dir, idxName(2, 2), idxName(3, 3))
	for _, n := range []uint32{2, 3} {
		require.NoError(t, os.Remove(filepath.Join(dir, "log", idxName(n, n))))
	}
	st, err := Open(dir, Options{})
	require.NoError(t, err)
	defer st.Close()
	st.mu.RLock()
	var live []string
	for _, ix := range st.indexes {
		live = append(live, filepath.Base(ix.Path))
	}
	scanned := len(st.memOrder)
	st.mu.RUnlock()
	slices.Sort(live)
	assert.Equal(t, []string{idxName(1, 1), m2}, live)
	assert.Zero(t, scanned, "no sealed segment scanned")
	log, err := st.Reflog("refs/heads/main")
	require.NoError(t, err)
	require.Len(t, log, len(ids))
}
