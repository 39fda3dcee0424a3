package evgit

import (
	"bytes"
	"sync"

	"github.com/evgit/evgit/store"
)

// importHoldMax is how many bytes of frames built ahead (with their
// objects' IDs) and of input lines an import holds in memory while they
// wait to be written; past it they go to a spill file. Enough for the
// 100k-event import to stay in memory (about 36 MB), so that small
// imports never touch the disk before they write; a variable so tests
// can make it small.
var importHoldMax = 64 << 20

// importHold counts the bytes an import holds for its write phase, and
// sets aside in a spill file those past importHoldMax, which it makes on
// first need. Its methods may be called from several goroutines (the
// dry run, the preparer, the writes).
type importHold struct {
	st    *store.Store
	mu    sync.Mutex
	held  int
	spill *store.Spill
	stats importStats
}

// importStats are what an import set aside and how far the batches
// waiting for its preparer went, for tests.
type importStats struct {
	frames, lines int // spans set aside
	queuePeak     int // bytes of input lines
}

// take counts n more bytes and returns the spill file they go to, or
// nil when they may stay in memory, counted until release.
func (h *importHold) take(n int) (*store.Spill, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held+n <= importHoldMax {
		h.held += n
		return nil, nil
	}
	if h.spill == nil {
		sp, err := h.st.NewSpill()
		if err != nil {
			return nil, err
		}
		h.spill = sp
	}
	return h.spill, nil
}

// release uncounts n bytes that take let stay in memory, once they are
// written or dropped.
func (h *importHold) release(n int) {
	h.mu.Lock()
	h.held -= n
	h.mu.Unlock()
}

// note records stats under the lock.
func (h *importHold) note(f func(*importStats)) {
	h.mu.Lock()
	f(&h.stats)
	h.mu.Unlock()
}

// importHoldClosed, when a test sets it, is told each import's stats.
var importHoldClosed func(importStats)

// close removes the spill file, once nothing will read it.
func (h *importHold) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if importHoldClosed != nil {
		importHoldClosed(h.stats)
	}
	if h.spill != nil {
		h.spill.Close()
	}
}

// holdLines keeps a batch's input lines in memory, counted, or sets them
// aside when the import holds enough already: one span of the lines,
// each ending in '\n'.
func (h *importHold) holdLines(b *importBatchSpan) error {
	n := 0
	for _, l := range b.raw {
		n += len(l)
	}
	sp, err := h.take(n)
	if err != nil {
		return err
	}
	if sp == nil {
		b.rawHeld = n
		return nil
	}
	buf := make([]byte, 0, n)
	for _, l := range b.raw {
		buf = append(buf, l...)
	}
	span, err := sp.Append(buf)
	if err != nil {
		return err
	}
	b.raw, b.rawSpill, b.rawSpan = nil, sp, span
	h.note(func(s *importStats) { s.lines++ })
	return nil
}

// dropLines lets go of a batch's lines, landed and needed no more.
func (h *importHold) dropLines(b *importBatchSpan) {
	h.release(b.rawHeld)
	b.raw, b.rawHeld, b.rawSpill = nil, 0, nil
}

// lines returns a batch's input lines, read back from the spill file
// when they were set aside.
func (b *importBatchSpan) lines() ([][]byte, error) {
	if b.rawSpill == nil {
		return b.raw, nil
	}
	buf, err := b.rawSpill.Read(b.rawSpan, nil)
	if err != nil {
		return nil, err
	}
	lines := make([][]byte, 0, bytes.Count(buf, []byte{'\n'}))
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		lines = append(lines, buf[:i+1:i+1])
		buf = buf[i+1:]
	}
	return lines, nil
}

// holdFrame keeps a sealed batch in memory, counted, or sets its frame
// aside when the import holds enough already; it returns the bytes
// counted, for release once the batch is written.
func (h *importHold) holdFrame(tx *store.Tx) (int, error) {
	n := tx.SealedSize()
	sp, err := h.take(n)
	switch {
	case err != nil:
		return 0, err
	case sp == nil:
		return n, nil
	}
	if err := tx.SpillFrame(sp); err != nil {
		return 0, err
	}
	h.note(func(s *importStats) { s.frames++ })
	return 0, nil
}
