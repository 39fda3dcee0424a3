package pack

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// checkPack runs an IndexCheck over a pack written whole in memory.
func checkPack(t *testing.T, data, index []byte) error {
	t.Helper()
	px, err := ParsePackIndex(index)
	require.NoError(t, err)
	c, err := NewIndexCheck(px)
	if err != nil {
		return err
	}
	for _, off := range px.FrameOffsets() {
		h, err := parseFrameHeader(data[off:])
		require.NoError(t, err)
		start := int(off) + FrameHeaderSize
		payload, err := h.decodePayload(data[start : start+int(h.size)])
		require.NoError(t, err)
		entries, err := ParseEntries(payload)
		require.NoError(t, err)
		entries, ids, err := ResolveAll(entries)
		require.NoError(t, err)
		if err := c.Frame(int64(off), entries, ids); err != nil {
			return err
		}
	}
	return c.Done()
}

// TestIndexCheckTakesObjectsStoredTwice: a pack may hold an object twice
// (the index lists it once, at either place), and an empty pack is
// right too; an object the index lacks is not.
func TestIndexCheckTakesObjectsStoredTwice(t *testing.T) {
	w := NewPackWriter()
	for i := range 3000 {
		body := fmt.Appendf(nil, "blob %d", i%1000) // each stored three times, frames apart
		w.AddObject(object.Hash(object.KindBlob, body), object.KindBlob, body)
	}
	data, index := w.Finish()
	require.NoError(t, checkPack(t, data, index))

	data, index = NewPackWriter().Finish()
	require.NoError(t, checkPack(t, data, index))

	w = NewPackWriter()
	for i := range 500 {
		body := fmt.Appendf(nil, "blob %d", i)
		w.AddObject(object.Hash(object.KindBlob, body), object.KindBlob, body)
	}
	data, _ = w.Finish()
	w = NewPackWriter()
	for i := range 499 { // an index of one object fewer
		body := fmt.Appendf(nil, "blob %d", i)
		w.AddObject(object.Hash(object.KindBlob, body), object.KindBlob, body)
	}
	_, short := w.Finish()
	require.ErrorIs(t, checkPack(t, data, short), ErrCorrupt)
}
