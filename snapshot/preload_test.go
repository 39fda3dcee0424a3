package snapshot

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// framedRepo is a store in miniature: each object lies in the frame of
// the update that wrote it, and reading decodes the frame, with room to
// keep one decoded frame, as a store whose frame cache the tree's frames
// outgrew.
type framedRepo struct {
	objs    map[object.ID]framedObject
	frame   int // the frame written to now
	cached  int // the frame decoded last, -1 for none
	decodes int
	ordered int // ReadOrder calls
}

type framedObject struct {
	kind  object.Kind
	body  []byte
	frame int
}

func newFramedRepo() *framedRepo {
	return &framedRepo{objs: map[object.ID]framedObject{}, cached: -1}
}

func (f *framedRepo) PutObject(kind object.Kind, body []byte) object.ID {
	id := object.Hash(kind, body)
	if _, ok := f.objs[id]; !ok {
		f.objs[id] = framedObject{kind: kind, body: body, frame: f.frame}
	}
	return id
}

func (f *framedRepo) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	o, ok := f.objs[id]
	if !ok {
		return 0, nil, nil, fmt.Errorf("object %s: %w", id.Short(), object.ErrNotFound)
	}
	if o.frame != f.cached {
		f.cached = o.frame
		f.decodes++
	}
	return o.kind, o.body, nil, nil
}

func (f *framedRepo) ReadOrder(ids []object.ID) {
	f.ordered++
	slices.SortStableFunc(ids, func(a, b object.ID) int { return f.objs[a].frame - f.objs[b].frame })
}

// unordered reads the same objects without ReadOrder, as a source
// that cannot order its reads.
type unordered struct{ f *framedRepo }

func (u unordered) Get(id object.ID) (object.Kind, []byte, []byte, error) { return u.f.Get(id) }

// TestWalksReadLevelByLevelInStoredOrder: a tree built over 40 updates
// lies in 40 frames. Listing it, verifying it and diffing it against an
// early version decode each frame about once a level; in trie order,
// with room for one decoded frame, they decoded a frame for nearly every
// node (the walks were minutes long on 200,000 streams).
func TestWalksReadLevelByLevelInStoredOrder(t *testing.T) {
	repo := newFramedRepo()
	w := NewWriter(repo, repo, nil)
	var roots []object.ID
	root := EmptyRoot
	const updates, per = 40, 250
	for u := range updates {
		repo.frame = u
		changes := make([]Change, per)
		for j := range changes {
			i := (u*per + j*7919) % 5000
			changes[j] = Change{Stream: fmt.Sprintf("acc-%05d", i), Version: uint64(u + 1), State: fmt.Appendf(nil, `{"b":%d}`, u)}
		}
		var err error
		root, err = w.Update(root, changes)
		require.NoError(t, err)
		roots = append(roots, root)
	}
	// 5000 streams: leaves at depth 2 or 3, so four levels; the frames
	// that still hold nodes of the last tree are a few of the 40.
	const bound = 4 * 8

	count := func(src Source, fn func(r *Reader) error) int {
		repo.cached, repo.decodes = -1, 0
		require.NoError(t, fn(NewReader(src, nil)))
		return repo.decodes
	}
	list := func(r *Reader) error {
		n := 0
		for _, err := range r.All(root) {
			if err != nil {
				return err
			}
			n++
		}
		assert.Equal(t, 5000, n)
		return nil
	}
	verify := func(r *Reader) error {
		n, err := r.Verify(root)
		assert.Equal(t, uint64(5000), n)
		return err
	}
	diff := func(r *Reader) error {
		n := 0
		for _, err := range r.Diff(roots[5], root) {
			if err != nil {
				return err
			}
			n++
		}
		assert.Positive(t, n)
		return nil
	}
	for name, fn := range map[string]func(*Reader) error{"All": list, "Verify": verify, "Diff": diff} {
		ordered := count(repo, fn)
		assert.LessOrEqual(t, ordered, bound, "%s: frames decoded in stored order", name)
		trie := count(unordered{repo}, fn)
		t.Logf("%s: %d frames decoded in stored order, %d in trie order", name, ordered, trie)
		assert.Greater(t, trie, 4*ordered, "%s: in trie order (the case this guards against)", name)
	}
	assert.Positive(t, repo.ordered)
}

// TestDecodedLeafOwnsItsStates: a leaf decoded from a body that is part
// of a larger buffer (a decoded frame) keeps none of it: its inline
// states live in the node's own copy, so a cached node does not hold its
// frame.
func TestDecodedLeafOwnsItsStates(t *testing.T) {
	leaf := &object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "acc-1", Version: 3, State: []byte(`{"b":1}`)}}}
	leaf.Entries[0].StateID = object.Hash(object.KindBlob, leaf.Entries[0].State)
	body := leaf.Encode()
	frame := append(append([]byte("other objects of the frame"), body...), "and more"...)
	n, err := decodeNode(frame[26 : 26+len(body)])
	require.NoError(t, err)
	clear(frame)
	assert.Equal(t, `{"b":1}`, string(n.t.Entries[0].State))
	assert.Equal(t, "acc-1", n.t.Entries[0].Stream)
}

// TestPreloadOfATreeNamingOneNodeEverywhere: a damaged tree whose inner
// nodes name one child at all sixteen places is read once a node, not
// sixteenfold a level, before the walk refuses it as it did without
// reading ahead (a helper's review).
func TestPreloadOfATreeNamingOneNodeEverywhere(t *testing.T) {
	repo := newFramedRepo()
	leaf := &object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "acc-1", Version: 1, State: []byte(`{}`)}}}
	leaf.Entries[0].StateID = object.Hash(object.KindBlob, leaf.Entries[0].State)
	id := repo.PutObject(object.KindTree, leaf.Encode())
	for range 4 {
		in := &object.Tree{Count: 100}
		for i := range in.Children {
			in.Children[i] = id
		}
		id = repo.PutObject(object.KindTree, in.Encode())
	}
	largest := 0
	ro := &sizeOrderer{framedRepo: repo, largest: &largest}
	var got, want error
	for _, err := range NewReader(ro, nil).All(id) {
		got = err
	}
	for _, err := range NewReader(unordered{repo}, nil).All(id) {
		want = err
	}
	require.ErrorIs(t, got, ErrCorrupt)
	assert.Equal(t, want.Error(), got.Error())
	assert.LessOrEqual(t, largest, 1)
	for _, err := range NewReader(ro, nil).Diff(EmptyRoot, id) {
		got = err
	}
	require.ErrorIs(t, got, ErrCorrupt)
	assert.LessOrEqual(t, largest, 2)
}

// sizeOrderer records the most IDs one ReadOrder call was given.
type sizeOrderer struct {
	*framedRepo
	largest *int
}

func (s *sizeOrderer) ReadOrder(ids []object.ID) {
	*s.largest = max(*s.largest, len(ids))
	s.framedRepo.ReadOrder(ids)
}
