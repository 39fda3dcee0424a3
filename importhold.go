package evgit

import (
	"bytes"
	"sync"

	"github.com/evgit/evgit/store"
)

// importHoldMax is how many bytes of frames built ahead and of input
// lines an import holds in memory until its dry run ends; what comes
// after goes to a spill file. Enough for the 100k-event import to stay
// in memory (about 36 MB), so that small imports never touch the disk
// before they write; a variable so tests can make it small.
var importHoldMax = 64 << 20

// importHold counts the bytes an import holds for its write phase, and
// sets aside in a spill file those past importHoldMax, which it makes on
// first need. Its methods may be called from several goroutines (the
// dry run and the preparer).
type importHold struct {
	st      *store.Store
	mu      sync.Mutex
	held    int
	spill   *store.Spill
	spilled int // spans set aside
}

// take counts n more bytes and returns the spill file they go to, or
// nil when they may stay in memory.
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
	h.spilled++
	return h.spill, nil
}

// importHoldClosed, when a test sets it, is told how many spans each
// import set aside.
var importHoldClosed func(spilled int)

// close removes the spill file, once nothing will read it.
func (h *importHold) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if importHoldClosed != nil {
		importHoldClosed(h.spilled)
	}
	if h.spill != nil {
		h.spill.Close()
	}
}

// spillLines sets a batch's input lines aside, when the import holds
// enough already: one span of the lines, each ending in '\n'.
func (h *importHold) spillLines(b *importBatchSpan) error {
	n := 0
	for _, l := range b.raw {
		n += len(l)
	}
	sp, err := h.take(n)
	if sp == nil || err != nil {
		return err
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
	return nil
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

// spillFrame sets a sealed batch's frame aside, when the import holds
// enough already.
func (h *importHold) spillFrame(tx *store.Tx) error {
	sp, err := h.take(tx.FrameSize())
	if sp == nil || err != nil {
		return err
	}
	return tx.SpillFrame(sp)
}
