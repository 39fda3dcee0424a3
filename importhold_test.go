package evgit

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
)

// withImportHold runs f with an import's hold and queue bounds set, and
// returns what the imports in f set aside (summed) and their queues'
// peak (the largest).
func withImportHold(t *testing.T, hold, queue int, f func()) importStats {
	oldHold, oldQueue := importHoldMax, importQueueMax
	importHoldMax, importQueueMax = hold, queue
	var mu sync.Mutex
	var all importStats
	importHoldClosed = func(s importStats) {
		mu.Lock()
		defer mu.Unlock()
		all.frames += s.frames
		all.lines += s.lines
		all.queuePeak = max(all.queuePeak, s.queuePeak)
	}
	defer func() {
		importHoldMax, importQueueMax = oldHold, oldQueue
		importHoldClosed = nil
	}()
	f()
	mu.Lock()
	defer mu.Unlock()
	return all
}

// TestImportSpillsPastItsHold: an import that holds more than its bound
// sets frames and lines aside in a spill file, and writes the same
// commits, snapshots and states as one that holds everything.
func TestImportSpillsPastItsHold(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 9, Events: 6000, Accounts: 300}
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, cfg))
	importAll := func() *Repository {
		r := modelRepo(t, bankModelEvery(20))
		_, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
		require.NoError(t, err)
		return r
	}
	var whole, spilled *Repository
	none := withImportHold(t, importHoldMax, importQueueMax, func() { whole = importAll() })
	assert.Zero(t, none.frames+none.lines, "nothing set aside under the default bound")
	st := withImportHold(t, 4096, 1, func() { spilled = importAll() })
	assert.Greater(t, st.frames, 3, "frames set aside")
	assert.Greater(t, st.lines, 3, "lines set aside")

	assert.Equal(t, loggedEvents(t, whole), loggedEvents(t, spilled), "the same commits of the same events")
	head, err := spilled.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	checked, err := spilled.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, checked, 6000/20/importSnapshotStride)
	checkTree(t, spilled, head, expectAt(bankgen.Generate(cfg), cfg.Events))
}

// TestImportQueueBoundWaitsOnlyWhileThePreparerCan: with room for one
// batch between the dry run and the preparer, and snapshots kept many
// batches apart, the preparer waits on the builder for a tree whose
// boundary the dry run has yet to fold; the dry run goes on then, and
// the import ends.
func TestImportQueueBoundWaitsOnlyWhileThePreparerCan(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 4, Events: 20000, Accounts: 500}
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, cfg))
	r := modelRepo(t, bankModelEvery(500)) // a tree kept every 5,000 events: 5 batches
	done := make(chan error, 1)
	withImportHold(t, importHoldMax, 1, func() {
		go func() {
			_, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(2 * time.Minute):
			t.Fatal("the import is stuck: the dry run waits on the preparer, which waits on it")
		}
	})
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	_, err = r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	checkTree(t, r, head, expectAt(bankgen.Generate(cfg), cfg.Events))
}

// loggedEvents lists each commit's events on HEAD's line, newest first,
// as stream, type and data: what an import wrote, whatever the time.
func loggedEvents(t *testing.T, r *Repository) [][]string {
	t.Helper()
	var out [][]string
	for info, err := range r.Log(context.Background(), LogOptions{}) {
		require.NoError(t, err)
		var evs []string
		for _, e := range info.Events {
			evs = append(evs, e.Stream+" "+e.Type+" "+string(e.Data))
		}
		out = append(out, evs)
	}
	return out
}

// TestImportQueueBoundHolds: the batches folded and waiting for the
// preparer stay within about the bound (plus the batch that crosses it),
// where the fold, faster than the preparer, would queue much of the
// input.
func TestImportQueueBoundHolds(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 6, Events: 60000, Accounts: 2000}
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, cfg))
	batch := in.Len() / (cfg.Events / importBatchCommits) // bytes of lines a batch
	for _, bound := range []int{64 << 10, 1 << 30} {
		r := modelRepo(t, bankModelEvery(100))
		st := withImportHold(t, importHoldMax, bound, func() {
			_, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
			require.NoError(t, err)
		})
		t.Logf("bound %d: peak %d bytes of lines waiting (a batch is %d)", bound, st.queuePeak, batch)
		assert.Positive(t, st.queuePeak, "batches waited for the preparer, weighed")
		if bound < in.Len() {
			assert.LessOrEqual(t, st.queuePeak, bound+2*batch)
		}
	}
}
