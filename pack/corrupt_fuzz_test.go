package pack_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// Fuzz tests of everything that reads bytes from disk: a damaged file must
// give an error matching ErrCorrupt, never a panic or a wrong answer.

func requireCorrupt(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, pack.ErrCorrupt) {
		t.Fatalf("error %v does not match ErrCorrupt", err)
	}
}

// samplePayload is a frame payload of every entry kind.
func samplePayload(events int) []byte {
	var p pack.Payload
	var ids []object.ID
	for i := range events {
		ev := object.NewEvent("acc-1", "Deposited", 1, map[string]string{"n": string(rune('a' + i%26))}, []byte(`{"amount":120,"note":"some text that compresses well when repeated"}`))
		p.AddEvent(ev.Encode(), ev.Data)
		ids = append(ids, ev.ID())
	}
	c := object.Commit{Events: ids, Time: time.Unix(1, 0), Offset: uint64(len(ids)), Actor: "ann"}
	p.AddObject(object.KindCommit, c.Encode())
	p.AddObject(object.KindBlob, []byte("types: {}\n"))
	p.AddObject(object.KindTree, (&object.Tree{Leaf: true}).Encode())
	p.AddRecord(pack.RecordBase, []byte("refs/heads/main"), make([]byte, 65))
	p.AddRecord(pack.RecordBase+2, []byte("HEAD"), []byte("\x02refs/heads/main"))
	return bytes.Clone(p.Bytes())
}

func sampleIndex() []byte {
	var objs []pack.IndexedObject
	for i := range 40 {
		objs = append(objs, pack.IndexedObject{ID: object.Hash(object.KindBlob, []byte{byte(i)}), Loc: pack.Location{Seg: 1, Off: uint32(8 + i), Slot: uint32(i % 3)}})
	}
	recs := []pack.Record{
		{Kind: pack.RecordBase, Key: []byte("refs/heads/main"), Value: []byte("v1")},
		{Kind: pack.RecordBase, Key: []byte("refs/heads/main"), Value: []byte("v2")},
		{Kind: pack.RecordBase + 3, Key: []byte("refs/heads/main\x00k"), Value: make([]byte, 64)},
	}
	return pack.EncodeIndex([]uint32{1, 2}, objs, recs)
}

func addPrefixes(f *testing.F, b []byte) {
	for n := 0; n <= len(b); n += 1 + n/16 {
		f.Add(b[:n])
	}
	f.Add(b)
}

// FuzzParseEntries: a payload splits into entries or fails with
// ErrCorrupt; the entries re-encode to a payload that splits the same; no
// accessor of an entry panics.
func FuzzParseEntries(f *testing.F) {
	addPrefixes(f, samplePayload(3))
	w := pack.NewPackWriter()
	ev := object.NewEvent("s", "T", 1, nil, []byte(`{}`))
	w.AddEvent(ev.ID(), ev.Encode(), ev.Data)
	c := object.Commit{Events: []object.ID{ev.ID()}, Offset: 1}
	w.AddCommit(c.ID(), &c)
	data, _ := w.Finish()
	addPrefixes(f, data[len(pack.PackMagic)+pack.FrameHeaderSize:]) // a packed payload
	addPrefixes(f, segmentPayload())                                // a format 2 segment's: two transactions, packed
	f.Fuzz(func(t *testing.T, payload []byte) {
		entries, err := pack.ParseEntries(payload)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		var p pack.Payload
		for _, e := range entries {
			p.AddObject(object.Kind(e.Kind), e.Body) // kind, length, body: any entry
		}
		again, err := pack.ParseEntries(p.Bytes())
		if err != nil || !slices.EqualFunc(entries, again, func(a, b pack.Entry) bool { return a.Kind == b.Kind && bytes.Equal(a.Body, b.Body) }) {
			t.Fatalf("entries do not round-trip (%v)", err)
		}
		frame := pack.NewFrame(entries, len(payload))
		for slot, e := range entries {
			if e.IsObject() {
				if r, err := frame.Entry(slot); err == nil {
					_, _, _, _ = r.Object()
					_, _ = r.ObjectID()
				}
				if o, err := frame.Object(slot); err == nil && o.ID != object.Hash(o.Kind, o.Body) {
					t.Fatalf("slot %d: ID %s is not the hash of its body", slot, o.ID)
				} else if err != nil {
					requireCorrupt(t, err)
				}
				_, _, _, _ = e.Object()
				continue
			}
			if _, _, err := e.Record(); err != nil {
				requireCorrupt(t, err)
			}
		}
		resolved, err := pack.ResolvePacked(entries)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		// ObjectIDs gives the IDs of what ResolvePacked rebuilds.
		if ids, err := pack.ObjectIDs(entries); err == nil {
			for slot, e := range resolved {
				if want, err := e.ObjectID(); e.IsObject() && err == nil && ids[slot] != want {
					t.Fatalf("slot %d: ObjectIDs gives %s, ResolvePacked %s", slot, ids[slot].Short(), want.Short())
				}
			}
		}
		// Where the whole frame resolves, a frame read newest first
		// agrees with it.
		backwards := pack.NewFrame(entries, len(payload))
		for slot := len(entries) - 1; slot >= 0; slot-- {
			if !entries[slot].IsObject() {
				continue
			}
			want, err := resolved[slot].ObjectID()
			if err != nil {
				continue
			}
			if o, err := backwards.Object(slot); err == nil && o.ID != want {
				t.Fatalf("slot %d: frame reads %s, ResolvePacked %s", slot, o.ID.Short(), want.Short())
			}
		}
	})
}

