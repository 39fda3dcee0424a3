package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/object"
)

// PackMagic starts every pack data file. A pack holds frames like a
// segment. Part of the format.
var PackMagic = []byte("EVGPACK\x01")

// PackIndexMagic starts every pack index. Part of the format.
var PackIndexMagic = []byte("EVGPIX\x00\x01")

// Packed entry kinds: objects whose derivable hashes are left out, because
// hashes do not compress. Packs and format 2 segments hold them. Part of
// the format.
const (
	// EntryPackedEvent: uvarint n, n bytes of the event's canonical body
	// without its last 32 bytes (the data ID), then the data. The data ID
	// is the data's hash.
	EntryPackedEvent = uint8(5)
	// EntryPackedCommit: one flags byte, then the canonical commit body
	// without the IDs the flags say are derived: bit 0, the first parent
	// (the previous commit entry of the frame); bit 1, the event IDs (the
	// event entries just before this one, in order). Counts stay.
	EntryPackedCommit = uint8(6)

	packedParentPrev = 1
	packedEventsPrev = 2
)

// PackFrameTarget is the uncompressed size at which a pack frame is
// closed: small enough that a random read decompresses little, large
// enough that similar events compress well together.
const PackFrameTarget = 8 << 10

// ResolvePacked rewrites the packed entries of a frame into ordinary
// ones, filling in the IDs they leave out. Frames without packed entries
// are returned as they are.
func ResolvePacked(entries []Entry) ([]Entry, error) {
	packed := false
	for _, e := range entries {
		if e.Kind == EntryPackedEvent || e.Kind == EntryPackedCommit {
			packed = true
			break
		}
	}
	if !packed {
		return entries, nil
	}
	out, _, err := resolve(entries, false)
	return out, err
}

// ObjectIDs returns the ID of each object entry of a frame, ZeroID for a
// record, rebuilding packed entries first. Each object is hashed once.
func ObjectIDs(entries []Entry) ([]object.ID, error) {
	_, ids, err := resolve(entries, true)
	return ids, err
}

// ResolveAll is ResolvePacked and ObjectIDs at once: the entries
// resolved, and each object's ID (zero for a record), every object
// hashed once.
func ResolveAll(entries []Entry) ([]Entry, []object.ID, error) {
	return resolve(entries, true)
}

// resolve rewrites packed entries into ordinary ones and returns them
// with the IDs it computed: every object's with all, else those a packed
// commit needs (the commits, and the events that commits leave out).
func resolve(entries []Entry, all bool) ([]Entry, []object.ID, error) {
	out := make([]Entry, len(entries))
	ids := make([]object.ID, len(entries))
	idOf := func(j int) (object.ID, error) {
		if ids[j].IsZero() {
			id, err := out[j].ObjectID()
			if err != nil {
				return object.ZeroID, err
			}
			ids[j] = id
		}
		return ids[j], nil
	}
	var prevCommit object.ID
	havePrev := false
	for i, e := range entries {
		switch e.Kind {
		case EntryPackedEvent:
			ev, err := resolveEvent(e)
			if err != nil {
				return nil, nil, err
			}
			e = ev
		case EntryPackedCommit:
			if len(e.Body) < 1 || e.Body[0]&^(packedParentPrev|packedEventsPrev) != 0 {
				return nil, nil, errBadPackedCommit
			}
			body, err := fillCommit(e.Body[1:], e.Body[0], prevCommit, havePrev, func(n int) ([]object.ID, error) {
				if n > i {
					return nil, errBadPackedCommit
				}
				evs := make([]object.ID, n)
				for k := range n {
					if out[i-n+k].Kind != EntryEvent {
						return nil, errBadPackedCommit
					}
					var err error
					if evs[k], err = idOf(i - n + k); err != nil {
						return nil, err
					}
				}
				return evs, nil
			})
			if err != nil {
				return nil, nil, err
			}
			e = Entry{Kind: EntryCommit, Body: body}
		}
		out[i] = e
		if e.Kind == EntryCommit || (all && e.IsObject()) {
			id, err := idOf(i)
			if err != nil {
				return nil, nil, err
			}
			if e.Kind == EntryCommit {
				prevCommit, havePrev = id, true
			}
		}
	}
	return out, ids, nil
}

