package pack

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evgit/evgit/object"
)

// sortObjects orders any number of objects as a comparison sort does:
// random IDs, IDs that share their first bytes, and repeated IDs.
func TestSortObjects(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 100, 1<<12 - 1, 1 << 12, 70_000} {
		objs := make([]IndexedObject, n)
		for i := range objs {
			var id object.ID
			for j := range id {
				id[j] = byte(rng.Uint32())
			}
			switch {
			case i%7 == 1:
				id[0], id[1] = 0xab, 0xcd // many in one bucket
			case i%13 == 3:
				id[0], id[1] = 0xff, 0xff // the last bucket
			case i%17 == 4:
				id[0], id[1] = 0, 0 // the first
			case i%11 == 2 && i > 0:
				id = objs[i-1].ID // repeated
			}
			objs[i] = IndexedObject{ID: id, Loc: Location{Seg: 1, Off: uint32(i), Slot: uint32(i % 5)}}
		}
		want := slices.Clone(objs)
		slices.SortStableFunc(want, compareObjects)
		got := sortObjects(slices.Clone(objs))
		if len(got) != n {
			t.Fatalf("%d objects sorted into %d", n, len(got))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("%d objects: position %d holds %s, want %s", n, i, got[i].ID.Short(), want[i].ID.Short())
			}
		}
		if !slices.IsSortedFunc(got, compareObjects) {
			t.Fatalf("%d objects: not sorted", n)
		}
	}
}
