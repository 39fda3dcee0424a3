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
