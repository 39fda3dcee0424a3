package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"sync"

	"github.com/evgit/evgit/object"
)

// Spill is a scratch file for bytes an import holds until the end of its
// dry run, when nothing may be written yet: the compressed frames of the
// batches built ahead, and the input lines a batch may have to be read
// again from. Spilling them bounds the import's memory by its states,
// not its input. The file is removed as soon as it is made, so a crash
// leaves nothing behind, and nothing in the repository ever names it.
// Its bytes are checked when read back: a damaged span is an error, not
// data.
type Spill struct {
	mu  sync.Mutex
	f   *os.File
	end int64
}

// SpillSpan is where Spill.Append put some bytes, with their checksum.
type SpillSpan struct {
	off int64
	n   int
	sum uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewSpill makes a spill file in the repository's folder, which holds
// the store, so that what an import sets aside stays on its disk and
// counts against its space.
func (s *Store) NewSpill() (*Spill, error) {
	f, err := os.CreateTemp(s.dir, "import-*.spill")
	if err != nil {
		return nil, fmt.Errorf("import: scratch file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("import: scratch file: %w", err)
	}
	return &Spill{f: f}, nil
}

// Append adds b at the end of the file. It may be called from several
// goroutines.
func (sp *Spill) Append(b []byte) (SpillSpan, error) {
	sp.mu.Lock()
	if sp.f == nil {
		sp.mu.Unlock()
		return SpillSpan{}, errSpillClosed
	}
	off := sp.end
	sp.end += int64(len(b))
	f := sp.f
	sp.mu.Unlock()
	if _, err := f.WriteAt(b, off); err != nil {
		return SpillSpan{}, fmt.Errorf("import: scratch file: %w", err)
	}
	return SpillSpan{off: off, n: len(b), sum: crc32.Checksum(b, castagnoli)}, nil
}

// Read reads a span back into buf, grown as needed, and checks it.
func (sp *Spill) Read(span SpillSpan, buf []byte) ([]byte, error) {
	sp.mu.Lock()
	f := sp.f
	sp.mu.Unlock()
	if f == nil {
		return nil, errSpillClosed
	}
	if cap(buf) < span.n {
		buf = make([]byte, span.n)
	}
	buf = buf[:span.n]
	if _, err := f.ReadAt(buf, span.off); err != nil {
		return nil, fmt.Errorf("import: scratch file: %w", err)
	}
	if crc32.Checksum(buf, castagnoli) != span.sum {
		return nil, fmt.Errorf("import: scratch file: %d bytes at %d read back damaged", span.n, span.off)
	}
	return buf, nil
}

// Close closes the file, which frees its space. Spans appended are
// unreadable after.
func (sp *Spill) Close() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	sp.f = nil
	return err
}

var errSpillClosed = errors.New("import: scratch file closed")

// SpillFrame moves a sealed transaction's frame, and the IDs of its
// objects, to sp, which it reads back when it is written
// (UpdatePrepared).
func (tx *Tx) SpillFrame(sp *Spill) error {
	if !tx.sealed || tx.frame == nil {
		return errors.New("store: SpillFrame of a transaction not sealed")
	}
	frame := tx.frame
	buf := slices.Grow(frame, len(tx.sealedObjs)*sealedObjSize)
	for _, o := range tx.sealedObjs {
		buf = append(buf, o.id[:]...)
		buf = binary.LittleEndian.AppendUint32(buf, o.slot)
	}
	span, err := sp.Append(buf)
	if err != nil {
		return err
	}
	buf = buf[:0]
	detachedFrames.Put(&buf)
	tx.spill, tx.spilled, tx.spilledFrame = sp, span, len(frame)
	tx.frame, tx.sealedObjs = nil, nil
	return nil
}

// sealedObjSize is the bytes a spilled sealedObj takes: its ID, then its
// slot as four bytes, little-endian.
const sealedObjSize = object.IDSize + 4

// FrameSize returns the size of a sealed transaction's frame, in memory
// or spilled.
func (tx *Tx) FrameSize() int {
	if tx.spill != nil {
		return tx.spilledFrame
	}
	return len(tx.frame)
}

// unspill reads a spilled frame and its objects' IDs back.
func (tx *Tx) unspill() error {
	if tx.spill == nil {
		return nil
	}
	var buf []byte
	if b, ok := detachedFrames.Get().(*[]byte); ok {
		buf = *b
	}
	buf, err := tx.spill.Read(tx.spilled, buf)
	if err != nil {
		return err
	}
	ids := buf[tx.spilledFrame:]
	if len(ids)%sealedObjSize != 0 {
		return fmt.Errorf("import: scratch file: a frame's objects take %d bytes", len(ids))
	}
	tx.sealedObjs = make([]sealedObj, len(ids)/sealedObjSize)
	for i := range tx.sealedObjs {
		b := ids[i*sealedObjSize:]
		tx.sealedObjs[i] = sealedObj{id: object.ID(b[:object.IDSize]), slot: binary.LittleEndian.Uint32(b[object.IDSize:])}
	}
	tx.frame, tx.spill = buf[:tx.spilledFrame], nil
	return nil
}
