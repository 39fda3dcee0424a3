package evgit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// The line index (lineindex.go) is saved between processes in one file,
// cache/line in the repository folder, so that a new process reads a
// stream's events on a long line without walking it (docs/format.md §9).
// It is derived data: deleting it only costs a walk, and a file that does
// not decode whole, or whose checksum does not hold, is ignored.

// lineCacheName is the file's path inside the repository folder.
var lineCacheName = filepath.Join("cache", "line")

// lineCacheMagic opens the file; a different first line is another format.
const lineCacheMagic = "evgit line 1\n"

// lineCacheMin is how many commits a process adds to the line index by
// walking before Close saves it: a line that short costs under 10 ms to
// walk again, and each save writes the whole file.
const lineCacheMin = 1024

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// load reads the saved index once, if the in-memory one is still empty.
// The commit it ends at must be in the store with the offset the file
// gives it; otherwise (a gc removed it, or the file belongs elsewhere) the
// file is not used. Like the rest of the index, it never holds the lock
// while reading objects: a writer inside a store transaction may be
// waiting for it.
func (li *lineIndex) load(rd reader) {
	li.mu.Lock()
	try := !li.loaded && li.cache != "" && len(li.ids) == 0
	li.loaded = true
	li.mu.Unlock()
	if !try {
		return
	}
	b, err := pack.ReadRegular(li.cache)
	if err != nil {
		return
	}
	saved, err := decodeLineCache(b)
	if err != nil {
		return
	}
	n := len(saved.ids)
	if c, err := readCommit(rd, saved.ids[n-1]); err != nil || c.Offset != saved.offsets[n-1] {
		return
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	if len(li.ids) == 0 { // a walk may have filled it meanwhile
		li.ids, li.offsets, li.times, li.merges, li.streams = saved.ids, saved.offsets, saved.times, saved.merges, saved.streams
		li.gen++
	}
}

// damaged drops an index read from the line cache that named an event
// its commit does not hold as it said (what names it, why), and removes
// the file; the error says so. The next read walks the line.
func (li *lineIndex) damaged(what string) error {
	li.mu.Lock()
	li.cut(0)
	li.walked = 0
	li.mu.Unlock()
	if li.cache != "" {
		os.Remove(li.cache)
	}
	return fmt.Errorf("%w: the line cache %s named %s; it is removed, and the next command walks the line", ErrCorrupt, lineCacheName, what)
}

// save writes the index when this process walked enough of it since it
// was loaded or last saved, to a temporary file renamed over the old one,
// if its last commit is in the store (not one of a transaction that did
// not commit) and the line holds head (HEAD's commit) or no file exists:
// a log of another branch does not replace the line most commands read.
// Failing to save (a repository the user may only read) is not an error;
// the next process walks again. No sync: a file torn by a crash fails its
// checksum and is ignored.
func (li *lineIndex) save(rd reader, head object.ID) {
	li.mu.Lock()
	n := len(li.ids)
	if li.cache == "" || li.walked < lineCacheMin || n == 0 {
		li.mu.Unlock()
		return
	}
	tip, off := li.ids[n-1], li.offsets[n-1]
	li.mu.Unlock()
	if c, err := readCommit(rd, tip); err != nil || c.Offset != off {
		return
	}
	if _, err := os.Stat(li.cache); err == nil {
		c, err := readCommit(rd, head)
		if err != nil {
			return
		}
		if _, ok := li.covers(head, c.Offset); !ok {
			return
		}
	}
	li.mu.Lock()
	if len(li.ids) == 0 || li.ids[len(li.ids)-1] != tip {
		li.mu.Unlock()
		return // moved meanwhile
	}
	li.walked = 0
	b := li.encodeLocked()
	li.mu.Unlock()
	dir := filepath.Dir(li.cache)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	removeStaleTemps(dir)
	f, err := os.CreateTemp(dir, filepath.Base(li.cache)+".*.tmp")
	if err != nil {
		return
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), li.cache)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// removeStaleTemps removes the temporary files of saves that died more
// than an hour ago; a save in progress elsewhere is younger.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// savedLine is a decoded line cache file.
type savedLine struct {
	ids     []object.ID
	offsets []uint64
	times   []int64
	merges  []uint32
	streams map[string]*streamLine
}

// encodeLocked encodes the index as docs/format.md §9 draws it. The
// caller holds the lock.
func (li *lineIndex) encodeLocked() []byte {
	n := len(li.ids)
	b := make([]byte, 0, len(lineCacheMagic)+n*(object.IDSize+8)+len(li.streams)*16)
	b = append(b, lineCacheMagic...)
	b = binary.AppendUvarint(b, uint64(n))
	for _, id := range li.ids {
		b = append(b, id[:]...)
	}
	var prevOff uint64
	var prevTime int64
	for i := range n {
		b = binary.AppendUvarint(b, li.offsets[i]-prevOff)
		b = binary.AppendVarint(b, li.times[i]-prevTime)
		prevOff, prevTime = li.offsets[i], li.times[i]
	}
	b = appendPositions(b, li.merges)
	names := make([]string, 0, len(li.streams))
	for s, sl := range li.streams {
		if len(sl.events()) > 0 {
			names = append(names, s)
		}
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, s := range names {
		refs := li.streams[s].events()
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
		b = binary.AppendUvarint(b, uint64(len(refs)))
		var prev uint32
		for _, r := range refs {
			b = binary.AppendUvarint(b, uint64(r.pos-prev))
			b = binary.AppendUvarint(b, uint64(r.idx))
			prev = r.pos
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// appendPositions appends a count and increasing positions as deltas.
func appendPositions(b []byte, ps []uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	var prev uint32
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(p-prev))
		prev = p
	}
	return b
}

var errLineCache = errors.New("line cache file is damaged")

// lineDecoder reads a line cache file, remembering the first failure.
type lineDecoder struct {
	b   []byte
	err error
}

func (d *lineDecoder) uvarint() uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *lineDecoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads a count of items of at least size bytes each.
func (d *lineDecoder) count(size int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/size) {
		d.fail("count past the end")
		return 0
	}
	return int(n)
}

func (d *lineDecoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errLineCache, why)
	}
	d.b = nil
}

