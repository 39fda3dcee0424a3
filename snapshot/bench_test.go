package snapshot

import (
	"fmt"
	"testing"

	"github.com/evgit/evgit/object"
)

// countingSink discards what is put and counts it.
type countingSink struct{ objects, bytes int }

func (c *countingSink) PutObject(kind object.Kind, body []byte) object.ID {
	c.objects++
	c.bytes += len(body)
	return object.Hash(kind, body)
}

// BenchmarkUpdate writes one snapshot: the same 100 changed streams over
// a tree of 10k and of 1M streams (states of a banking account, which go
// to blobs), and reports the bytes and objects it writes.
func BenchmarkUpdate(b *testing.B) {
	for _, size := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("streams=%d", size), func(b *testing.B) {
			m := newMemRepo()
			cs := make([]Change, size)
			for i := range cs {
				cs[i] = Change{Stream: fmt.Sprintf("acc-%07d", i), Version: 1, State: []byte(`{"b":1}`)}
			}
			root, err := NewWriter(m, m, nil).Build(cs)
			if err != nil {
				b.Fatal(err)
			}
			changes := make([]Change, 100)
			for i := range changes {
				changes[i] = Change{Stream: fmt.Sprintf("acc-%07d", i*(size/100)), Version: 2,
					State: fmt.Appendf(nil, `{"balance":%d,"frozen":false,"owner":"owner-%d"}`, 1000+i, i)}
			}
			sink := &countingSink{}
			w := NewWriter(m, sink, NewCache(4096))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Update(root, changes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sink.bytes)/float64(b.N), "written-B/op")
			b.ReportMetric(float64(sink.objects)/float64(b.N), "objects/op")
		})
	}
}

// BenchmarkUpdateScattered writes the snapshot of a 1000-event commit of
// the banking workload: 400 of 10,000 accounts changed, spread over the
// whole tree by their keys, states inline; each update builds on the
// last, as a branch's snapshots do.
func BenchmarkUpdateScattered(b *testing.B) {
	const streams, changed = 10_000, 400
	state := func(i, v int) []byte {
		return fmt.Appendf(nil, `{"balance":%d,"frozen":false,"owner":"owner-%d"}`, 1000+v, i)
	}
	m := newMemRepo()
	cs := make([]Change, streams)
	for i := range cs {
		cs[i] = Change{Stream: fmt.Sprintf("acc-%06d", i), Version: 1, State: state(i, 0)}
	}
	root, err := NewWriter(m, m, nil).Build(cs)
	if err != nil {
		b.Fatal(err)
	}
	// The nodes it writes go to m too: the cache, of the size a
	// repository keeps, may let go of them before a later update reads them.
	w := NewWriter(m, m, NewCache(4096))
	b.ReportAllocs()
	n, written, puts := 0, m.bytes, m.puts
	for b.Loop() {
		n++
		changes := make([]Change, changed)
		for j := range changes {
			i := (n*7919 + j*25) % streams // distinct within an update
			changes[j] = Change{Stream: fmt.Sprintf("acc-%06d", i), Version: uint64(n + 1), State: state(i, n)}
		}
		if root, err = w.Update(root, changes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.bytes-written)/float64(b.N), "written-B/op")
	b.ReportMetric(float64(m.puts-puts)/float64(b.N), "objects/op")
}
