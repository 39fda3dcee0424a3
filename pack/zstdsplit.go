package pack

import (
	"encoding/binary"
	"errors"
)

// A compressed payload is zstd frames back to back (compress, Compress):
// a large one in parts, and a large commit's snapshot tree in a part of
// its own. A reader that wants an entry near the start decodes only the
// parts up to it (Frame), so it finds where each part ends from the zstd
// headers (RFC 8878, §3.1.1), without decoding.

var errZstdLayout = errors.New("zstd frame layout not understood")

// zstdPart is one zstd frame of a payload and the bytes it decompresses
// to, -1 when its header does not say.
type zstdPart struct {
	b    []byte
	size int
}

// zstdParts splits b, zstd frames back to back, into its frames. It
// fails on anything it does not follow; the caller then decodes b whole,
// which reports real damage.
func zstdParts(b []byte) ([]zstdPart, error) {
	var parts []zstdPart
	for len(b) > 0 {
		n, size, err := zstdFrameLen(b)
		if err != nil {
			return nil, err
		}
		parts = append(parts, zstdPart{b[:n:n], size})
		b = b[n:]
	}
	return parts, nil
}

// zstdFrameLen returns the length of the zstd frame (or skippable frame)
// that b starts with, and its content size (-1: not given).
func zstdFrameLen(b []byte) (n, size int, err error) {
	if len(b) < 4 {
		return 0, 0, errZstdLayout
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic&0xFFFFFFF0 == 0x184D2A50 { // a skippable frame
		if len(b) < 8 {
			return 0, 0, errZstdLayout
		}
		n := 8 + int(binary.LittleEndian.Uint32(b[4:]))
		if n > len(b) || n < 8 {
			return 0, 0, errZstdLayout
		}
		return n, 0, nil
	}
	if magic != 0xFD2FB528 || len(b) < 5 {
		return 0, 0, errZstdLayout
	}
	fhd := b[4]
	if fhd&0x08 != 0 { // reserved bit
		return 0, 0, errZstdLayout
	}
	single := fhd&0x20 != 0
	off := 5
	if !single {
		off++ // window descriptor
	}
	off += [4]int{0, 1, 2, 4}[fhd&0x03] // dictionary ID
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && single {
		fcs = 1
	}
	size = -1
	if p := off; p+fcs <= len(b) {
		switch fcs {
		case 1:
			size = int(b[p])
		case 2:
			size = int(binary.LittleEndian.Uint16(b[p:])) + 256
		case 4:
			size = int(binary.LittleEndian.Uint32(b[p:]))
		case 8:
			if v := binary.LittleEndian.Uint64(b[p:]); v <= MaxFramePayload {
				size = int(v)
			}
		}
	}
	off += fcs
	for {
		if off+3 > len(b) {
			return 0, 0, errZstdLayout
		}
		h := int(b[off]) | int(b[off+1])<<8 | int(b[off+2])<<16
		off += 3
		size := h >> 3
		switch (h >> 1) & 3 {
		case 0, 2: // raw, compressed
			off += size
		case 1: // RLE: one byte repeated
			off++
		default:
			return 0, 0, errZstdLayout
		}
		if off > len(b) {
			return 0, 0, errZstdLayout
		}
		if h&1 != 0 { // the last block
			break
		}
	}
	if fhd&0x04 != 0 { // content checksum
		off += 4
	}
	if off > len(b) {
		return 0, 0, errZstdLayout
	}
	return off, size, nil
}
