package pack

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/evgit/evgit/object"
)

// searchUniform finds what a binary search finds, for keys spread evenly
// or not: repeated keys, clusters, one key everywhere, and ranges of every
// small size.
func TestSearchUniformIsBinarySearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := map[string]func(n int) []uint64{
		"uniform": func(n int) []uint64 {
			k := make([]uint64, n)
			for i := range k {
				k[i] = rng.Uint64()
			}
			return k
		},
		"repeats": func(n int) []uint64 {
			k := make([]uint64, n)
			for i := range k {
				k[i] = rng.Uint64() >> 58 // 64 values
			}
			return k
		},
		"clustered": func(n int) []uint64 {
			k := make([]uint64, n)
			for i := range k {
				if i%10 == 0 {
					k[i] = rng.Uint64()
				} else {
					k[i] = 1<<40 + rng.Uint64()>>50
				}
			}
			return k
		},
		"one key": func(n int) []uint64 {
			k := make([]uint64, n)
			for i := range k {
				k[i] = 42
			}
			return k
		},
		"extremes": func(n int) []uint64 {
			k := make([]uint64, n)
			for i := range k {
				k[i] = [...]uint64{0, 1, 1<<64 - 2, 1<<64 - 1}[rng.IntN(4)]
			}
			return k
		},
	}
	for name, shape := range shapes {
		for _, n := range []int{0, 1, 2, 16, 17, 18, 100, 5000} {
			keys := shape(n)
			slices.Sort(keys)
			key := func(i int) uint64 { return keys[i] }
			bounds := [][2]uint64{{0, 1<<64 - 1}, {0, 0}, {42, 42}}
			if n > 0 {
				bounds = append(bounds, [2]uint64{keys[0], keys[n-1]})
			}
			probes := []uint64{0, 1, 41, 42, 43, 1<<64 - 2, 1<<64 - 1}
			for range 200 {
				probes = append(probes, rng.Uint64(), rng.Uint64()>>58, 1<<40+rng.Uint64()>>50)
			}
			probes = append(probes, keys...)
			for _, want := range probes {
				for _, r := range [][2]int{{0, n}, {n / 3, n}, {0, n / 2}, {n / 4, 3 * n / 4}} {
					lo, hi := r[0], r[1]
					exp := lo + sort.Search(hi-lo, func(i int) bool { return keys[lo+i] >= want })
					// Bounds that do not hold only cost reads.
					for _, bd := range bounds {
						if got := searchUniform(lo, hi, want, bd[0], bd[1], key); got != exp {
							t.Fatalf("%s, %d keys, [%d, %d), want %#x, keys in [%#x, %#x]: got %d, expected %d", name, n, lo, hi, want, bd[0], bd[1], got, exp)
						}
					}
				}
			}
		}
	}
}

// BenchmarkIndexLookup looks up objects, and objects it lacks, in an
// index of 2M objects: the index of a repository of about a million
// events.
func BenchmarkIndexLookup(b *testing.B) {
	const n = 2_000_000
	rng := rand.New(rand.NewPCG(5, 6))
	objs := make([]IndexedObject, n)
	for i := range objs {
		for j := 0; j < object.IDSize; j += 8 {
			binary.LittleEndian.PutUint64(objs[i].ID[j:], rng.Uint64())
		}
		objs[i].Loc = Location{Seg: 1, Off: uint32(i), Slot: 1}
	}
	ix, err := ParseIndex(EncodeIndex([]uint32{1}, slices.Clone(objs), nil))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("found", func(b *testing.B) {
		i := 0
		for b.Loop() {
			o := &objs[i%n]
			if loc, ok := ix.Lookup(o.ID); !ok || loc != o.Loc {
				b.Fatal("not found")
			}
			i += 7919
		}
	})
	b.Run("missing", func(b *testing.B) {
		var id object.ID
		for b.Loop() {
			binary.LittleEndian.PutUint64(id[:], rng.Uint64())
			if _, ok := ix.Lookup(id); ok {
				b.Fatal("found")
			}
		}
	})
}