// resolveEvent rebuilds a packed event as an ordinary event entry: the
// same bytes with the data ID, the hash of the data, written in.
func resolveEvent(e Entry) (Entry, error) {
	n, k := binary.Uvarint(e.Body)
	if k <= 0 || n > uint64(len(e.Body)-k) {
		return Entry{}, fmt.Errorf("%w: bad packed event", ErrCorrupt)
	}
	prefix, data := e.Body[k:k+int(n)], e.Body[k+int(n):]
	id := object.Hash(object.KindBlob, data)
	full := uint64(len(prefix) + object.IDSize)
	body := make([]byte, 0, binary.MaxVarintLen64+len(prefix)+object.IDSize+len(data))
	body = binary.AppendUvarint(body, full)
	body = append(body, prefix...)
	body = append(body, id[:]...)
	body = append(body, data...)
	return Entry{Kind: EntryEvent, Body: body}, nil
}

// errBadPackedCommit reports a packed commit that cannot be rebuilt.
var errBadPackedCommit = fmt.Errorf("%w: bad packed commit", ErrCorrupt)

// fillCommit rebuilds a commit body from its packed form by putting back
// the IDs it leaves out: prev for its first parent, and for its events
// what events(n) returns, the IDs of the n event entries just before it.
// The canonical layout starts: format byte, uvarint parent count,
// parents, uvarint event count, events.
func fillCommit(packed []byte, flags byte, prev object.ID, havePrev bool, events func(n int) ([]object.ID, error)) ([]byte, error) {
	bad := errBadPackedCommit
	if len(packed) < 1 {
		return nil, bad
	}
	body := make([]byte, 0, len(packed)+2*object.IDSize)
	body = append(body, packed[0])
	p := 1
	np, k := binary.Uvarint(packed[p:])
	if k <= 0 || np > uint64(len(packed)) {
		return nil, bad
	}
	body = append(body, packed[p:p+k]...)
	p += k
	stored := int(np)
	if flags&packedParentPrev != 0 {
		if !havePrev || np < 1 {
			return nil, bad
		}
		body = append(body, prev[:]...)
		stored--
	}
	if p+stored*object.IDSize > len(packed) {
		return nil, bad
	}
	body = append(body, packed[p:p+stored*object.IDSize]...)
	p += stored * object.IDSize
	ne, k := binary.Uvarint(packed[p:])
	if k <= 0 {
		return nil, bad
	}
	body = append(body, packed[p:p+k]...)
	p += k
	if flags&packedEventsPrev != 0 {
		if ne > math.MaxInt32 || events == nil {
			return nil, bad
		}
		ids, err := events(int(ne))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			body = append(body, id[:]...)
		}
	}
	return append(body, packed[p:]...), nil
}

// PackWriter lays objects out in pack frames, leaving out what can be
// derived, and records where each object went. Frames are compressed on
// other goroutines while the caller adds objects, up to packAhead at a
// time, and laid out in the order they were closed: the pack's bytes are
// the same as compressing each in turn.
type PackWriter struct {
	buf     []byte // the pack file being built
	payload Payload
	objs    []packedObj
	frames  []packFrame
	ordinal uint32
	pending []pendingFrame // closed frames being compressed, oldest first
}

// pendingFrame is a closed frame whose compressed bytes are on their way.
type pendingFrame struct {
	first uint32      // ordinal of its first entry
	done  chan []byte // the frame, header and all
}

// packAhead bounds the frames compressed at once.
var packAhead = 2 * runtime.GOMAXPROCS(0)

type packedObj struct {
	id      object.ID
	ordinal uint32
}

type packFrame struct {
	off   uint32
	first uint32 // ordinal of its first entry
}

// NewPackWriter starts an empty pack.
func NewPackWriter() *PackWriter {
	return &PackWriter{buf: append([]byte{}, PackMagic...)}
}

func (w *PackWriter) add(id object.ID) {
	w.objs = append(w.objs, packedObj{id: id, ordinal: w.ordinal})
	w.ordinal++
}

// AddEvent adds an event (its canonical body and data).
func (w *PackWriter) AddEvent(id object.ID, body, data []byte) {
	w.payload.AddPackedEvent(id, body, data)
	w.add(id)
}

// AddCommit adds a commit; its events should have been added just before
// it, in order, so their IDs need not be stored.
func (w *PackWriter) AddCommit(id object.ID, c *object.Commit) {
	w.payload.AddCommit(id, c, c.Encode())
	w.add(id)
	w.maybeFlush()
}

// AddObject adds a blob or tree (or an event or commit stored whole).
func (w *PackWriter) AddObject(id object.ID, kind object.Kind, body []byte) {
	if kind == object.KindCommit {
		w.payload.addWholeCommit(id, body)
	} else {
		w.payload.AddObject(kind, body)
	}
	w.add(id)
	w.maybeFlush()
}

func (w *PackWriter) maybeFlush() {
	if w.payload.Size() >= PackFrameTarget {
		w.Flush()
	}
}

