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
