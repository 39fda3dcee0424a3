package snapshot

import (
	"bytes"
	"testing"

	"github.com/evgit/evgit/object"
)

// FuzzReadNode feeds arbitrary bytes to the node reader at an arbitrary
// place in the trie. It must never panic, and whatever it accepts must
// be canonical: it encodes back to the same bytes.
func FuzzReadNode(f *testing.F) {
	small := []byte(`{"b":1}`)
	leaf := &object.Tree{Leaf: true, Entries: []object.TreeEntry{
		{Stream: "acc-1", Version: 3, State: small, StateID: object.Hash(object.KindBlob, small)},
		{Stream: "acc-2", Version: 1, StateID: object.Hash(object.KindBlob, []byte("x"))},
	}}
	inner := &object.Tree{Count: 40}
	inner.Children[0] = object.Hash(object.KindTree, nil)
	inner.Children[15] = object.Hash(object.KindTree, []byte{1})
	for _, body := range [][]byte{leaf.Encode(), inner.Encode(), emptyLeafBody} {
		f.Add(body, uint8(0), []byte{})
		f.Add(body, uint8(1), []byte{0x00})
		for i := range body {
			f.Add(body[:i], uint8(0), []byte{})
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, depth uint8, path []byte) {
		n, err := decodeNode(body)
		if err != nil {
			return
		}
		var prefix Key
		copy(prefix[:], path)
		if err := checkPlace(n, int(depth)%(MaxDepth+1), &prefix); err != nil {
			return
		}
		if !bytes.Equal(n.t.Encode(), body) {
			t.Fatalf("accepted a non-canonical encoding %x", body)
		}
	})
}
