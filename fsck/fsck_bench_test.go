package fsck_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
)

// BenchmarkFsck checks a repository of imported banking events, one
// commit per event (two objects per event). EVGIT_FSCK_BENCH_EVENTS sets
// the size (default 100 000); the target is a million events in under 30 s:
//
//	EVGIT_FSCK_BENCH_EVENTS=1000000 go test ./fsck -run '^$' -bench Fsck -benchtime 1x
func BenchmarkFsck(b *testing.B) {
	n := 100_000
	if v := os.Getenv("EVGIT_FSCK_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var buf bytes.Buffer
	if err := bankgen.Write(&buf, bankgen.Config{Seed: 1, Events: n, Accounts: max(n/10, 1)}); err != nil {
		b.Fatal(err)
	}
	r, _, err := evgit.Init(ctx, filepath.Join(b.TempDir(), "repo"), evgit.InitOptions{Bare: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Import(ctx, &buf, evgit.ImportOptions{Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := r.Fsck(ctx, evgit.FsckOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || rep.Objects != 2*n {
			b.Fatalf("ok=%v, %d objects, %v", rep.OK, rep.Objects, rep.Problems)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
