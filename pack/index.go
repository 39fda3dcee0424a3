package pack

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/object"
)

// IndexMagic starts every index file. Part of the format.
var IndexMagic = []byte("EVGIDX\x00\x01")

// Index layout, part of the format (docs/format.md):
//
//	[8]      magic
//	[4]      n, objects
//	[4]      m, records
//	[4]      k, segments covered
//	[4]      r, bytes of record data
//	[4k]     segment numbers
//	[1024]   fanout: fanout[b] = objects whose ID's first byte <= b
//	[32n]    object IDs, sorted
//	[12n]    locations: segment, frame offset, slot (uint32 each)
//	[4m]     record offsets into the record data, sorted by kind and key,
//	         in log order among equal keys
//	[r]      record data: kind, uvarint key length, key, uvarint value length, value
//	[32]     BLAKE3-256 of everything above
const (
	indexHeaderSize = 8 + 16
	fanoutSize      = 256 * 4
	locationSize    = 12
	trailerSize     = 32
)

// Location says where an object lies: the segment, the frame's offset in
// it, and the entry's slot in the frame.
type Location struct {
	Seg  uint32 // the segment's number; 0 for the pack
	Off  uint32 // the frame's byte offset in its file
	Slot uint32 // the entry's index among the frame's entries, from 0
}

// IndexedObject is one object of an index.
type IndexedObject struct {
	ID  object.ID // the object's ID
	Loc Location  // where the object lies
}

// Record is a record entry kept in an index: its kind and key are what it
// is found by; records with equal keys keep the order they were logged in.
type Record struct {
	Kind  uint8  // the record's entry kind, RecordBase or above
	Key   []byte // what the record is found by, with Kind
	Value []byte // the record's value
}

// compareObjects orders indexed objects by ID.
func compareObjects(a, b IndexedObject) int {
	// IDs are hashes: their first 8 bytes nearly always decide.
	if x, y := binary.BigEndian.Uint64(a.ID[:8]), binary.BigEndian.Uint64(b.ID[:8]); x != y {
		return cmp.Compare(x, y)
	}
	return bytes.Compare(a.ID[8:], b.ID[8:])
}

// sortObjects sorts objects by ID. IDs are hashes, spread evenly: a
// counting sort on their first two bytes leaves runs of about one object
// each (n/65536 on average), which an insertion sort finishes. It returns
// a new slice for a large input, objs itself sorted in place for a small
// one.
func sortObjects(objs []IndexedObject) []IndexedObject {
	if len(objs) < 1<<12 {
		slices.SortFunc(objs, compareObjects)
		return objs
	}
	var start [1<<16 + 1]int32
	for i := range objs {
		start[int(binary.BigEndian.Uint16(objs[i].ID[:2]))+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([]IndexedObject, len(objs))
	next := start
	for i := range objs {
		b := binary.BigEndian.Uint16(objs[i].ID[:2])
		out[next[b]] = objs[i]
		next[b]++
	}
	for b := range 1 << 16 {
		if run := out[start[b]:start[b+1]]; len(run) > 1 {
			slices.SortFunc(run, compareObjects)
		}
	}
	return out
}

// MergeObjects merges runs of objects, each sorted by ID, into one sorted
// run, in time linear in their length.
func MergeObjects(runs ...[]IndexedObject) []IndexedObject {
	for len(runs) > 1 {
		var next [][]IndexedObject
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
				continue
			}
			a, b := runs[i], runs[i+1]
			out := make([]IndexedObject, 0, len(a)+len(b))
			for len(a) > 0 && len(b) > 0 {
				if compareObjects(b[0], a[0]) < 0 {
					out, b = append(out, b[0]), b[1:]
				} else {
					out, a = append(out, a[0]), a[1:]
				}
			}
			next = append(next, append(append(out, a...), b...))
		}
		runs = next
	}
	if len(runs) == 0 {
		return nil
	}
	return runs[0]
}