// Flush closes the open frame, which is compressed on another goroutine.
func (w *PackWriter) Flush() {
	if w.payload.Len() == 0 {
		return
	}
	if len(w.pending) >= packAhead {
		w.place()
	}
	pf := pendingFrame{first: w.ordinal - uint32(w.payload.Len()), done: make(chan []byte, 1)}
	payload := slices.Clone(w.payload.Bytes())
	go func() { pf.done <- AppendFrame(nil, payload, true) }()
	w.pending = append(w.pending, pf)
	w.payload.Reset()
}

// place waits for the oldest frame being compressed and lays it out.
func (w *PackWriter) place() {
	pf := w.pending[0]
	w.pending = w.pending[1:]
	w.frames = append(w.frames, packFrame{off: uint32(len(w.buf)), first: pf.first})
	w.buf = append(w.buf, <-pf.done...)
}

// Len returns the number of objects added.
func (w *PackWriter) Len() int { return len(w.objs) }

// Finish returns the pack data and its index.
func (w *PackWriter) Finish() (data, index []byte) {
	w.Flush()
	for len(w.pending) > 0 {
		w.place()
	}
	return w.buf, encodePackIndex(w.objs, w.frames)
}

// Pack index layout, part of the format (docs/format.md):
//
//	[8]      magic
//	[4]      n, objects
//	[4]      f, frames
//	[1024]   fanout over the first ID byte
//	[8n]     the first 8 bytes of each ID, sorted
//	[4n]     each object's ordinal: its place in the pack's entry order
//	[8f]     frames: offset, ordinal of its first entry (uint32 each)
//	[32]     BLAKE3-256 of everything above
//
// Only 8 bytes of each ID are kept: reading an object rebuilds and hashes
// it, so an entry that shares a prefix with another is told apart by the
// full hash, and a pack of a million events keeps a 12-byte entry per
// object instead of 44.
func encodePackIndex(objs []packedObj, frames []packFrame) []byte {
	slices.SortFunc(objs, func(a, b packedObj) int { return bytes.Compare(a.id[:], b.id[:]) })
	objs = slices.CompactFunc(objs, func(a, b packedObj) bool { return a.id == b.id })
	b := make([]byte, 0, 16+fanoutSize+12*len(objs)+8*len(frames)+trailerSize)
	b = append(b, PackIndexMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(objs)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	var fanout [256]uint32
	for _, o := range objs {
		fanout[o.id[0]]++
	}
	var sum uint32
	for i := range fanout {
		sum += fanout[i]
		b = binary.LittleEndian.AppendUint32(b, sum)
	}
	for _, o := range objs {
		b = append(b, o.id[:8]...)
	}
	for _, o := range objs {
		b = binary.LittleEndian.AppendUint32(b, o.ordinal)
	}
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, f.off)
		b = binary.LittleEndian.AppendUint32(b, f.first)
	}
	h := blake3.Sum256(b)
	return append(b, h[:]...)
}

// PackIndex is a read-only pack index mapped into memory.
type PackIndex struct {
	data     []byte
	unmap    func() error
	n, f     int
	fanout   []byte
	prefixes []byte
	ords     []byte
	frames   []byte
	Path     string // the file the index was opened from

	verifyOnce sync.Once
	verifyErr  error
}

// Checked verifies the whole file once and returns what that found.
func (px *PackIndex) Checked() error {
	px.verifyOnce.Do(func() { px.verifyErr = px.Verify() })
	return px.verifyErr
}

// OpenPackIndex maps a pack index and checks its layout.
func OpenPackIndex(fsys FS, path string) (*PackIndex, error) {
	px, unmap, err := openMapped(fsys, path, ParsePackIndex)
	if err != nil {
		return nil, err
	}
	px.unmap, px.Path = unmap, path
	return px, nil
}

// ParsePackIndex reads a pack index held in memory.
func ParsePackIndex(data []byte) (*PackIndex, error) {
	if len(data) < 16+fanoutSize+trailerSize || !bytes.Equal(data[:8], PackIndexMagic) {
		return nil, fmt.Errorf("%w: pack index: bad header", ErrCorrupt)
	}
	px := &PackIndex{data: data}
	px.n = int(binary.LittleEndian.Uint32(data[8:]))
	px.f = int(binary.LittleEndian.Uint32(data[12:]))
	if uint64(16+fanoutSize)+12*uint64(px.n)+8*uint64(px.f)+trailerSize != uint64(len(data)) {
		return nil, fmt.Errorf("%w: pack index: sizes do not add up", ErrCorrupt)
	}
	p := 16
	px.fanout = data[p : p+fanoutSize]
	p += fanoutSize
	px.prefixes = data[p : p+8*px.n]
	p += 8 * px.n
	px.ords = data[p : p+4*px.n]
	p += 4 * px.n
	px.frames = data[p : p+8*px.f]
	if int(binary.LittleEndian.Uint32(px.fanout[255*4:])) != px.n {
		return nil, fmt.Errorf("%w: pack index: fanout does not match the object count", ErrCorrupt)
	}
	return px, nil
}

