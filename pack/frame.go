package pack

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/evgit/evgit/object"
)

// ErrCorrupt is returned when a segment, pack or index is damaged: a
// checksum does not match, a length points outside the file, or an entry
// does not parse. Damaged bytes are never returned as data. It is
// object.ErrCorrupt, so one test covers every layer.
var ErrCorrupt = object.ErrCorrupt

// Frame layout, part of the format (docs/format.md):
//
//	[4] payload length on disk, little-endian
//	[4] uncompressed length; 0 when the payload is stored as is
//	[4] CRC-32C of bytes 0..8 and the payload
//	[n] payload: entries, zstd-compressed when the second field is not 0
const (
	FrameHeaderSize = 12
	// MaxFramePayload bounds one frame, compressed or not, so a damaged
	// length cannot make a reader allocate without limit.
	MaxFramePayload = 256 << 20
	// compressMin is the smallest payload worth compressing.
	compressMin = 512
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// LastFrameHeader returns the stored payload size and CRC of the last of
// the whole frames, back to back, that frames holds; ok is false when it
// holds none, or ends inside one.
func LastFrameHeader(frames []byte) (size, crc uint32, ok bool) {
	for off := 0; off+FrameHeaderSize <= len(frames); {
		n := binary.LittleEndian.Uint32(frames[off:])
		next := off + FrameHeaderSize + int(n)
		if n > MaxFramePayload || next > len(frames) {
			return 0, 0, false
		}
		size, crc, ok = n, binary.LittleEndian.Uint32(frames[off+8:]), next == len(frames)
		off = next
	}
	return size, crc, ok
}

// FrameEndsAt reports whether a frame with the given stored payload size
// and CRC, as its header says them, ends at offset end of r. It reads
// that header alone: the frames of a segment are checked as they are
// scanned.
func FrameEndsAt(r io.ReaderAt, end int64, size, crc uint32) bool {
	start := end - FrameHeaderSize - int64(size)
	if start < int64(len(SegmentMagic)) {
		return false
	}
	var hdr [FrameHeaderSize]byte
	if n, _ := r.ReadAt(hdr[:], start); n < FrameHeaderSize {
		return false
	}
	return binary.LittleEndian.Uint32(hdr[0:]) == size && binary.LittleEndian.Uint32(hdr[8:]) == crc
}

// AppendFrame appends a frame holding payload to dst, compressing the
// payload when that makes it smaller. tight picks the slower, stronger
// encoder gc uses for packs; the append path uses the fast one.
func AppendFrame(dst, payload []byte, tight bool) []byte {
	return appendFrame(dst, payload, tight, nil)
}

// AppendFrameSplit is AppendFrame for the append path, with the payload
// compressed as two runs of zstd frames, cut at offset at (no cut when at
// is 0): a reader decompresses a frame's parts only as far as the entry
// it reads (Frame), so entries before the cut are read without
// decompressing those after (Payload.TreesAt).
func AppendFrameSplit(dst, payload []byte, at int) []byte {
	if at <= 0 || at >= len(payload) {
		return AppendFrame(dst, payload, false)
	}
	return appendFrame(dst, payload, false, []Compressed{Compress(payload[:at], 0)})
}

// Compressed is a piece of a payload compressed ahead of the rest
// (Compress): the bytes up to offset N, from where the piece before ended,
// as zstd frames.
type Compressed struct {
	N    int    // the payload offset where the piece ends
	Zstd []byte // the piece's bytes, from where the piece before ended, as zstd frames
}

// Compress compresses start[from:], the piece of a payload's start after
// a piece that ended at from, as the append path would, so that a frame
// of the whole payload need only compress the rest.
func Compress(start []byte, from int) Compressed {
	return Compressed{N: len(start), Zstd: compress(zstdEncoder(), nil, start[from:])}
}

// AppendFrameAhead appends a frame holding payload, whose start was
// compressed ahead in pieces (Compress), in order: it compresses only the
// rest, and the frame's zstd frames are the pieces' followed by the
// rest's, which read back as the whole payload.
func AppendFrameAhead(dst, payload []byte, ahead []Compressed) []byte {
	return appendFrame(dst, payload, false, ahead)
}

func appendFrame(dst, payload []byte, tight bool, ahead []Compressed) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, FrameHeaderSize)...)
	rawLen := 0
	if len(payload) >= compressMin {
		enc := zstdEncoder()
		if tight {
			enc = zstdPackEncoder()
		}
		done := 0
		for _, a := range ahead {
			dst = append(dst, a.Zstd...)
			done = a.N
		}
		if rest := payload[done:]; len(rest) > 0 {
			dst = compress(enc, dst, rest)
		}
		if n := len(dst) - start - FrameHeaderSize; n < len(payload)-len(payload)/16 {
			rawLen = len(payload)
		} else {
			dst = dst[:start+FrameHeaderSize]
		}
	}
	if rawLen == 0 {
		dst = append(dst, payload...)
	}
	h := dst[start : start+FrameHeaderSize]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(dst)-start-FrameHeaderSize))
	binary.LittleEndian.PutUint32(h[4:], uint32(rawLen))
	crc := crc32.Update(0, castagnoli, h[:8])
	crc = crc32.Update(crc, castagnoli, dst[start+FrameHeaderSize:])
	binary.LittleEndian.PutUint32(h[8:], crc)
	return dst
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	size   uint32 // payload bytes on disk
	rawLen uint32 // uncompressed length, 0 if stored
	crc    uint32
}

func parseFrameHeader(b []byte) (frameHeader, error) {
	h := frameHeader{
		size:   binary.LittleEndian.Uint32(b[0:]),
		rawLen: binary.LittleEndian.Uint32(b[4:]),
		crc:    binary.LittleEndian.Uint32(b[8:]),
	}
	if h.size > MaxFramePayload || h.rawLen > MaxFramePayload {
		return h, fmt.Errorf("%w: frame length %d out of range", ErrCorrupt, h.size)
	}
	return h, nil
}

// checkFrame verifies the CRC of a frame whose header and payload were read.
func (h frameHeader) check(hdr, payload []byte) error {
	crc := crc32.Update(0, castagnoli, hdr[:8])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != h.crc {
		return fmt.Errorf("%w: frame checksum mismatch", ErrCorrupt)
	}
	return nil
}

// decodePayload returns the uncompressed payload of a checked frame.
func (h frameHeader) decodePayload(payload []byte) ([]byte, error) {
	if h.rawLen == 0 {
		return payload, nil
	}
	out, err := zstdDecoder().DecodeAll(payload, make([]byte, 0, h.rawLen))
	if err != nil {
		return nil, fmt.Errorf("%w: frame does not decompress: %v", ErrCorrupt, err)
	}
	if len(out) != int(h.rawLen) {
		return nil, fmt.Errorf("%w: frame decompressed to %d bytes, want %d", ErrCorrupt, len(out), h.rawLen)
	}
	return out, nil
}
