package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

var (
	sinkID     object.ID
	sinkBytes  []byte
	sinkCommit *object.Commit
)

// sampleEvent is a typical banking event: a deposit with actor and time.
func sampleEvent() (stream, typ string, meta map[string]string, data []byte) {
	return "acc-000042", bankgen.TypeMoneyDeposited,
		map[string]string{"actor": "teller-7", "time": "2026-01-01T00:00:00Z"},
		[]byte(`{"amount":1200}`)
}

// BenchmarkEventEncodeHash measures the per-event work of an append, step
// by step: canonicalizing the data, building the event (which hashes the
// data into its blob ID), and encoding and hashing the event body into its
// ID.
func BenchmarkEventEncodeHash(b *testing.B) {
	stream, typ, meta, data := sampleEvent()
	b.Run("canonical-data", func(b *testing.B) {
		raw := []byte(`{ "amount" : 1200 }`)
		var buf []byte
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var err error
			if buf, err = object.AppendCanonicalJSON(buf[:0], raw); err != nil {
				b.Fatal(err)
			}
		}
		sinkBytes = buf
	})
	b.Run("new-event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := object.NewEvent(stream, typ, 1, meta, data)
			sinkID = ev.DataID
		}
	})
	b.Run("encode-hash", func(b *testing.B) {
		ev := object.NewEvent(stream, typ, 1, meta, data)
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = ev.AppendEncode(buf[:0])
			sinkID = object.Hash(object.KindEvent, buf)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("all", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			ev := object.NewEvent(stream, typ, 1, meta, data)
			buf = ev.AppendEncode(buf[:0])
			sinkID = object.Hash(object.KindEvent, buf)
		}
	})
}

// sampleCommit is a commit of n events on one parent, as import and
// append write them.
func sampleCommit(n int) *object.Commit {
	stream, typ, meta, _ := sampleEvent()
	c := &object.Commit{
		Parents: []object.ID{object.Hash(object.KindCommit, []byte("parent"))},
		Time:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Offset:  uint64(100_000 + n),
		Actor:   "bench",
		Message: "deposits",
	}
	for i := range n {
		ev := object.NewEvent(stream, typ, 1, meta, fmt.Appendf(nil, `{"amount":%d}`, i+1))
		c.Events = append(c.Events, ev.ID())
	}
	return c
}

// BenchmarkCommitDecode decodes a commit body, as every history walk does
// once per commit: one event a commit (the import and log case) and 1000
// (a batched append).
func BenchmarkCommitDecode(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			body := sampleCommit(n).Encode()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				c, err := object.DecodeCommit(body)
				if err != nil {
					b.Fatal(err)
				}
				sinkCommit = c
			}
		})
	}
}

// BenchmarkCommitEncodeHash encodes a commit and hashes it into its ID,
// as every append does once.
func BenchmarkCommitEncodeHash(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			c := sampleCommit(n)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = c.AppendEncode(buf[:0])
				sinkID = object.Hash(object.KindCommit, buf)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// TestSampleCommitRoundTrip checks that the benchmarks decode what they
// encode, so a broken codec cannot make them fast.
func TestSampleCommitRoundTrip(t *testing.T) {
	c := sampleCommit(3)
	got, err := object.DecodeCommit(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != c.ID() || len(got.Events) != 3 || got.Offset != c.Offset {
		t.Fatalf("round trip changed the commit: %+v", got)
	}
}
