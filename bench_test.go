package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/evgit/evgit/bankgen"
)

// emptyBenchRepo makes an empty repository, with the banking model if asked.
func emptyBenchRepo(b *testing.B, withModel bool) *Repository {
	b.Helper()
	mdl := ""
	if withModel {
		mdl = bankgen.Model
	}
	return emptyBenchRepoModel(b, mdl)
}

// emptyBenchRepoModel returns an empty repository under the model mdl
// ("": none).
func emptyBenchRepoModel(b *testing.B, mdl string) *Repository {
	b.Helper()
	r, _, err := Init(context.Background(), b.TempDir(), InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if mdl != "" {
		if _, err := r.SetModel(context.Background(), []byte(mdl), "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

func benchWorkload(b *testing.B, n int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := bankgen.Write(&buf, bankgen.Config{Seed: 1, Events: n, Accounts: n / 10}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkImport100k imports 100k banking events, one commit per event,
// under the banking model, and reports events per second.
func BenchmarkImport100k(b *testing.B) {
	for _, withModel := range []bool{false, true} {
		b.Run(fmt.Sprintf("model=%v", withModel), func(b *testing.B) {
			data := benchWorkload(b, 100_000)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				b.StopTimer()
				r := emptyBenchRepo(b, withModel)
				b.StartTimer()
				res, err := r.Import(context.Background(), bytes.NewReader(data), ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Events != 100_000 {
					b.Fatalf("imported %d events", res.Events)
				}
				b.StopTimer()
				r.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAppend measures durable commits through the library: each
// Append returns once its commit is synced.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 1000} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			r, _, err := Init(context.Background(), b.TempDir(), InitOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			batch := make([]EventInput, size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A large commit's events are built off the clock, as
				// AppendBank's are; one event costs less to build than
				// stopping and starting the clock (which reads the
				// memory statistics, stopping the world).
				if size > 1 {
					b.StopTimer()
				}
				for j := range batch {
					i++
					batch[j] = EventInput{Stream: fmt.Sprintf("acc-%d", i%1000), Type: "MoneyDeposited", Data: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, i))}
				}
				if size > 1 {
					b.StartTimer()
				}
				if _, err := r.Append(context.Background(), batch, AppendOptions{Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// BenchmarkAppendBank appends the 100k-event banking workload in durable
// commits of 1000 events, as the peer benchmark does, with and without
// the banking model, and with the model but no snapshots (the write path
// and the fold alone); the events are built before the clock starts.
func BenchmarkAppendBank(b *testing.B) {
	lines, err := ReadLines(bytes.NewReader(benchWorkload(b, 100_000)), false)
	if err != nil {
		b.Fatal(err)
	}
	events := make([]EventInput, len(lines))
	for i, l := range lines {
		events[i] = l.Event
	}
	noSnapshots := strings.Replace(bankgen.Model, "snapshot_every: 100", "snapshot_every: 0", 1)
	for _, c := range []struct{ name, model string }{{"model=false", ""}, {"model=true", bankgen.Model}, {"model=true,snapshots=off", noSnapshots}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				r := emptyBenchRepoModel(b, c.model)
				b.StartTimer()
				for i := 0; i < len(events); i += 1000 {
					if _, err := r.Append(context.Background(), events[i:i+1000], AppendOptions{Actor: "bench"}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				r.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkParseLine parses the lines of the banking workload as import
// does (commit headers allowed), one line an operation.
func BenchmarkParseLine(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(benchWorkload(b, 10_000)), []byte("\n"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := parseLine(lines[i%len(lines)], true); err != nil {
			b.Fatal(err)
		}
	}
}
