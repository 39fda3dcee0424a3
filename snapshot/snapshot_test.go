package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

var errMissing = errors.New("missing")

// nothing is a Source with no objects.
type nothing struct{}

func (nothing) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	return 0, nil, nil, fmt.Errorf("object %s: %w", id.Short(), errMissing)
}

// memRepo is an in-memory object store that counts what is written.
type memRepo struct {
	*Overlay
	puts, bytes int
}

func newMemRepo() *memRepo { return &memRepo{Overlay: NewOverlay(nothing{})} }

func (m *memRepo) PutObject(kind object.Kind, body []byte) object.ID {
	m.puts++
	m.bytes += len(body)
	return m.Overlay.PutObject(kind, body)
}

func writer(m *memRepo, cache *Cache) *Writer { return NewWriter(m, m, cache) }

// state returns a state of the given size class: small ones inline,
// large ones in blobs.
func state(i, v int) []byte {
	if (i+v)%3 == 0 {
		return fmt.Appendf(nil, `{"balance":%d,"owner":"owner-%d-with-a-long-name"}`, v, i)
	}
	return fmt.Appendf(nil, `{"b":%d}`, v)
}

type want struct {
	version uint64
	state   []byte
}

// build returns the root of a fresh tree over m's streams.
func build(t *testing.T, set map[string]want) object.ID {
	t.Helper()
	var cs []Change
	for s, w := range set {
		cs = append(cs, Change{Stream: s, Version: w.version, State: w.state})
	}
	root, err := writer(newMemRepo(), nil).Build(cs)
	require.NoError(t, err)
	return root
}

// contents reads a whole tree back into a map, checking it on the way.
func contents(t *testing.T, r *Reader, root object.ID) map[string]want {
	t.Helper()
	out := map[string]want{}
	for e, err := range r.All(root) {
		require.NoError(t, err)
		st, err := r.State(e)
		require.NoError(t, err)
		out[e.Stream] = want{e.Version, st}
	}
	return out
}

func TestEmpty(t *testing.T) {
	m := newMemRepo()
	w := writer(m, nil)
	root, err := w.Build(nil)
	require.NoError(t, err)
	assert.Equal(t, EmptyRoot, root)
	_, found, err := w.Lookup(root, "acc-1")
	require.NoError(t, err)
	assert.False(t, found)

	root, err = w.Update(root, []Change{{Stream: "acc-1", Version: 1, State: []byte(`{}`)}})
	require.NoError(t, err)
	root, err = w.Update(root, []Change{{Stream: "acc-1", Delete: true}})
	require.NoError(t, err)
	assert.Equal(t, EmptyRoot, root, "deleting every stream gives the empty tree")
	n, err := w.Verify(root)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestCanonical builds the same final set of states along different
// histories and from scratch: every root must be the same.
func TestCanonical(t *testing.T) {
	for _, size := range []int{1, 31, 32, 33, 200, 3000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			final := map[string]want{}
			for i := range size {
				final[fmt.Sprintf("s-%d", i)] = want{uint64(i%7 + 1), state(i, i)}
			}
			scratch := build(t, final)
			names := slices.Sorted(maps.Keys(final))
			for seed := range uint64(4) {
				rng := rand.New(rand.NewPCG(seed, 9))
				m := newMemRepo()
				w := writer(m, NewCache(64))
				root := EmptyRoot
				// Insert in a random order, in random batches, with
				// detours: streams set to other states, extra streams
				// added and removed again.
				order := slices.Clone(names)
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for len(order) > 0 {
					k := min(len(order), 1+rng.IntN(50))
					var cs []Change
					for _, s := range order[:k] {
						cs = append(cs, Change{Stream: s, Version: 99, State: []byte(`"detour"`)})
					}
					for j := range rng.IntN(40) {
						cs = append(cs, Change{Stream: fmt.Sprintf("extra-%d-%d", len(order), j), Version: 1, State: []byte(`1`)})
					}
					var err error
					root, err = w.Update(root, cs)
					require.NoError(t, err)
					cs = cs[:0]
					for _, s := range order[:k] {
						cs = append(cs, Change{Stream: s, Version: final[s].version, State: final[s].state})
					}
					for j := range 40 {
						cs = append(cs, Change{Stream: fmt.Sprintf("extra-%d-%d", len(order), j), Delete: true})
					}
					root, err = w.Update(root, cs)
					require.NoError(t, err)
					order = order[k:]
				}
				assert.Equal(t, scratch, root, "seed %d", seed)
				assert.Equal(t, final, contents(t, w.Reader, root))
			}
		})
	}
}

