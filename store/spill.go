package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// Spill is a scratch file for bytes an import holds until the end of its
// dry run, when nothing may be written yet: the compressed frames of the
// batches built ahead, and the input lines a batch may have to be read
// again from. Setting them aside keeps those two from growing the
// import's memory with its input. The file is made in the log folder
// under a temporary name (which Open removes once its process is gone,
// and gc always) and removed at once, so nothing names it after that
// instant. Its bytes are checked when read back: a damaged span is an
// error, not data.
type Spill struct {
	mu  sync.Mutex
	f   pack.File
	end int64
}

// SpillSpan is where Spill.Append put some bytes, with their checksum.
type SpillSpan struct {
	off int64
	n   int
	sum uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewSpill makes a spill file in the repository's log folder, so that
// what an import sets aside stays on the repository's disk.
func (s *Store) NewSpill() (*Spill, error) {
	name := filepath.Join(s.logDir, tempName("import.spill"))
	f, err := s.fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: spill file: %w", err)
	}
	// gc may have removed it already: it removes every temporary file.
	if err := s.fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.Close()
		return nil, fmt.Errorf("store: spill file: %w", err)
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
		return SpillSpan{}, fmt.Errorf("store: spill file: %w", err)
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
		return nil, fmt.Errorf("store: spill file: %w", err)
	}
	if crc32.Checksum(buf, castagnoli) != span.sum {
		return nil, fmt.Errorf("store: spill file: %d bytes at %d read back damaged", span.n, span.off)
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

var errSpillClosed = errors.New("store: spill file closed")

// SpillFrame moves a sealed transaction's frame, and the IDs of its
// objects, to sp, which it reads back when it is written
// (UpdatePrepared).
func (tx *Tx) SpillFrame(sp *Spill) error {
	switch {
	case tx.spill != nil:
		return errors.New("store: SpillFrame of a transaction set aside already")
	case !tx.sealed || tx.frame == nil:
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

// SealedSize returns the bytes a sealed transaction holds in memory
// until it is written: its frame and its objects' IDs; none once they
// were set aside.
func (tx *Tx) SealedSize() int {
	if tx.spill != nil {
		return 0
	}
	return len(tx.frame) + len(tx.sealedObjs)*sealedObjSize
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
		return fmt.Errorf("store: spill file: a frame's objects take %d bytes", len(ids))
	}
	tx.sealedObjs = make([]sealedObj, len(ids)/sealedObjSize)
	for i := range tx.sealedObjs {
		b := ids[i*sealedObjSize:]
		tx.sealedObjs[i] = sealedObj{id: object.ID(b[:object.IDSize]), slot: binary.LittleEndian.Uint32(b[object.IDSize:])}
	}
	tx.frame, tx.spill = buf[:tx.spilledFrame], nil
	return nil
}