// segmentPayload is what a format 2 segment's frame holds for two
// transactions of a group: a tree, then packed events and commits, a
// record between them.
func segmentPayload() []byte {
	var out []byte
	var parent object.ID
	for tx := range 2 {
		var p pack.Payload
		p.AddObject(object.KindTree, (&object.Tree{Leaf: true}).Encode())
		for i := range 2 {
			ev := object.NewEvent("s", "T", 1, nil, []byte(fmt.Sprintf(`{"n":%d}`, 2*tx+i)))
			body := ev.Encode()
			id := object.Hash(object.KindEvent, body)
			p.AddPackedEvent(id, body, ev.Data)
			c := &object.Commit{Events: []object.ID{id}, Offset: uint64(2*tx + i + 1)}
			if !parent.IsZero() {
				c.Parents = []object.ID{parent}
			}
			cb := c.Encode()
			parent = object.Hash(object.KindCommit, cb)
			p.AddCommit(parent, c, cb)
		}
		p.AddRecord(pack.RecordBase, []byte("refs/heads/main"), parent[:])
		out = append(out, p.Bytes()...)
	}
	return out
}

// FuzzParseIndex: an index parses or fails with ErrCorrupt; every lookup
// of one that parses stays inside it.
func FuzzParseIndex(f *testing.F) {
	addPrefixes(f, sampleIndex())
	addPrefixes(f, pack.EncodeIndex([]uint32{7}, nil, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := pack.ParseIndex(data)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		// An index whose checksum holds is one EncodeIndex wrote: its
		// lookups find every object it lists. A damaged one may miss.
		intact := ix.Verify() == nil
		_ = ix.Segments()
		n := 0
		for o := range ix.Objects() {
			if loc, ok := ix.Lookup(o.ID); intact && (!ok || loc != o.Loc) {
				t.Fatalf("intact index: %s not found where listed", o.ID)
			}
			ix.Prefix(o.ID[:2], true, 4)
			n++
		}
		if n != ix.Len() {
			t.Fatalf("Objects listed %d of %d", n, ix.Len())
		}
		var probe object.ID
		copy(probe[:], data)
		ix.Lookup(probe)
		ix.Prefix(probe[:1], false, 8)
		for r, err := range ix.AllRecords() {
			if err != nil {
				requireCorrupt(t, err)
				break
			}
			for _, exact := range []bool{false, true} {
				for _, err := range ix.Records(r.Kind, r.Key, exact) {
					if err != nil {
						requireCorrupt(t, err)
						break
					}
				}
			}
		}
	})
}

