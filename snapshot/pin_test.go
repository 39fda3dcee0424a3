package snapshot

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPinServesTheUpdate: an update over a pinned cache and a source
// that holds nothing gives the tree an update over the real source
// gives, for few and many changed streams.
func TestPinServesTheUpdate(t *testing.T) {
	m := newMemRepo()
	var base []Change
	for i := range 3000 {
		base = append(base, Change{Stream: fmt.Sprintf("s-%04d", i), Version: 1, State: state(i, 1)})
	}
	root, err := writer(m, nil).Build(base)
	require.NoError(t, err)
	for _, n := range []int{1, 40, 900} {
		var changes []Change
		for i := range n {
			s := (i * 7919) % 3200 // some streams new
			changes = append(changes, Change{Stream: fmt.Sprintf("s-%04d", s), Version: 2, State: state(s, 2)})
		}
		want, err := writer(m, nil).Update(root, changes)
		require.NoError(t, err)
		keys := make([]Key, len(changes))
		for i, c := range changes {
			keys[i] = KeyOf(c.Stream)
		}
		pinned, err := NewReader(m, nil).Pin(root, keys)
		require.NoError(t, err)
		alone := &memRepo{Overlay: NewOverlay(nothing{})}
		got, err := NewWriter(alone, alone, pinned).Update(root, changes)
		require.NoError(t, err, "%d changes", n)
		assert.Equal(t, want, got, "%d changes", n)
	}
}

// AddTree keeps a tree that is updated again and again cached whole,
// the nodes no update rewrote included, while other nodes pass through
// the cache: each update, pinned from the cache alone, then reads
// nothing from the store.
func TestAddTreeKeepsTheLiveTreeWhole(t *testing.T) {
	m := newMemRepo()
	shared := NewCache(600)
	var base []Change
	for i := range 3000 {
		base = append(base, Change{Stream: fmt.Sprintf("s-%04d", i), Version: 1, State: state(i, 1)})
	}
	root, err := writer(m, shared).Build(base)
	require.NoError(t, err)
	other := newMemRepo()
	for round := range 30 {
		// Other trees pass through the cache meanwhile.
		var churn []Change
		for i := range 1000 {
			churn = append(churn, Change{Stream: fmt.Sprintf("c-%d-%04d", round, i), Version: 1, State: state(i, 1)})
		}
		_, err := writer(other, shared).Build(churn)
		require.NoError(t, err)
		// A few streams change, in a different part of the tree each round.
		var changes []Change
		keys := []Key{}
		for i := range 20 {
			s := fmt.Sprintf("s-%04d", (round*97+i*131)%3000)
			changes = append(changes, Change{Stream: s, Version: uint64(2 + round), State: state(i, 2+round)})
			keys = append(keys, KeyOf(s))
		}
		pinned, err := NewReader(nothing{}, shared).Pin(root, keys)
		require.NoError(t, err, "round %d: the update's nodes are cached", round)
		alone := &memRepo{Overlay: NewOverlay(nothing{})}
		root, err = NewWriter(alone, alone, pinned).Update(root, changes)
		require.NoError(t, err)
		shared.AddTree(pinned, root)
	}
	n, err := NewReader(nothing{}, shared).Verify(root)
	require.NoError(t, err, "the whole tree is cached")
	require.Equal(t, uint64(3000), n)
}