// TestRandomOps runs random inserts, updates and deletes against a map
// and compares the tree with a rebuild from scratch after every batch.
func TestRandomOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMemRepo()
	w := writer(m, NewCache(256))
	model := map[string]want{}
	root := EmptyRoot
	for round := range 60 {
		// Grow for a while, then shrink below the leaf size, then grow.
		grow := round%20 < 12
		var cs []Change
		seen := map[string]bool{}
		for range 1 + rng.IntN(120) {
			s := fmt.Sprintf("acc-%d", rng.IntN(600))
			if seen[s] {
				continue
			}
			seen[s] = true
			if !grow && rng.IntN(10) < 9 {
				cs = append(cs, Change{Stream: s, Delete: true})
				delete(model, s)
				continue
			}
			v := model[s].version + 1
			st := state(rng.IntN(100), int(v))
			cs = append(cs, Change{Stream: s, Version: v, State: st})
			model[s] = want{v, st}
		}
		var err error
		root, err = w.Update(root, cs)
		require.NoError(t, err)
		require.Equal(t, build(t, model), root, "round %d (%d streams)", round, len(model))
		n, err := w.Verify(root)
		require.NoError(t, err)
		require.Equal(t, uint64(len(model)), n)
	}
	for s, wv := range model {
		e, found, err := w.Lookup(root, s)
		require.NoError(t, err)
		require.True(t, found, s)
		st, err := w.State(e)
		require.NoError(t, err)
		assert.Equal(t, wv.version, e.Version)
		assert.Equal(t, wv.state, st)
	}
	_, found, err := w.Lookup(root, "acc-none")
	require.NoError(t, err)
	assert.False(t, found)
}

func TestUpdateSharesNodes(t *testing.T) {
	m := newMemRepo()
	w := writer(m, NewCache(1024))
	var cs []Change
	for i := range 10_000 {
		cs = append(cs, Change{Stream: fmt.Sprintf("acc-%06d", i), Version: 1, State: []byte(`{"b":1}`)})
	}
	root, err := w.Build(cs)
	require.NoError(t, err)
	before := m.puts
	_, err = w.Update(root, []Change{{Stream: "acc-000007", Version: 2, State: []byte(`{"b":2}`)}})
	require.NoError(t, err)
	// 10k streams: depth 3 (16^2 * 32 = 8192 < 10k), so one change
	// rewrites at most 4 nodes.
	assert.LessOrEqual(t, m.puts-before, 4)
}