// EncodeIndex builds an index file over the given segments. It sorts objs
// (dropping repeated IDs) and recs (stably) in place.
func EncodeIndex(segs []uint32, objs []IndexedObject, recs []Record) []byte {
	if !slices.IsSortedFunc(objs, compareObjects) {
		objs = sortObjects(objs)
	}
	objs = slices.CompactFunc(objs, func(a, b IndexedObject) bool { return a.ID == b.ID })
	slices.SortStableFunc(recs, compareRecords)

	var recData []byte
	offsets := make([]uint32, len(recs))
	for i, r := range recs {
		offsets[i] = uint32(len(recData))
		recData = append(recData, r.Kind)
		recData = binary.AppendUvarint(recData, uint64(len(r.Key)))
		recData = append(recData, r.Key...)
		recData = binary.AppendUvarint(recData, uint64(len(r.Value)))
		recData = append(recData, r.Value...)
	}
	size := indexHeaderSize + 4*len(segs) + fanoutSize + len(objs)*(object.IDSize+locationSize) + 4*len(recs) + len(recData) + trailerSize
	b := make([]byte, 0, size)
	b = append(b, IndexMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(objs)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(recs)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(segs)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(recData)))
	for _, s := range segs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	var fanout [256]uint32
	for _, o := range objs {
		fanout[o.ID[0]]++
	}
	var sum uint32
	for i := range fanout {
		sum += fanout[i]
		b = binary.LittleEndian.AppendUint32(b, sum)
	}
	for _, o := range objs {
		b = append(b, o.ID[:]...)
	}
	for _, o := range objs {
		b = binary.LittleEndian.AppendUint32(b, o.Loc.Seg)
		b = binary.LittleEndian.AppendUint32(b, o.Loc.Off)
		b = binary.LittleEndian.AppendUint32(b, o.Loc.Slot)
	}
	for _, off := range offsets {
		b = binary.LittleEndian.AppendUint32(b, off)
	}
	b = append(b, recData...)
	sumHash := blake3.Sum256(b)
	return append(b, sumHash[:]...)
}

func compareRecords(a, b Record) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return bytes.Compare(a.Key, b.Key)
}

// Index is a read-only index file, mapped into memory. Lookups binary
// search it in place; nothing is loaded whole.
type Index struct {
	verifyOnce sync.Once
	verifyErr  error

	data    []byte
	unmap   func() error
	segs    []uint32
	n, m    int
	ids     []byte
	locs    []byte
	recOffs []byte
	recData []byte
	fanout  []byte
	Path    string // the file the index was opened from
}

// OpenIndex maps an index file and checks its header and layout. The
// trailer checksum is checked by Verify (fsck), not here: opening must stay
// fast, and every object read through the index is checked against its ID.
func OpenIndex(fsys FS, path string) (*Index, error) {
	ix, unmap, err := openMapped(fsys, path, parseIndex)
	if err != nil {
		return nil, err
	}
	ix.unmap, ix.Path = unmap, path
	return ix, nil
}

// openMapped maps a file into memory and parses it; on failure it is
// unmapped again and the error names the file.
func openMapped[T any](fsys FS, path string, parse func([]byte) (T, error)) (T, func() error, error) {
	var zero T
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return zero, nil, err
	}
	defer f.Close()
	data, unmap, err := mapFile(f)
	if err != nil {
		return zero, nil, err
	}
	v, err := parse(data)
	if err != nil {
		unmap()
		return zero, nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, unmap, nil
}

// ParseIndex reads an index held in memory.
func ParseIndex(data []byte) (*Index, error) { return parseIndex(data) }

func parseIndex(data []byte) (*Index, error) {
	bad := func(what string) (*Index, error) {
		return nil, fmt.Errorf("%w: index: %s", ErrCorrupt, what)
	}
	if len(data) < indexHeaderSize+fanoutSize+trailerSize || !bytes.Equal(data[:8], IndexMagic) {
		return bad("bad header")
	}
	ix := &Index{data: data}
	ix.n = int(binary.LittleEndian.Uint32(data[8:]))
	ix.m = int(binary.LittleEndian.Uint32(data[12:]))
	k := int(binary.LittleEndian.Uint32(data[16:]))
	r := int(binary.LittleEndian.Uint32(data[20:]))
	want := uint64(indexHeaderSize) + 4*uint64(k) + fanoutSize + uint64(ix.n)*(object.IDSize+locationSize) + 4*uint64(ix.m) + uint64(r) + trailerSize
	if want != uint64(len(data)) {
		return bad("sizes do not add up")
	}
	p := indexHeaderSize
	for i := 0; i < k; i++ {
		ix.segs = append(ix.segs, binary.LittleEndian.Uint32(data[p:]))
		p += 4
	}
	ix.fanout = data[p : p+fanoutSize]
	p += fanoutSize
	if int(binary.LittleEndian.Uint32(ix.fanout[255*4:])) != ix.n {
		return bad("fanout does not match the object count")
	}
	ix.ids = data[p : p+ix.n*object.IDSize]
	p += ix.n * object.IDSize
	ix.locs = data[p : p+ix.n*locationSize]
	p += ix.n * locationSize
	ix.recOffs = data[p : p+4*ix.m]
	p += 4 * ix.m
	ix.recData = data[p : p+r]
	return ix, nil
}

