package evgit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// A long walk is held in blocks that never grow past what they were made
// with (a grown block would copy what it holds), and spliced oldest first
// it indexes every commit and event where one slice would.
func TestWalkedLineInBlocks(t *testing.T) {
	const n = 70*walkBlock + 77 // more blocks than a shift of 16 has bits
	var walked walkedLine
	id := func(i int) object.ID { return object.ID{byte(i), byte(i >> 8), byte(i >> 16), 1} }
	for i := n - 1; i >= 0; i-- { // newest first, as a walk reads them
		w := walkedCommit{id: id(i), offset: uint64(i + 1), time: int64(i), events: []object.ID{{byte(i), 2}}, streams: []string{[]string{"a", "b", "c"}[i%3]}}
		if i > 0 {
			w.parent = id(i - 1)
		}
		var last *walkedCommit // the first commit of the newest block
		if k := len(walked.blocks); k > 0 {
			last = &walked.blocks[k-1][0]
		}
		k := len(walked.blocks)
		walked.add(w)
		if k > 0 && &walked.blocks[k-1][0] != last {
			t.Fatalf("block %d moved", k-1)
		}
	}
	require.Equal(t, n, walked.n)
	for _, b := range walked.blocks {
		require.LessOrEqual(t, cap(b), walkBlock)
	}
	li := &lineIndex{}
	require.True(t, li.splice(&walked, -1))
	require.Len(t, li.ids, n)
	for i := range n {
		require.Equal(t, id(i), li.ids[i])
		require.Equal(t, uint64(i+1), li.offsets[i])
	}
	for s, sl := range li.streams {
		k := map[string]int{"a": 0, "b": 1, "c": 2}[s]
		for j, ref := range sl.events() {
			pos := 3*j + k
			assert.Equal(t, uint32(pos), ref.pos, s)
			assert.Equal(t, object.ID{byte(pos), 2}, ref.id, s)
		}
	}
	assert.Equal(t, n, li.walked)
}