func TestDiff(t *testing.T) {
	m := newMemRepo()
	w := writer(m, nil)
	a := map[string]want{}
	for i := range 500 {
		a[fmt.Sprintf("s-%d", i)] = want{1, state(i, 1)}
	}
	b := maps.Clone(a)
	delete(b, "s-3")
	delete(b, "s-400")
	b["s-7"] = want{2, state(7, 2)}
	b["s-8"] = want{2, a["s-8"].state} // version only
	b["new-1"] = want{1, []byte(`null`)}
	tests := []struct {
		name string
		a, b map[string]want
		want []string
	}{
		{"changes", a, b, []string{"+new-1", "-s-3", "-s-400", "~s-7", "~s-8"}},
		{"reverse", b, a, []string{"+s-3", "+s-400", "-new-1", "~s-7", "~s-8"}},
		{"equal", a, a, nil},
		{"to empty", map[string]want{"x": {1, []byte(`1`)}}, map[string]want{}, []string{"-x"}},
		// A leaf on one side, an inner node on the other.
		{"leaf vs inner", map[string]want{"s-1": a["s-1"], "s-2": {5, []byte(`2`)}}, a, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs []Change
			for s, v := range tt.a {
				cs = append(cs, Change{Stream: s, Version: v.version, State: v.state})
			}
			ra, err := w.Build(cs)
			require.NoError(t, err)
			cs = cs[:0]
			for s, v := range tt.b {
				cs = append(cs, Change{Stream: s, Version: v.version, State: v.state})
			}
			rb, err := w.Build(cs)
			require.NoError(t, err)
			var got []string
			for d, err := range w.Diff(ra, rb) {
				require.NoError(t, err)
				switch {
				case d.Old == nil:
					got = append(got, "+"+d.Stream())
				case d.New == nil:
					got = append(got, "-"+d.Stream())
				default:
					got = append(got, "~"+d.Stream())
				}
			}
			slices.Sort(got)
			want := tt.want
			if tt.name == "leaf vs inner" {
				for s := range a {
					if s != "s-1" && s != "s-2" {
						want = append(want, "+"+s)
					}
				}
				want = append(want, "~s-2")
				slices.Sort(want)
			}
			assert.Equal(t, want, got)
		})
	}
}

// forge stores a node body as it is and returns its ID.
func forge(m *memRepo, t *object.Tree) object.ID {
	return m.PutObject(object.KindTree, t.Encode())
}

func TestReaderRefusesNonCanonicalTrees(t *testing.T) {
	big := []byte(`{"balance":1,"owner":"someone with a much, much longer name than that"}`)
	require.Greater(t, len(big), object.InlineStateMax)
	small := []byte(`{"b":1}`)
	entry := func(s string) object.TreeEntry {
		return object.TreeEntry{Stream: s, Version: 1, State: small, StateID: object.Hash(object.KindBlob, small)}
	}
	// Two streams whose keys differ in nibble 0.
	var s0, s1 string
	for i := 0; s0 == "" || s1 == ""; i++ {
		s := fmt.Sprintf("k-%d", i)
		k := KeyOf(s)
		switch k.nibble(0) {
		case 0:
			if s0 == "" {
				s0 = s
			}
		case 1:
			if s1 == "" {
				s1 = s
			}
		}
	}
	tests := []struct {
		name string
		make func(m *memRepo) object.ID
	}{
		{"small state in a blob", func(m *memRepo) object.ID {
			id := m.PutObject(object.KindBlob, small)
			return forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "a", Version: 1, StateID: id}}})
		}},
		{"version 0", func(m *memRepo) object.ID {
			e := entry("a")
			e.Version = 0
			return forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{e}})
		}},
		{"empty inline state", func(m *memRepo) object.ID {
			e := entry("a")
			e.State = []byte{}
			return forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{e}})
		}},
		{"inner node of few streams", func(m *memRepo) object.ID {
			leaf := forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{entry(s0)}})
			tr := &object.Tree{Count: 1}
			tr.Children[0] = leaf
			return forge(m, tr)
		}},
		{"count does not add up", func(m *memRepo) object.ID {
			leaf := forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{entry(s0)}})
			tr := &object.Tree{Count: 40}
			tr.Children[0] = leaf
			return forge(m, tr)
		}},
		{"entry under the wrong nibble", func(m *memRepo) object.ID {
			leaf := forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{entry(s1)}})
			tr := &object.Tree{Count: 33}
			tr.Children[0] = leaf
			return forge(m, tr)
		}},
		{"empty leaf below the root", func(m *memRepo) object.ID {
			leaf := forge(m, &object.Tree{Leaf: true})
			tr := &object.Tree{Count: 33}
			tr.Children[3] = leaf
			return forge(m, tr)
		}},
		{"child is a blob", func(m *memRepo) object.ID {
			tr := &object.Tree{Count: 33}
			tr.Children[3] = m.PutObject(object.KindBlob, big)
			return forge(m, tr)
		}},
		{"bad stream name", func(m *memRepo) object.ID {
			return forge(m, &object.Tree{Leaf: true, Entries: []object.TreeEntry{entry("../x")}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemRepo()
			root := tt.make(m)
			r := NewReader(m, nil)
			_, err := r.Verify(root)
			require.ErrorIs(t, err, ErrCorrupt)
			// An update through a bad node fails too, or at least never
			// yields a tree the reader accepts.
			if nr, err := NewWriter(m, m, nil).Update(root, []Change{{Stream: s0, Version: 2, State: small}}); err == nil {
				if _, err := r.Verify(nr); err == nil {
					assert.NotEqual(t, root, nr)
				}
			}
		})
	}
}

