package evgit

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/evgit/evgit/object"
)

// benchRepo opens $EVGIT_BENCH_REPO (a .evgit folder) or builds a
// repository of n banking events, one commit per event, after gc.
func benchRepo(b *testing.B, n int) *Repository {
	b.Helper()
	ctx := context.Background()
	if dir := os.Getenv("EVGIT_BENCH_REPO"); dir != "" {
		r, err := Open(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	r, _, err := Init(ctx, b.TempDir(), InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	if _, err := r.Import(ctx, bytesReader(benchWorkload(b, n)), ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := r.GC(ctx, GCOptions{Prune: "now"}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkRandomEventRead reads single events by ID in random order from
// a packed repository (100k events, or $EVGIT_BENCH_REPO).
func BenchmarkRandomEventRead(b *testing.B) {
	r := benchRepo(b, 100_000)
	ids := eventIDs(b, r)
	rng := rand.New(rand.NewPCG(1, 2))
	st := r.Store()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Event(ids[rng.IntN(len(ids))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkRandomEventReadParallel is BenchmarkRandomEventRead from every
// core at once.
func BenchmarkRandomEventReadParallel(b *testing.B) {
	r := benchRepo(b, 100_000)
	ids := eventIDs(b, r)
	st := r.Store()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
		for pb.Next() {
			if _, err := st.Event(ids[rng.IntN(len(ids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// eventIDs lists the IDs of every event on HEAD's line.
func eventIDs(b *testing.B, r *Repository) []object.ID {
	b.Helper()
	var ids []object.ID
	for e, err := range r.LogEntries(context.Background(), LogOptions{}, nil) {
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, e.Commit.Events...)
	}
	return ids
}