// Close unmaps the file.
func (ix *Index) Close() error {
	if ix.unmap != nil {
		return ix.unmap()
	}
	return nil
}

// Segments returns the numbers of the segments the index covers.
func (ix *Index) Segments() []uint32 { return ix.segs }

// Len returns the number of objects.
func (ix *Index) Len() int { return ix.n }

// Size returns the file's size in bytes.
func (ix *Index) Size() int { return len(ix.data) }

// Verify checks the trailer checksum over the whole file.
func (ix *Index) Verify() error {
	body := ix.data[:len(ix.data)-trailerSize]
	sum := blake3.Sum256(body)
	if !bytes.Equal(sum[:], ix.data[len(body):]) {
		return fmt.Errorf("%w: index %s: checksum mismatch", ErrCorrupt, ix.Path)
	}
	return nil
}

func (ix *Index) fan(b int) int {
	if b < 0 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(ix.fanout[b*4:]))
}

func (ix *Index) idAt(i int) []byte { return ix.ids[i*object.IDSize : (i+1)*object.IDSize] }

func (ix *Index) locAt(i int) Location {
	b := ix.locs[i*locationSize:]
	return Location{
		Seg:  binary.LittleEndian.Uint32(b),
		Off:  binary.LittleEndian.Uint32(b[4:]),
		Slot: binary.LittleEndian.Uint32(b[8:]),
	}
}

// Lookup returns where the object lies.
func (ix *Index) Lookup(id object.ID) (Location, bool) {
	lo, hi := ix.fan(int(id[0])-1), ix.fan(int(id[0]))
	if hi > ix.n || lo > hi {
		return Location{}, false
	}
	want := binary.BigEndian.Uint64(id[:8])
	for i := searchUniform(lo, hi, want, bucketFirst(id[0]), bucketLast(id[0]), ix.keyAt); i < hi && ix.keyAt(i) == want; i++ {
		if bytes.Equal(ix.idAt(i), id[:]) {
			return ix.locAt(i), true
		}
	}
	return Location{}, false
}

// bucketFirst and bucketLast bound the keys whose first byte is b.
func bucketFirst(b byte) uint64 { return uint64(b) << 56 }
func bucketLast(b byte) uint64  { return uint64(b)<<56 | (1<<56 - 1) }

// keyAt returns the first 8 bytes of the i-th ID, big-endian: the IDs'
// order.
func (ix *Index) keyAt(i int) uint64 { return binary.BigEndian.Uint64(ix.ids[i*object.IDSize:]) }

// searchUniform returns the first i in [lo, hi) whose key is at least
// want, or hi, where every key lies in [first, last]. The keys are
// ascending and, being the starts of BLAKE3 hashes, evenly spread, so it
// guesses from want's value where it lies, which lands within about the
// square root of hi-lo places of it, then gallops from the guess to
// bracket the answer and binary-searches the bracket. A binary search of
// the thousands of keys behind one fanout entry reads a dozen of them
// far apart, each likely a cache miss in an index of a million objects;
// this reads one key far away and a few near it. Keys that are not
// spread evenly (a damaged index) cost more reads, never a wrong answer.
func searchUniform(lo, hi int, want, first, last uint64, key func(int) uint64) int {
	if hi <= lo {
		return lo
	}
	g := lo
	if want > first && last > first {
		g += int(float64(want-first) / float64(last-first) * float64(hi-1-lo))
		g = min(max(g, lo), hi-1)
	}
	// Bracket the answer in [a, b]: b is the answer when no key in [a, b)
	// is at least want.
	a, b := lo, hi
	if key(g) < want {
		a = g + 1
		for step := 1; g+step < hi; step *= 2 {
			if key(g+step) >= want {
				b = g + step
				break
			}
			a = g + step + 1
		}
	} else {
		b = g
		for step := 1; g-step >= lo; step *= 2 {
			if key(g-step) < want {
				a = g - step + 1
				break
			}
			b = g - step
		}
	}
	return a + sort.Search(b-a, func(i int) bool { return key(a+i) >= want })
}

// Prefix returns the IDs that start with the given bytes, at most limit
// of them (all when limit <= 0); odd is set when the last nibble of a hex
// prefix is in the low half of the last byte's range, so a hex prefix of
// odd length matches on its upper nibble only.
func (ix *Index) Prefix(prefix []byte, oddNibble bool, limit int) []object.ID {
	if len(prefix) == 0 {
		return nil
	}
	lo, hi := ix.fan(int(prefix[0])-1), ix.fan(int(prefix[0]))
	if hi > ix.n || lo > hi {
		return nil
	}
	// first index whose ID >= prefix
	l, h := lo, hi
	for l < h {
		mid := int(uint(l+h) >> 1)
		if bytes.Compare(ix.idAt(mid), prefix) < 0 {
			l = mid + 1
		} else {
			h = mid
		}
	}
	var out []object.ID
	for i := l; i < hi && (limit <= 0 || len(out) < limit); i++ {
		id := ix.idAt(i)
		if !matchPrefix(id, prefix, oddNibble) {
			break
		}
		out = append(out, object.ID(id))
	}
	return out
}

