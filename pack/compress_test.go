package pack_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// TestLargeFrameInParts: a payload large enough to be compressed in
// parts at once reads back whole, and a flipped byte in any part is
// caught.
func TestLargeFrameInParts(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
		defer runtime.GOMAXPROCS(1)
	}
	var payload []byte
	for i := 0; len(payload) < 1<<20; i++ {
		payload = fmt.Appendf(payload, `{"stream":"acc-%06d","amount":%d}`, i%977, i)
	}
	frame := pack.AppendFrame(nil, payload, false)
	if len(frame) >= len(payload)/2 {
		t.Fatalf("a %d-byte payload compressed to %d bytes", len(payload), len(frame))
	}
	if n := bytes.Count(frame, []byte{0x28, 0xb5, 0x2f, 0xfd}); n < 2 { // zstd's frame magic
		t.Fatalf("the payload went into %d zstd frame(s), want one per part", n)
	}
	seg := append(bytes.Clone(pack.SegmentMagic), frame...)
	s, err := pack.OpenSegment(memFS{&memFile{b: seg}}, "seg", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ReadFrame(int64(len(pack.SegmentMagic)))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes (%v), want the %d-byte payload", len(got), err, len(payload))
	}
	for _, at := range []int{pack.FrameHeaderSize + 10, len(frame) / 2, len(frame) - 10} {
		bad := bytes.Clone(seg)
		bad[len(pack.SegmentMagic)+at] ^= 0x40
		s, err := pack.OpenSegment(memFS{&memFile{b: bad}}, "seg", 1, false)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.ReadFrame(int64(len(pack.SegmentMagic)))
		requireCorrupt(t, err)
	}
}

// TestMergeObjects: merged sorted runs are the sorted union.
func TestMergeObjects(t *testing.T) {
	var runs [][]pack.IndexedObject
	var all []pack.IndexedObject
	for r := range 5 {
		var run []pack.IndexedObject
		for i := range 50 + r*7 {
			o := pack.IndexedObject{ID: object.Hash(object.KindBlob, fmt.Appendf(nil, "%d-%d", r, i)), Loc: pack.Location{Seg: uint32(r), Slot: uint32(i)}}
			run = append(run, o)
			all = append(all, o)
		}
		slices.SortFunc(run, func(a, b pack.IndexedObject) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		runs = append(runs, run)
	}
	slices.SortFunc(all, func(a, b pack.IndexedObject) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	if got := pack.MergeObjects(runs...); !slices.Equal(got, all) {
		t.Fatalf("merged %d objects, not the sorted %d", len(got), len(all))
	}
}
