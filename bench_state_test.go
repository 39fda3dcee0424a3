package evgit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

// benchImport imports a workload into a new repository under the banking
// model with the given snapshot interval.
func benchImport(b *testing.B, data []byte, every int) *Repository {
	b.Helper()
	ctx := context.Background()
	r, _, err := Init(ctx, b.TempDir(), InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	if _, err := r.SetModel(ctx, []byte(bankModelEvery(every)), "bench"); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Import(ctx, bytes.NewReader(data), ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	return r
}

// reopen opens the repository again: a new process's view, no caches.
func reopen(b *testing.B, r *Repository) *Repository {
	b.Helper()
	o, err := Open(context.Background(), r.GitDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	return o
}

// cold times the first call; report it after the loop (b.Loop drops
// metrics reported before it).
func cold(fn func()) float64 {
	start := time.Now()
	fn()
	return float64(time.Since(start).Microseconds()) / 1000
}

// BenchmarkState measures reading state on 100k banking events (one
// commit each) over 10k accounts: the hottest stream (about 15% of the
// events) at HEAD with snapshots every 100 events and with snapshots
// off, one account as of a time in the middle of history, and a full
// checkout. cold-ms is the first call in a freshly opened repository
// (what one CLI invocation pays); ns/op is a process that keeps going.
func BenchmarkState(b *testing.B) {
	ctx := context.Background()
	data := benchWorkload(b, 100_000)
	snaps := benchImport(b, data, 100)
	off := benchImport(b, data, 0)
	head, err := snaps.Resolve(ctx, "HEAD")
	if err != nil {
		b.Fatal(err)
	}
	load := func(b *testing.B, r *Repository, at object.ID) {
		st, err := r.StreamAt(context.Background(), at, "acc-000000")
		if err != nil || st.Version < 10_000 {
			b.Fatal(st.Version, err)
		}
	}
	mid, err := snaps.Resolve(ctx, "HEAD~50")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    *Repository
		at   object.ID
	}{
		{"LoadHot/snapshot_every=100/at-snapshot", snaps, head},
		{"LoadHot/snapshot_every=100/50-after", snaps, mid},
		{"LoadHot/snapshot_every=0", off, head},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := reopen(b, c.r)
			first := cold(func() { load(b, r, c.at) })
			b.ReportAllocs()
			for b.Loop() {
				load(b, r, c.at)
			}
			b.ReportMetric(first, "cold-ms")
		})
	}
	t := bankgen.DefaultStart.Add(50_000*time.Second + time.Second/2)
	asOf := func(b *testing.B, r *Repository) {
		st, err := r.State(ctx, "HEAD", "acc-000042", StateOptions{AsOf: t})
		if err != nil || st.Version == 0 {
			b.Fatal(err)
		}
	}
	b.Run("AsOf/walk", func(b *testing.B) {
		r := reopen(b, snaps)
		first := cold(func() { asOf(b, r) })
		b.ReportAllocs()
		for b.Loop() {
			asOf(b, r)
		}
		b.ReportMetric(first, "cold-ms")
	})
	b.Run("AsOf/line-index", func(b *testing.B) {
		r := reopen(b, snaps)
		if _, err := r.lineCommits(r.st, head); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			asOf(b, r)
		}
	})
	b.Run("Checkout10k", func(b *testing.B) {
		r := reopen(b, snaps)
		files := 0
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			os.Remove(filepath.Join(r.GitDir(), WorktreeIndexName))
			ents, _ := os.ReadDir(r.WorkTree())
			for _, e := range ents {
				if e.Name() != DirName {
					os.RemoveAll(filepath.Join(r.WorkTree(), e.Name()))
				}
			}
			b.StartTimer()
			res, err := r.Checkout(ctx, "main", CheckoutOptions{})
			if err != nil {
				b.Fatal(err)
			}
			files = res.Written
		}
		b.ReportMetric(float64(files), "files")
	})
	b.Run("CheckoutOneCommit", func(b *testing.B) {
		r := reopen(b, snaps)
		if _, err := r.Checkout(ctx, "main", CheckoutOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rev := []string{"main~1", "main"}[i%2]
			i++
			if _, err := r.Checkout(ctx, rev, CheckoutOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