func TestKeyOfIsPinned(t *testing.T) {
	// Part of the format: BLAKE3-256 of the name's bytes, no header, and
	// nibble 0 is the high nibble of byte 0.
	k := KeyOf("acc-000000")
	assert.Equal(t, "06565613b5ba5f06e32b7ee22b495e9d2e41ca882f7bc57c86a1b2bf40bf313b", fmt.Sprintf("%x", k[:]))
	assert.Equal(t, []int{0, 6, 5, 6}, []int{k.nibble(0), k.nibble(1), k.nibble(2), k.nibble(3)})
}

func TestAppendTreeMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		tr := &object.Tree{Leaf: rng.IntN(2) == 0}
		if tr.Leaf {
			for i := range rng.IntN(33) {
				e := object.TreeEntry{Stream: fmt.Sprintf("s-%d-%d", i, rng.IntN(1e9)), Version: rng.Uint64() >> rng.IntN(64)}
				if rng.IntN(2) == 0 {
					e.State = []byte(strings.Repeat("x", rng.IntN(49)))
				} else {
					e.StateID[rng.IntN(32)] = byte(rng.IntN(256))
				}
				tr.Entries = append(tr.Entries, e)
			}
		} else {
			tr.Count = rng.Uint64() >> rng.IntN(64)
			for i := range tr.Children {
				if rng.IntN(3) == 0 {
					tr.Children[i][0] = byte(1 + rng.IntN(255))
				}
			}
		}
		body := appendTree(nil, tr)
		require.Equal(t, tr.Encode(), body)
		if tr.Leaf {
			// Pointed into the body, the entries say the same.
			was := slices.Clone(tr.Entries)
			rebind(tr, body)
			require.Equal(t, was, tr.Entries)
			require.Equal(t, body, appendTree(nil, tr))
		}
	}
}

func TestUvarintLen(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<63 - 1, 1<<64 - 1} {
		assert.Equal(t, len(binary.AppendUvarint(nil, v)), uvarintLen(v), "%d", v)
	}
}

// Changes that bring their keys build the tree that changes without keys
// build, and the keys compare as their bytes do.
func TestChangesWithKeys(t *testing.T) {
	var plain, keyed []Change
	for i := range 2_000 {
		c := Change{Stream: fmt.Sprintf("acc-%05d", i), Version: uint64(i%7 + 1), State: state(i, i%5)}
		plain = append(plain, c)
		c.Key = KeyOf(c.Stream)
		keyed = append(keyed, c)
	}
	a, err := writer(newMemRepo(), nil).Build(plain)
	require.NoError(t, err)
	b, err := writer(newMemRepo(), NewCache(64)).Build(keyed)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	for i := 1; i < len(keyed); i++ {
		x, y := keyed[i-1].Key, keyed[i].Key
		assert.Equal(t, bytes.Compare(x[:], y[:]), compareKeys(&x, &y))
	}
	same, diff := KeyOf("x"), KeyOf("x")
	diff[31] ^= 1
	assert.Equal(t, 0, compareKeys(&same, &same))
	assert.Equal(t, bytes.Compare(same[:], diff[:]), compareKeys(&same, &diff), "keys that differ past their first 8 bytes")
}