// Close unmaps the file.
func (px *PackIndex) Close() error {
	if px.unmap != nil {
		return px.unmap()
	}
	return nil
}

// Len returns the number of objects.
func (px *PackIndex) Len() int { return px.n }

// Size returns the index's size in bytes.
func (px *PackIndex) Size() int { return len(px.data) }

// Verify checks the trailer checksum.
func (px *PackIndex) Verify() error {
	body := px.data[:len(px.data)-trailerSize]
	sum := blake3.Sum256(body)
	if !bytes.Equal(sum[:], px.data[len(body):]) {
		return fmt.Errorf("%w: pack index %s: checksum mismatch", ErrCorrupt, px.Path)
	}
	return nil
}

func (px *PackIndex) fan(b int) int {
	if b < 0 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(px.fanout[b*4:]))
}

// prefixAt returns the i-th ID's first 8 bytes, big-endian.
func (px *PackIndex) prefixAt(i int) uint64 { return binary.BigEndian.Uint64(px.prefixes[i*8:]) }

// Candidates returns the locations of the objects whose ID starts like
// id's first 8 bytes: usually one, which the reader confirms by hashing.
func (px *PackIndex) Candidates(id object.ID) []Location {
	lo, hi := px.fan(int(id[0])-1), px.fan(int(id[0]))
	if hi > px.n || lo > hi {
		return nil
	}
	key := binary.BigEndian.Uint64(id[:8])
	lo = searchUniform(lo, hi, key, bucketFirst(id[0]), bucketLast(id[0]), px.prefixAt)
	var out []Location
	for i := lo; i < px.n && binary.BigEndian.Uint64(px.prefixes[i*8:]) == key; i++ {
		if loc, ok := px.locate(binary.LittleEndian.Uint32(px.ords[i*4:])); ok {
			out = append(out, loc)
		}
	}
	return out
}

// FrameOffsets returns where each of the pack's frames starts, in
// order, as the index records them: a reader can go from frame to frame
// without trusting a damaged frame's header to say where the next is.
func (px *PackIndex) FrameOffsets() []uint32 {
	out := make([]uint32, px.f)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(px.frames[i*8:])
	}
	return out
}

// locate turns an ordinal into a frame and slot.
func (px *PackIndex) locate(ord uint32) (Location, bool) {
	lo, hi := 0, px.f
	for lo < hi { // first frame whose first ordinal > ord
		mid := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint32(px.frames[mid*8+4:]) <= ord {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return Location{}, false
	}
	f := px.frames[(lo-1)*8:]
	first := binary.LittleEndian.Uint32(f[4:])
	return Location{Seg: 0, Off: binary.LittleEndian.Uint32(f), Slot: ord - first}, true
}

// Prefixes calls fn with each object's 8-byte ID prefix and location.
func (px *PackIndex) Prefixes(fn func(prefix []byte, loc Location) bool) {
	for i := 0; i < px.n; i++ {
		loc, ok := px.locate(binary.LittleEndian.Uint32(px.ords[i*4:]))
		if !ok {
			continue
		}
		if !fn(px.prefixes[i*8:i*8+8], loc) {
			return
		}
	}
}

// PrefixLocations returns the locations of objects whose ID starts with
// prefix (at most 8 bytes; with oddNibble only the upper half of the last
// byte counts), up to limit (all when limit <= 0).
func (px *PackIndex) PrefixLocations(prefix []byte, oddNibble bool, limit int) []Location {
	if len(prefix) == 0 || len(prefix) > 8 {
		return nil
	}
	lo, hi := px.fan(int(prefix[0])-1), px.fan(int(prefix[0]))
	if hi > px.n || lo > hi {
		return nil
	}
	for l, h := lo, hi; l < h; {
		mid := int(uint(l+h) >> 1)
		if bytes.Compare(px.prefixes[mid*8:mid*8+len(prefix)], prefix) < 0 {
			l = mid + 1
		} else {
			h = mid
		}
		lo = l
	}
	var out []Location
	for i := lo; i < hi && (limit <= 0 || len(out) < limit); i++ {
		if !matchPrefix(px.prefixes[i*8:i*8+8], prefix, oddNibble) {
			break
		}
		if loc, ok := px.locate(binary.LittleEndian.Uint32(px.ords[i*4:])); ok {
			out = append(out, loc)
		}
	}
	return out
}
