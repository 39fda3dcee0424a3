package evgit

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
)

// Large banking commits under the model, each building its snapshot tree
// on a goroutine of its own, with gc runs and a second Repository's
// commits between them: every snapshot recorded is the fold of the
// events (VerifySnapshots) and fsck is clean. It holds the leaf
// rebinding, the cache that keeps the live tree whole and the check of a
// cached head's tree after a gc (session 13) to what a fold says.
func TestLargeCommitSnapshotsHold(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	require.NoError(t, bankgen.Write(&buf, bankgen.Config{Seed: 7, Events: 24_000, Accounts: 2_000}))
	lines, err := ReadLines(bytes.NewReader(buf.Bytes()), false)
	require.NoError(t, err)
	r := modelRepo(t, bankgen.Model)
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	rng := rand.New(rand.NewPCG(7, 13))
	verified := 0
	for i := 0; i < len(lines); {
		n := min(len(lines)-i, 200+rng.IntN(1300))
		events := make([]EventInput, n)
		for j := range events {
			events[j] = lines[i+j].Event
		}
		i += n
		w := r
		if rng.IntN(5) == 0 {
			w = other // the other process's commit; r's cached head is then stale
		}
		_, err := w.Append(ctx, events, AppendOptions{Actor: "t"})
		require.NoError(t, err)
		if k := rng.IntN(8); k < 2 {
			// Every snapshot so far, before gc thins them.
			require.NoError(t, w.Flush(ctx))
			checked, err := r.VerifySnapshots(ctx, "main")
			require.NoError(t, err)
			verified += checked
			_, err = []*Repository{r, other}[k].GC(ctx, GCOptions{Prune: "now"})
			require.NoError(t, err)
		}
	}
	require.NoError(t, r.Flush(ctx))
	require.NoError(t, other.Flush(ctx))
	n, err := r.VerifySnapshots(ctx, "main")
	require.NoError(t, err)
	require.Positive(t, n)
	require.Greater(t, verified, 20, "snapshots verified before the gcs")
	rep, err := r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Problems)
}