// FuzzParsePackIndex: a pack index parses or fails with ErrCorrupt; its
// lookups stay inside it.
func FuzzParsePackIndex(f *testing.F) {
	w := pack.NewPackWriter()
	for i := range 30 {
		w.AddObject(object.Hash(object.KindBlob, []byte{byte(i)}), object.KindBlob, []byte{byte(i)})
	}
	_, index := w.Finish()
	addPrefixes(f, index)
	f.Fuzz(func(t *testing.T, data []byte) {
		px, err := pack.ParsePackIndex(data)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		_ = px.Verify()
		var probe object.ID
		copy(probe[:], data[len(data)/2:])
		px.Candidates(probe)
		px.PrefixLocations(probe[:3], true, 8)
		px.Prefixes(func(prefix []byte, loc pack.Location) bool {
			var id object.ID
			copy(id[:], prefix)
			px.Candidates(id)
			return true
		})
	})
}

// memFile is a pack.File held in memory, with os.File's ReadAt and
// WriteAt semantics.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(m.b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Close() error { return nil }
func (m *memFile) Sync() error  { return nil }
func (m *memFile) Truncate(size int64) error {
	if size < int64(len(m.b)) {
		m.b = m.b[:size]
	}
	return nil
}
func (m *memFile) Stat() (fs.FileInfo, error) { return memInfo(len(m.b)), nil }

type memInfo int64

func (i memInfo) Name() string       { return "seg" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// memFS serves one file.
type memFS struct{ f pack.File }

func (m memFS) OpenFile(string, int, fs.FileMode) (pack.File, error) { return m.f, nil }
func (memFS) Rename(string, string) error                            { return nil }
func (memFS) Remove(string) error                                    { return nil }
func (memFS) ReadDir(string) ([]fs.DirEntry, error)                  { return nil, os.ErrNotExist }
func (memFS) MkdirAll(string, fs.FileMode) error                     { return nil }
func (memFS) SyncDir(string) error                                   { return nil }

// FuzzFrame: a segment of arbitrary bytes scans to whole, checked frames,
// a torn tail, or ErrCorrupt; reading a frame at any offset checks it.
func FuzzFrame(f *testing.F) {
	seg := append([]byte{}, pack.SegmentMagic...)
	seg = pack.AppendFrame(seg, samplePayload(1), false)
	seg = pack.AppendFrame(seg, samplePayload(20), false) // compressed
	seg = pack.AppendFrame(seg, samplePayload(40), true)
	addPrefixes(f, seg[len(pack.SegmentMagic):])
	f.Add(append(bytes.Clone(seg[len(pack.SegmentMagic):]), make([]byte, 100)...)) // preallocated zeros
	f.Fuzz(func(t *testing.T, body []byte) {
		file := &memFile{b: append(bytes.Clone(pack.SegmentMagic), body...)}
		s, err := pack.OpenSegment(memFS{file}, "seg", 1, false)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		var offs []int64
		var payloads [][]byte
		torn, err := s.Scan(0, true, func(off int64, payload []byte) error {
			offs = append(offs, off)
			payloads = append(payloads, payload)
			return nil
		})
		if err != nil {
			requireCorrupt(t, err)
		}
		if s.Size() < int64(len(pack.SegmentMagic)) || s.Size() > int64(len(file.b)) || torn < 0 || torn > int64(len(file.b)) {
			t.Fatalf("size %d, torn %d of a %d-byte file", s.Size(), torn, len(file.b))
		}
		for i, off := range offs {
			if i > 0 && off <= offs[i-1] {
				t.Fatalf("frames out of order: %v", offs)
			}
			payload, next, err := s.ReadFrame(off)
			if err != nil || !bytes.Equal(payload, payloads[i]) || next <= off {
				t.Fatalf("frame at %d reads differently the second time (%v)", off, err)
			}
		}
		for off := int64(len(pack.SegmentMagic)); off < int64(len(file.b)) && off < 64; off++ {
			if _, _, err := s.ReadFrame(off); err != nil {
				requireCorrupt(t, err)
			}
		}
	})
}
