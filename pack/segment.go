package pack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// SegmentMagic starts every segment file. Part of the format.
var SegmentMagic = []byte("EVGSEG\x00\x01")

// Segment is an append-only file of frames. The append path writes one
// frame per transaction and syncs once; readers read frames through
// ReadAt and check each one's CRC before using a byte of it.
type Segment struct {
	f    File
	Num  uint32 // the segment's number, from its file name
	size int64  // end of the last whole frame: the logical end
	// alloc is the file's size: zeros past the logical end. Readers
	// holding a shared lock raise it when they find the file grown, so
	// it is atomic.
	alloc atomic.Int64
}

// Preallocation: the newest segment is kept longer than its frames with
// zeros, so appending a frame overwrites allocated blocks and fdatasync
// need not also commit a new file size (a journal commit) on every call;
// on these disks that is the difference between about 250 and 900 syncs a
// second. A frame header is never all zero (its CRC covers the lengths),
// so the first zero header marks the logical end.
const (
	preallocMin = 64 << 10
	preallocMax = 4 << 20
)

var zeros = make([]byte, 256<<10)

// WriteSegment creates a segment file whole and durably (temporary name,
// fsync, rename, fsync of the folder) holding the given first frame, so a
// crash never leaves a segment without it: the first frame of a segment is
// the checkpoint of every ref.
//
// The file holds preallocMin zeros after the frame, synced with it, as
// Append would grow it: the first append to a new segment (the first
// commit after init, a seal or gc) then needs no sync of its own for the
// zeros, only its frame's (a helper's syscall audit: every such commit
// took two).
func WriteSegment(fsys FS, path string, firstFrame []byte) error {
	data := make([]byte, 0, len(SegmentMagic)+len(firstFrame)+preallocMin)
	data = append(append(data, SegmentMagic...), firstFrame...)
	data = data[:len(data)+preallocMin] // zeros
	return WriteFileAtomic(fsys, path, data)
}

