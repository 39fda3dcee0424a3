package pack_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
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

// TestFrameCompressedAhead: a frame whose start was compressed ahead, in
// one piece or several, holds those zstd bytes first and reads back as
// the whole payload, wherever the pieces end; a payload that does not
// shrink is stored.
func TestFrameCompressedAhead(t *testing.T) {
	var payload []byte
	for i := 0; len(payload) < 300<<10; i++ {
		payload = fmt.Appendf(payload, `{"stream":"acc-%06d","amount":%d}`, i%977, i)
	}
	read := func(frame []byte) []byte {
		t.Helper()
		seg := append(bytes.Clone(pack.SegmentMagic), frame...)
		s, err := pack.OpenSegment(memFS{&memFile{b: seg}}, "seg", 1, false)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := s.ReadFrame(int64(len(pack.SegmentMagic)))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, ends := range [][]int{{1}, {1000}, {64 << 10}, {200 << 10}, {len(payload)}, {70 << 10, 150 << 10}, {1, 2, len(payload)}} {
		var ahead []pack.Compressed
		var zstd []byte
		from := 0
		for _, end := range ends {
			c := pack.Compress(payload[:end], from)
			ahead, zstd, from = append(ahead, c), append(zstd, c.Zstd...), end
		}
		frame := pack.AppendFrameAhead(nil, payload, ahead)
		if !bytes.HasPrefix(frame[pack.FrameHeaderSize:], zstd) {
			t.Fatalf("pieces ending at %v: the frame does not begin with the bytes compressed ahead", ends)
		}
		if got := read(frame); !bytes.Equal(got, payload) {
			t.Fatalf("pieces ending at %v: read %d bytes, want the %d-byte payload", ends, len(got), len(payload))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	frame := pack.AppendFrameAhead(nil, noise, []pack.Compressed{pack.Compress(noise[:100], 0)})
	if len(frame) != pack.FrameHeaderSize+len(noise) {
		t.Fatalf("random bytes went into a %d-byte frame, want them stored as they are", len(frame))
	}
	if got := read(frame); !bytes.Equal(got, noise) {
		t.Fatalf("a payload that does not shrink reads back as %d bytes", len(got))
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

// TestDamagedFirstFrameIsNeverTorn: a damaged last frame of a segment
// may be a write a crash tore, and Scan reports it as a torn tail; the
// first frame was written whole with its segment, so damage there,
// even with nothing after it, is corruption.
func TestDamagedFirstFrameIsNeverTorn(t *testing.T) {
	first := pack.AppendFrame(nil, []byte("checkpoint of the refs"), false)
	second := pack.AppendFrame(nil, []byte("a commit's objects"), false)
	scan := func(seg []byte) (int64, error) {
		s, err := pack.OpenSegment(memFS{&memFile{b: seg}}, "seg", 1, false)
		if err != nil {
			t.Fatal(err)
		}
		return s.Scan(0, true, func(int64, []byte) error { return nil })
	}
	m := len(pack.SegmentMagic)

	alone := append(bytes.Clone(pack.SegmentMagic), first...)
	alone[m+pack.FrameHeaderSize+3] ^= 0x01
	_, err := scan(alone)
	requireCorrupt(t, err)

	two := append(append(bytes.Clone(pack.SegmentMagic), first...), second...)
	two[m+len(first)+pack.FrameHeaderSize+3] ^= 0x01
	torn, err := scan(two)
	if err != nil || torn != int64(len(second)) {
		t.Fatalf("a damaged last frame after the first: torn %d, %v; want %d bytes cut", torn, err, len(second))
	}
}

// growingFile is a memFile whose first Stat reports the size it had
// before another process appended a frame: what a scan sees when the
// append lands between its Stat and its reads.
type growingFile struct {
	*memFile
	staleSize int64 // reported by the next Stat, then forgotten
}

func (g *growingFile) Stat() (fs.FileInfo, error) {
	if n := g.staleSize; n > 0 {
		g.staleSize = 0
		return memInfo(n), nil
	}
	return g.memFile.Stat()
}

// TestScanEndsAfterAFrameAppendedMeanwhile: a frame that grew the file
// after the scan's Stat is read whole, and the segment's logical end is
// after it, not at the size the Stat saw (in the middle of the frame,
// where the next scan would take the frame's bytes for damage).
func TestScanEndsAfterAFrameAppendedMeanwhile(t *testing.T) {
	first := pack.AppendFrame(nil, []byte("checkpoint of the refs"), false)
	second := pack.AppendFrame(nil, bytes.Repeat([]byte("a commit's objects "), 200), false)
	seg := append(append(bytes.Clone(pack.SegmentMagic), first...), second...)
	stale := int64(len(pack.SegmentMagic) + len(first) + 20) // inside the second frame
	f := &growingFile{memFile: &memFile{b: seg}}
	s, err := pack.OpenSegment(memFS{f}, "seg", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	f.staleSize = stale
	var frames []int64
	torn, err := s.Scan(0, false, func(off int64, _ []byte) error { frames = append(frames, off); return nil })
	if err != nil || torn != 0 {
		t.Fatalf("scan: torn %d, %v", torn, err)
	}
	if len(frames) != 2 || s.Size() != int64(len(seg)) {
		t.Fatalf("read frames at %v, logical end %d; want both frames and end %d", frames, s.Size(), len(seg))
	}
	// A scan from there finds nothing more, and nothing torn.
	torn, err = s.Scan(s.Size(), true, func(int64, []byte) error { t.Fatal("a frame past the end"); return nil })
	if err != nil || torn != 0 {
		t.Fatalf("scan again: torn %d, %v", torn, err)
	}
}

// TestScanPastGoesOnAfterDamage: ScanPast reports a damaged frame with
// where the next whole frame starts and reads on from there; a damaged
// last frame is a torn tail when the caller allows one, damage otherwise.
func TestScanPastGoesOnAfterDamage(t *testing.T) {
	frames := [][]byte{
		pack.AppendFrame(nil, []byte("checkpoint of the refs"), false),
		pack.AppendFrame(nil, []byte("a commit's objects"), false),
		pack.AppendFrame(nil, bytes.Repeat([]byte("another commit "), 100), false),
	}
	seg := bytes.Clone(pack.SegmentMagic)
	var offs []int64
	for _, f := range frames {
		offs = append(offs, int64(len(seg)))
		seg = append(seg, f...)
	}
	type damage struct{ off, next int64 }
	scan := func(b []byte, tailOK bool) (read []int64, damaged []damage, torn int64, err error) {
		s, err := pack.OpenSegment(memFS{&memFile{b: b}}, "seg", 1, false)
		if err != nil {
			t.Fatal(err)
		}
		torn, err = s.ScanPast(tailOK, func(off int64, _ []byte) error { read = append(read, off); return nil },
			func(off, next int64, err error) {
				requireCorrupt(t, err)
				damaged = append(damaged, damage{off, next})
			})
		return read, damaged, torn, err
	}

	middle := bytes.Clone(seg)
	middle[offs[1]+pack.FrameHeaderSize+2] ^= 0x01
	read, damaged, torn, err := scan(middle, true)
	if err != nil || torn != 0 || !slices.Equal(read, []int64{offs[0], offs[2]}) || !slices.Equal(damaged, []damage{{offs[1], offs[2]}}) {
		t.Fatalf("damaged middle frame: read %v, damaged %v, torn %d, %v", read, damaged, torn, err)
	}
	// A length that points nowhere: the next whole frame is still found.
	header := bytes.Clone(seg)
	header[offs[1]] ^= 0x40
	if read, damaged, _, err = scan(header, true); err != nil || !slices.Equal(read, []int64{offs[0], offs[2]}) || !slices.Equal(damaged, []damage{{offs[1], offs[2]}}) {
		t.Fatalf("damaged length: read %v, damaged %v, %v", read, damaged, err)
	}

	last := bytes.Clone(seg)
	last[offs[2]+pack.FrameHeaderSize+5] ^= 0x01
	read, damaged, torn, err = scan(last, true)
	if err != nil || torn != int64(len(frames[2])) || len(damaged) != 0 || len(read) != 2 {
		t.Fatalf("damaged last frame, tail allowed: read %v, damaged %v, torn %d, %v", read, damaged, torn, err)
	}
	read, damaged, torn, err = scan(last, false)
	if err != nil || torn != 0 || !slices.Equal(damaged, []damage{{offs[2], int64(len(seg))}}) || len(read) != 2 {
		t.Fatalf("damaged last frame, no tail: read %v, damaged %v, torn %d, %v", read, damaged, torn, err)
	}
}

// TestScanPastTrustsAWholeFramesLength: a frame whose checksum holds but
// whose content is refused (it does not decompress, or its reader refuses
// it) is skipped by its own length, never searched for a frame inside it:
// bytes an event carries may look like a frame.
func TestScanPastTrustsAWholeFramesLength(t *testing.T) {
	forged := pack.AppendFrame(nil, []byte("FORGED frame inside another"), false)
	payload := append(append([]byte("data:"), forged...), "...end"...)
	// A header that says compressed, over bytes that are not zstd.
	bad := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	bad = binary.LittleEndian.AppendUint32(bad, uint32(len(payload)+100))
	bad = binary.LittleEndian.AppendUint32(bad, crc32.Update(crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), bad[:8]), crc32.MakeTable(crc32.Castagnoli), payload))
	bad = append(bad, payload...)
	stored := pack.AppendFrame(nil, payload, false) // whole, but its reader refuses it
	last := pack.AppendFrame(nil, []byte("the next commit"), false)
	for name, middle := range map[string][]byte{"undecodable": bad, "refused": stored} {
		seg := append(append(append(bytes.Clone(pack.SegmentMagic), pack.AppendFrame(nil, []byte("checkpoint"), false)...), middle...), last...)
		s, err := pack.OpenSegment(memFS{&memFile{b: seg}}, "seg", 1, false)
		if err != nil {
			t.Fatal(err)
		}
		var read [][]byte
		var damaged [][2]int64
		_, err = s.ScanPast(true, func(off int64, p []byte) error {
			if bytes.HasPrefix(p, []byte("data:")) {
				return fmt.Errorf("%w: refused", pack.ErrCorrupt)
			}
			read = append(read, p)
			return nil
		}, func(off, next int64, err error) { damaged = append(damaged, [2]int64{off, next}) })
		if err != nil {
			t.Fatal(err)
		}
		start := int64(len(seg) - len(last) - len(middle))
		if len(read) != 2 || string(read[1]) != "the next commit" || len(damaged) != 1 || damaged[0] != [2]int64{start, start + int64(len(middle))} {
			t.Fatalf("%s: read %q, damaged %v; want the checkpoint and the next commit, and the middle frame skipped whole", name, read, damaged)
		}
	}
}