// decodeLineCache decodes a whole file, which the result keeps pointing
// into, and checks what the index relies on: offsets that grow, positions within the line and in order, stream
// names valid and sorted.
func decodeLineCache(b []byte) (*savedLine, error) {
	if len(b) < len(lineCacheMagic)+4 || !bytes.HasPrefix(b, []byte(lineCacheMagic)) {
		return nil, fmt.Errorf("%w: not a line cache", errLineCache)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum", errLineCache)
	}
	d := &lineDecoder{b: body[len(lineCacheMagic):]}
	n := d.count(object.IDSize)
	if n == 0 {
		d.fail("no commits")
	}
	s := &savedLine{offsets: make([]uint64, n), times: make([]int64, n), streams: map[string]*streamLine{}}
	if d.err == nil {
		// The IDs are read where they lie in b, a buffer of the
		// caller's that nothing writes to after (the index appends to
		// them, which copies them first: their capacity is n).
		s.ids = unsafe.Slice((*object.ID)(unsafe.Pointer(unsafe.SliceData(d.b))), n)
		d.b = d.b[n*object.IDSize:]
	}
	var off uint64
	var t int64
	for i := 0; i < n && d.err == nil; i++ {
		delta := d.uvarint()
		if delta == 0 || off+delta < off {
			d.fail("offsets do not grow")
		}
		off += delta
		t += d.varint()
		s.offsets[i], s.times[i] = off, t
	}
	s.merges = d.positions(n)
	var prevName string
	for k := d.count(2); k > 0 && d.err == nil; k-- {
		l := d.count(1)
		if l > len(d.b) {
			d.fail("name past the end")
			break
		}
		name := string(d.b[:l])
		d.b = d.b[l:]
		if name <= prevName || object.ValidateStream(name) != nil {
			d.fail("stream names out of order or invalid")
			break
		}
		prevName = name
		// Checked now, decoded when the stream is read (streamLine.events):
		// a process reads a stream or two of a line that may hold a
		// hundred thousand.
		m := d.count(2)
		coded := d.b
		var pos uint64
		var prevIdx uint64
		for j := 0; j < m && d.err == nil; j++ {
			delta, idx := d.uvarint(), d.uvarint()
			if delta >= uint64(n)-pos || idx > 1<<31 || (j > 0 && delta == 0 && idx <= prevIdx) {
				d.fail("event positions out of order")
				break
			}
			pos += delta
			prevIdx = idx
		}
		if m == 0 {
			d.fail("a stream with no events")
		}
		coded = coded[: len(coded)-len(d.b) : len(coded)-len(d.b)]
		s.streams[name] = &streamLine{coded: coded, codedN: m}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// decodeRefs decodes a stream's events as decodeLineCache checked them,
// appending to refs.
func decodeRefs(b []byte, refs []eventRef) []eventRef {
	var pos uint64
	for len(b) > 0 {
		delta, k := binary.Uvarint(b)
		idx, k2 := binary.Uvarint(b[k:])
		b = b[k+k2:]
		pos += delta
		refs = append(refs, eventRef{pos: uint32(pos), idx: uint32(idx)})
	}
	return refs
}

// positions reads increasing positions below n.
func (d *lineDecoder) positions(n int) []uint32 {
	k := d.count(1)
	ps := make([]uint32, 0, k)
	var p uint64
	for i := 0; i < k && d.err == nil; i++ {
		delta := d.uvarint()
		if (i > 0 && delta == 0) || delta >= uint64(n)-p {
			d.fail("positions do not grow, or run past the line")
			break
		}
		p += delta
		ps = append(ps, uint32(p))
	}
	return ps
}