func matchPrefix(id, prefix []byte, oddNibble bool) bool {
	n := len(prefix)
	if oddNibble {
		if !bytes.Equal(id[:n-1], prefix[:n-1]) {
			return false
		}
		return id[n-1]&0xF0 == prefix[n-1]&0xF0
	}
	return bytes.Equal(id[:n], prefix)
}

// Objects iterates over every object in ID order.
func (ix *Index) Objects() iter.Seq[IndexedObject] {
	return func(yield func(IndexedObject) bool) {
		for i := 0; i < ix.n; i++ {
			if !yield(IndexedObject{ID: object.ID(ix.idAt(i)), Loc: ix.locAt(i)}) {
				return
			}
		}
	}
}

func (ix *Index) recordAt(i int) (Record, error) {
	off := int(binary.LittleEndian.Uint32(ix.recOffs[i*4:]))
	if off >= len(ix.recData) {
		return Record{}, fmt.Errorf("%w: index %s: record offset out of range", ErrCorrupt, ix.Path)
	}
	b := ix.recData[off:]
	r := Record{Kind: b[0]}
	kl, n := binary.Uvarint(b[1:])
	if n <= 0 || kl > uint64(len(b)-1-n) {
		return Record{}, fmt.Errorf("%w: index %s: bad record", ErrCorrupt, ix.Path)
	}
	p := 1 + n
	r.Key = b[p : p+int(kl)]
	p += int(kl)
	vl, n := binary.Uvarint(b[p:])
	if n <= 0 || vl > uint64(len(b)-p-n) {
		return Record{}, fmt.Errorf("%w: index %s: bad record", ErrCorrupt, ix.Path)
	}
	p += n
	r.Value = b[p : p+int(vl)]
	return r, nil
}

// Checked verifies the whole file once and returns what that found. It
// runs before the records are used: objects read through an index are
// checked against their IDs, but a record has no ID of its own, so a
// damaged one would be read as data.
func (ix *Index) Checked() error {
	ix.verifyOnce.Do(func() { ix.verifyErr = ix.Verify() })
	return ix.verifyErr
}

// Records iterates, in log order, over the records of a kind whose key
// starts with prefix (the whole key when exact is set). The file's
// checksum is verified the first time records are read from it.
func (ix *Index) Records(kind uint8, prefix []byte, exact bool) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := ix.Checked(); err != nil {
			yield(Record{}, err)
			return
		}
		lo, err := ix.searchRecord(kind, prefix)
		if err != nil {
			yield(Record{}, err)
			return
		}
		for i := lo; i < ix.m; i++ {
			r, err := ix.recordAt(i)
			if err != nil {
				yield(Record{}, err)
				return
			}
			if r.Kind != kind || !bytes.HasPrefix(r.Key, prefix) || (exact && len(r.Key) != len(prefix)) {
				if r.Kind != kind || !bytes.HasPrefix(r.Key, prefix) {
					return
				}
				continue
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// HasRecordFrom reports whether the index holds a record of a kind whose
// key sorts at or after from: one binary search.
func (ix *Index) HasRecordFrom(kind uint8, from []byte) (bool, error) {
	if err := ix.Checked(); err != nil {
		return false, err
	}
	lo, err := ix.searchRecord(kind, from)
	if err != nil || lo == ix.m {
		return false, err
	}
	r, err := ix.recordAt(lo)
	return err == nil && r.Kind == kind, err
}

// searchRecord returns the position of the first record that sorts at or
// after kind and key (ix.m when none does): a binary search.
func (ix *Index) searchRecord(kind uint8, key []byte) (int, error) {
	want := Record{Kind: kind, Key: key}
	lo, hi := 0, ix.m
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		r, err := ix.recordAt(mid)
		if err != nil {
			return 0, err
		}
		if compareRecords(r, want) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// AllRecords iterates over every record, sorted by kind and key.
func (ix *Index) AllRecords() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := ix.Checked(); err != nil {
			yield(Record{}, err)
			return
		}
		for i := 0; i < ix.m; i++ {
			r, err := ix.recordAt(i)
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}
