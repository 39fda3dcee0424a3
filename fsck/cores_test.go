package fsck_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// The object pass reads pieces of the log on each core and checks links
// in log order on one goroutine: the report must be the one a single core
// gives, problem for problem, in the order the objects lie, whatever the
// number of cores. The log here spans several MiB, with damage of every
// kind in each: links, encodings, a leaf whose entries have problems of
// both sorts (found on their own, and found through links).
func TestReportIsTheSameOnAnyNumberOfCores(t *testing.T) {
	s, dir := initStore(t, store.Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	base := commitOn(t, s, object.ZeroID, func(_ *store.Tx, c *object.Commit) {})
	for round := range 6 {
		// About 700 KB of data that does not compress: a new MiB of log
		// every other round or so.
		noise := make([]byte, 350_000)
		for i := range noise {
			noise[i] = byte(rng.Uint32())
		}
		data := fmt.Appendf(nil, `{"noise":%q}`, hex.EncodeToString(noise))
		base = commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
			c.Events = append(c.Events, tx.PutEvent(object.NewEvent("big", "Noted", 1, nil, data)))
			c.Offset++
		})
		base = commitOn(t, s, base, func(_ *store.Tx, c *object.Commit) { c.Parents = append(c.Parents, someID) })
		base = commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
			c.Events = []object.ID{tx.PutEvent(object.NewEvent("acc-1", "Noted", 1, nil, fmt.Appendf(nil, `{"b":%d, "a":2}`, round)))}
		})
		writeTx(t, s, func(tx *store.Tx) error {
			tx.PutObject(object.KindCommit, []byte{1, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, byte(round)})
			leaf := object.Tree{Leaf: true}
			for i := range 4 {
				e := object.TreeEntry{Stream: fmt.Sprintf("s/%d/%d", round, i), Version: uint64(i % 2)}
				if i < 2 {
					e.StateID = tx.PutObject(object.KindBlob, fmt.Appendf(nil, `{"r":%d,"i":%d}`, round, i))
				} else {
					e.State = fmt.Appendf(nil, `{"z":1, "a":%d}`, round)
					e.StateID = object.Hash(object.KindBlob, e.State)
				}
				leaf.Entries = append(leaf.Entries, e)
			}
			tx.PutTree(&leaf)
			return nil
		})
	}
	require.NoError(t, s.Close())

	run := func(cores int) *fsck.Report {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
		st, err := store.Open(dir, store.Options{})
		require.NoError(t, err)
		defer st.Close()
		rep, err := fsck.Run(context.Background(), st, fsck.Options{})
		require.NoError(t, err)
		return rep
	}
	one := run(1)
	require.False(t, one.OK)
	// Per round: a missing parent, an event and a commit not canonical,
	// and the leaf's two small blobs, two versions 0 and two states not
	// canonical.
	require.Len(t, one.Problems, 6*9, "%v", one.Problems)
	files := map[string]bool{}
	for i, p := range one.Problems {
		files[p.File] = true
		if i > 0 {
			prev := one.Problems[i-1]
			assert.True(t, prev.File < p.File || prev.File == p.File && prev.Offset <= p.Offset, "problem %d (%v) lies before problem %d (%v)", i, p, i-1, prev)
		}
	}
	for _, cores := range []int{2, 4} {
		assert.Equal(t, one, run(cores), "%d cores", cores)
	}
}
