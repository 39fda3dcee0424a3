package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// BenchmarkUpdateOneEvent measures one durable transaction holding an
// event, a commit and a ref move: the floor under library appends.
func BenchmarkUpdateOneEvent(b *testing.B) {
	dir := b.TempDir() + "/.evgit"
	if _, err := Init(nil, dir, "main"); err != nil {
		b.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := s.Update(context.Background(), func(tx *Tx) error {
			head, _, _ := tx.Resolve("refs/heads/main")
			ev := object.NewEvent(fmt.Sprintf("s-%d", i%100), "T", 1, nil, []byte(`{"a":1}`))
			c := &object.Commit{Events: []object.ID{tx.PutEvent(ev)}, Time: time.Unix(int64(i), 0), Offset: uint64(i)}
			if !head.IsZero() {
				c.Parents = []object.ID{head}
			}
			id := tx.PutCommit(c)
			return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: head, New: id, Time: c.Time})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