// OpenSegment opens a segment for reading and appending. Call Scan to find
// its end before appending. Number 0 opens a pack's data file, which holds
// frames the same way.
func OpenSegment(fsys FS, path string, num uint32, writable bool) (*Segment, error) {
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	f, err := fsys.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	var magic [8]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || !(bytes.Equal(magic[:], SegmentMagic) || (num == 0 && bytes.Equal(magic[:], PackMagic))) {
		f.Close()
		return nil, fmt.Errorf("%w: %s: not a segment file", ErrCorrupt, path)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	seg := &Segment{f: f, Num: num, size: int64(len(SegmentMagic))}
	seg.alloc.Store(st.Size())
	return seg, nil
}

// Close closes the file.
func (s *Segment) Close() error { return s.f.Close() }

// Size returns the end of the last whole frame.
func (s *Segment) Size() int64 { return s.size }

// Append writes frames (one or more, as AppendFrame built them) at the end
// of the segment and returns the offset of the first. It does not sync.
// On a failed or short write the segment must not be used again until it
// is reopened and scanned: the tail may be torn.
func (s *Segment) Append(frames []byte) (int64, error) {
	off := s.size
	end := off + int64(len(frames))
	if end > s.alloc.Load() {
		grow := min(max(s.size, preallocMin), preallocMax)
		newAlloc := end + grow
		for at := end; at < newAlloc; {
			n := min(int64(len(zeros)), newAlloc-at)
			if err := writeFull(s.f, zeros[:n], at); err != nil {
				return 0, err
			}
			at += n
		}
		// The zeros are made durable before the frame goes in front of
		// them: past the last frame a crash can tear, the file then
		// holds only zeros that survived every crash, so bytes found
		// there were written by a later append (Scan's writtenAfter).
		// One more sync each time the segment grows, 64 KiB to 4 MiB.
		if err := syncData(s.f); err != nil {
			return 0, err
		}
		s.alloc.Store(newAlloc)
	}
	if err := writeFull(s.f, frames, off); err != nil {
		return 0, err
	}
	s.size = end
	return off, nil
}

// NothingAt reports whether no frame starts at off: the bytes a frame
// header would take there are zeros, or the file ends. It reads them and
// changes nothing, so readers may call it together.
func (s *Segment) NothingAt(off int64) bool {
	off = max(off, int64(len(SegmentMagic)))
	var hdr [FrameHeaderSize]byte
	n, err := s.f.ReadAt(hdr[:], off)
	return (err == nil || errors.Is(err, io.EOF)) && allZero(hdr[:n])
}

// raiseAlloc raises alloc to n, if it is below.
func (s *Segment) raiseAlloc(n int64) {
	for {
		old := s.alloc.Load()
		if n <= old || s.alloc.CompareAndSwap(old, n) {
			return
		}
	}
}

// Sync makes every appended frame durable.
func (s *Segment) Sync() error { return syncData(s.f) }

// ReadFrame reads and checks the frame at off and returns its uncompressed
// payload and the offset of the next frame.
func (s *Segment) ReadFrame(off int64) (payload []byte, next int64, err error) {
	raw, h, err := s.readChecked(off)
	if err != nil {
		return nil, 0, err
	}
	payload, err = h.decodePayload(raw)
	if err != nil {
		// The checksum held, so the frame was written whole: this is
		// damage, never a torn tail.
		// The next frame is where the header says: only this one's
		// content is damaged.
		return nil, off + FrameHeaderSize + int64(h.size), &contentError{fmt.Errorf("segment %d: frame at %d: %w", s.Num, off, err)}
	}
	return payload, off + FrameHeaderSize + int64(h.size), nil
}

// readChecked reads the frame at off and checks its checksum, returning
// its stored payload and header.
func (s *Segment) readChecked(off int64) ([]byte, frameHeader, error) {
	var hdr [FrameHeaderSize]byte
	if _, err := s.f.ReadAt(hdr[:], off); err != nil {
		return nil, frameHeader{}, readError(s.Num, off, err)
	}
	h, err := parseFrameHeader(hdr[:])
	if err != nil {
		return nil, h, fmt.Errorf("segment %d: frame at %d: %w", s.Num, off, err)
	}
	if end := off + FrameHeaderSize + int64(h.size); end > s.alloc.Load() {
		// Past what this process knows of the file: look again before
		// allocating what a damaged length asks for.
		if st, err := s.f.Stat(); err == nil {
			s.raiseAlloc(st.Size())
		}
		if end > s.alloc.Load() {
			return nil, h, fmt.Errorf("%w: segment %d: frame at %d runs past the end of the file", ErrCorrupt, s.Num, off)
		}
	}
	raw := make([]byte, h.size)
	if _, err := s.f.ReadAt(raw, off+FrameHeaderSize); err != nil {
		return nil, h, readError(s.Num, off, err)
	}
	if err := h.check(hdr[:], raw); err != nil {
		return nil, h, fmt.Errorf("segment %d: frame at %d: %w", s.Num, off, err)
	}
	return raw, h, nil
}

// ReadLazyFrame reads and checks the frame at off, as ReadFrame does, and
// returns it as a Frame that decompresses its parts as its entries are
// asked for (NewLazyFrame). A stored payload, or one whose zstd layout it
// does not follow, is decoded whole at once.
func (s *Segment) ReadLazyFrame(off int64) (*Frame, error) {
	raw, h, err := s.readChecked(off)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("segment %d: frame at %d", s.Num, off)
	if h.rawLen != 0 {
		if parts, err := zstdParts(raw); err == nil && len(parts) > 0 {
			return NewLazyFrame(parts, int(h.rawLen), where), nil
		}
	}
	payload, err := h.decodePayload(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	entries, err := ParseEntries(payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return NewFrame(entries, len(payload)), nil
}

// readError reports a failed read of a frame: a frame cut short by the
// end of the file is damage (perhaps a torn tail); any other failure is
// an I/O error, which must never be taken for damage and cut.
func readError(seg uint32, off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: segment %d: frame at %d runs past the end of the file", ErrCorrupt, seg, off)
	}
	return fmt.Errorf("segment %d: reading frame at %d: %w", seg, off, err)
}

// ErrTornTail is matched by the error Scan returns when the segment ends in
// a partial frame; Scan's caller may cut it with Truncate.
var ErrTornTail = errors.New("torn tail")

// Scan reads every frame from off to the end of the file, calling fn with
// each frame's offset and payload, and sets the segment's size to the end
// of the last whole frame. A frame that is cut short by the end of the
// file, or damaged where nothing whole follows it, is a torn tail left by a
// crash: Scan returns the number of bytes after the last good frame. A
// damaged frame with good frames after it is corruption: ErrCorrupt; so is
// a damaged first frame, which was written whole with the segment.
//
// With verifyTail set, a zero header counts as the end only if nothing but
// zeros follows (recovery); without it, as when catching up with frames
// other writers appended, a zero header is the end.
func (s *Segment) Scan(off int64, verifyTail bool, fn func(off int64, payload []byte) error) (torn int64, err error) {
	off = max(off, int64(len(SegmentMagic)))
	if !verifyTail {
		// Catching up, most often with nothing new: a zero header (or
		// the file's end) where the next frame would start says so with
		// one read, and no stat. A writer catches up before each commit,
		// and on this machine's ext4 a stat of the file it then appends
		// to and syncs made that sync cycle about 70 µs longer: one-event
		// commits went from 4,900/s to 7,400/s without it.
		var hdr [FrameHeaderSize]byte
		n, rerr := s.f.ReadAt(hdr[:], off)
		if (rerr == nil || errors.Is(rerr, io.EOF)) && allZero(hdr[:n]) {
			s.size = off
			s.raiseAlloc(off)
			return 0, nil
		}
	}
	st, err := s.f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	s.alloc.Store(end)
	for off < end {
		if done, err := s.endsAt(off, end, verifyTail); err != nil {
			return 0, err
		} else if done {
			break
		}
		payload, next, ferr := s.ReadFrame(off)
		if ferr != nil {
			var ce *contentError
			if !errors.Is(ferr, ErrCorrupt) || errors.As(ferr, &ce) {
				return 0, ferr
			}
			// A segment's first frame was written whole with it (temp
			// file, sync, rename: WriteSegment), so no crash tears it.
			if off > int64(len(SegmentMagic)) && !s.wholeFrameAfter(off, end) && !s.writtenAfter(off, end) {
				s.size = off
				return s.nonZeroExtent(off, end), nil
			}
			// Bytes after it say the frame was whole before they were
			// written: read without the lock, it may have been read
			// while another process wrote it. Damage is what a second
			// read still finds.
			if payload, next, ferr = s.ReadFrame(off); ferr != nil {
				return 0, ferr
			}
		}
		if err := fn(off, payload); err != nil {
			return 0, err
		}
		off = next
	}
	// Every frame up to off was read whole and checked. The last may end
	// past the size the file had when the scan began: another process
	// appended it meanwhile, and ReadFrame looked again. The logical end
	// is after it, never inside it: a later scan from inside a frame
	// would take its bytes for damage, and, holding the lock, cut an
	// acknowledged commit as a torn tail.
	s.size = off
	s.raiseAlloc(off)
	return 0, nil
}

// endsAt reports whether the data ends at off: a zero header where the
// next frame would start and, when verify is set, nothing but zeros after
// it up to end (a zero header with bytes after it is read as a frame).
func (s *Segment) endsAt(off, end int64, verify bool) (bool, error) {
	var hdr [FrameHeaderSize]byte
	n, err := s.f.ReadAt(hdr[:], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, readError(s.Num, off, err)
	}
	if !allZero(hdr[:n]) {
		return false, nil
	}
	if !verify {
		return true, nil
	}
	return s.zeroFrom(off, end)
}

// contentError is damage inside a frame whose checksum holds.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// nonZeroExtent returns how many bytes from off reach the last non-zero
// byte before end: the size of a torn write within preallocated zeros.
func (s *Segment) nonZeroExtent(off, end int64) int64 {
	buf := make([]byte, end-off)
	n, _ := s.f.ReadAt(buf, off)
	buf = buf[:n]
	for i := len(buf) - 1; i >= 0; i-- {
		if buf[i] != 0 {
			return int64(i + 1)
		}
	}
	return 0
}

// zeroFrom reports whether the file holds only zeros from off to end.
func (s *Segment) zeroFrom(off, end int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < end {
		n := min(int64(len(buf)), end-off)
		if _, err := s.f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if !allZero(buf[:n]) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// wholeFrameAfter reports whether any offset after a damaged frame at off
// starts a frame that checks out: then the damage is not a torn tail but
// corruption in the middle, which must never be cut. The damaged header's
// own length is not trusted: every later offset is tried.
func (s *Segment) wholeFrameAfter(off, end int64) bool {
	tail := make([]byte, end-off)
	if _, err := s.f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return true // cannot tell: treat as corruption, never cut
	}
	return nextWholeFrame(tail, 1, len(tail), false) >= 0
}

// nextWholeFrame returns the first index of b, from from, where a frame
// starts that checks out and ends by limit, or -1. Strict, it first asks
// more than a frame needs, to skip most offsets of damaged or compressed
// bytes before a checksum is computed: a checksum field that is not
// zero, lengths as evgit writes them, and after the frame the end of b,
// zeros or another header that passes the same tests. A whole frame
// followed by damage fails that, so a strict find is only a bound to
// search below again, without it.
func nextWholeFrame(b []byte, from, limit int, strict bool) int {
	plausible := func(j int) (frameHeader, bool) {
		if j+FrameHeaderSize > limit {
			return frameHeader{}, false
		}
		h, err := parseFrameHeader(b[j:])
		if err != nil || h.size == 0 || j+FrameHeaderSize+int(h.size) > limit {
			return h, false
		}
		return h, !strict || (h.crc != 0 && (h.rawLen == 0 || h.rawLen > h.size))
	}
	for i := from; i+FrameHeaderSize <= limit; i++ {
		h, ok := plausible(i)
		if !ok {
			continue
		}
		after := i + FrameHeaderSize + int(h.size)
		if strict && after+FrameHeaderSize <= limit && !allZero(b[after:after+FrameHeaderSize]) {
			if _, ok := plausible(after); !ok {
				continue
			}
		}
		if h.check(b[i:], b[i+FrameHeaderSize:after]) == nil {
			return i
		}
	}
	return -1
}

// ScanPast reads every frame from the start, as Scan does, for a reader
// that goes on past damage (fsck, and opening a repository to salvage
// it): a frame that cannot be read, or whose payload fn refuses with an
// error matching ErrCorrupt, is reported to damaged with the offset where
// the next frame starts, and the scan goes on from there. That is where
// the frame's header says when its checksum held (its length is right,
// only its content is damaged), else the next offset where a frame that
// checks out starts (the end of the data when none does). With tailOK
// (the newest segment), damage that Scan would take for a torn tail ends
// the scan instead, and its size is returned. Nothing is cut. Another
// error of fn, or a read error, ends the scan. The segment's logical end
// is set where the scan ended: the caller writes alone.
func (s *Segment) ScanPast(tailOK bool, fn func(off int64, payload []byte) error, damaged func(off, next int64, err error)) (torn int64, err error) {
	torn, end, err := s.scanPast(tailOK, fn, damaged)
	if err == nil {
		s.size = end
	}
	return torn, err
}

// CheckPast is ScanPast for readers (fsck's check of the log, beside
// other readers): it returns where the data ends, and leaves the
// segment's logical end as it was.
func (s *Segment) CheckPast(tailOK bool, fn func(off int64, payload []byte) error, damaged func(off, next int64, err error)) (torn, logicalEnd int64, err error) {
	return s.scanPast(tailOK, fn, damaged)
}

func (s *Segment) scanPast(tailOK bool, fn func(off int64, payload []byte) error, damaged func(off, next int64, err error)) (torn, logicalEnd int64, err error) {
	st, err := s.f.Stat()
	if err != nil {
		return 0, 0, err
	}
	end := st.Size()
	s.raiseAlloc(end)
	var rest []byte // the file from restOff, read once at the first damage
	var restOff int64
	off := int64(len(SegmentMagic))
	for off < end {
		if done, err := s.endsAt(off, end, true); err != nil {
			return 0, 0, err
		} else if done {
			break
		}
		payload, next, ferr := s.ReadFrame(off)
		var ce *contentError
		whole := ferr == nil || errors.As(ferr, &ce) // the checksum held
		if ferr == nil {
			if ferr = fn(off, payload); ferr == nil {
				off = next
				continue
			}
		}
		if !errors.Is(ferr, ErrCorrupt) {
			return 0, 0, ferr
		}
		if !whole {
			if rest == nil {
				restOff = off
				rest = make([]byte, end-off)
				if _, err := s.f.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
					return 0, 0, readError(s.Num, off, err)
				}
			}
			// A strict search first, then every offset below what it
			// found (a frame there ends before it: the search is short).
			from := int(off-restOff) + 1
			limit := len(rest)
			if i := nextWholeFrame(rest, from, limit, true); i >= 0 {
				limit = i
			}
			next = -1
			if i := nextWholeFrame(rest, from, limit, false); i >= 0 {
				next = restOff + int64(i)
			} else if limit < len(rest) {
				next = restOff + int64(limit)
			}
			if next < 0 && tailOK && off > int64(len(SegmentMagic)) && !s.writtenAfter(off, end) {
				return s.nonZeroExtent(off, end), off, nil
			}
			if next < 0 {
				next = end
			}
		}
		damaged(off, next, ferr)
		off = next
	}
	return 0, off, nil
}

// writtenAfter reports whether bytes were written after the damaged frame
// at off, as its header gives its length: then a later frame was
// appended, which happens only once this one was synced, so this one is
// damaged, not torn, even when the later one is damaged too. A torn write
// never reaches past its own frame, into the zeros the segment was
// preallocated with. Only a header that looks written whole counts: its
// checksum field is not zero (a sector never written reads as zeros), and
// its lengths fit a frame (rawLen 0, or more than size, as a compressed
// payload's is). A sector of garbage left by a power loss passes that
// with a chance of about one in a million, and then the repository is
// refused, never cut short.
func (s *Segment) writtenAfter(off, end int64) bool {
	var hdr [FrameHeaderSize]byte
	if _, err := s.f.ReadAt(hdr[:], off); errors.Is(err, io.EOF) {
		return false // the file ends inside the header: nothing after it
	} else if err != nil {
		return true // cannot tell: treat as corruption, never cut
	}
	h, err := parseFrameHeader(hdr[:])
	if err != nil || h.crc == 0 || (h.rawLen != 0 && h.rawLen <= h.size) {
		return false
	}
	after := off + FrameHeaderSize + int64(h.size)
	return after < end && s.nonZeroExtent(after, end) > 0
}

// Truncate cuts the file at the segment's logical end, dropping a torn
// tail or the preallocated zeros, and syncs.
func (s *Segment) Truncate() error {
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	s.alloc.Store(s.size)
	return s.f.Sync()
}

// CutTo takes back what was appended past off, the logical end before
// an append that failed (or whose sync did): the file is cut there and
// synced, so that the bytes of a write reported as failed are not read
// later as the torn tail a crash leaves. The segment may be appended to
// again once it succeeds.
func (s *Segment) CutTo(off int64) error {
	if err := s.f.Truncate(off); err != nil {
		return err
	}
	s.size = off
	s.alloc.Store(off)
	return s.f.Sync()
}

// ReaderAt exposes the file for readers that need raw access (fsck).
func (s *Segment) ReaderAt() io.ReaderAt { return s.f }
