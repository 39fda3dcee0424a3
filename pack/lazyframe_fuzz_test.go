package pack

import (
	"bytes"
	"testing"
)

// A frame read lazily gives what a frame decoded whole gives, or fails
// where that one fails, for any bytes, and never panics: the zstd layout
// read from headers, parts that straddle entries, lengths that lie.
func FuzzLazyFrame(f *testing.F) {
	var p Payload
	for i := range 60 {
		p.AddRecord(RecordBase, []byte("refs/heads/main"), bytes.Repeat([]byte{byte(i)}, 40))
	}
	for i := range 300 {
		p.AddObject(4, bytes.Repeat([]byte{byte(i), byte(i >> 3), 7}, 30)) // a tree's kind: the split goes here
	}
	split := AppendFrameSplit(nil, p.Bytes(), p.TreesAt())
	f.Add(split[FrameHeaderSize:], uint32(len(p.Bytes())))
	whole := AppendFrame(nil, p.Bytes(), false)
	f.Add(whole[FrameHeaderSize:], uint32(len(p.Bytes())))
	f.Add([]byte{}, uint32(10))
	f.Fuzz(func(t *testing.T, data []byte, rawLen uint32) {
		if rawLen == 0 || rawLen > 1<<20 {
			return
		}
		parts, err := zstdParts(data)
		if err != nil {
			return // read whole instead, as ReadLazyFrame does
		}
		lazy := NewLazyFrame(parts, int(rawLen), "fuzz")
		n, lerr := lazy.Len()

		var eager []Entry
		out, eerr := zstdDecoder().DecodeAll(data, nil)
		if eerr == nil && len(out) != int(rawLen) {
			eerr = ErrCorrupt
		}
		if eerr == nil {
			eager, eerr = ParseEntries(out)
		}
		if (lerr == nil) != (eerr == nil) {
			t.Fatalf("lazy error %v, whole error %v", lerr, eerr)
		}
		if lerr != nil {
			return
		}
		if n != len(eager) {
			t.Fatalf("lazy %d entries, whole %d", n, len(eager))
		}
		for i, e := range eager {
			if lazy.entries[i].Kind != e.Kind || !bytes.Equal(lazy.entries[i].Body, e.Body) {
				t.Fatalf("entry %d differs", i)
			}
			_, _ = lazy.Object(i) // damage is an error, never a panic
		}
	})
}
