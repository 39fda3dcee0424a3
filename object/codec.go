package object

import (
	"encoding/binary"
	"fmt"
)

// encoder appends the primitives of the canonical encodings.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) id(v ID)          { e.b = append(e.b, v[:]...) }
func (e *encoder) bytes(v []byte) {
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) string(v string) {
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) ids(v []ID) {
	e.uvarint(uint64(len(v)))
	for _, id := range v {
		e.id(id)
	}
}

// decoder reads what encoder wrote and remembers the first error: every
// read after a failure returns zero values, so decode functions check once.
type decoder struct {
	b   []byte
	err error
	// what names the object kind in error messages.
	what string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrCorrupt, d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left, given a minimum
// size per element, so a hostile length cannot make us allocate.
func (d *decoder) count(elem int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if elem < 1 {
		elem = 1
	}
	if n > uint64(len(d.b)/elem) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) id() ID {
	var v ID
	if d.err != nil || len(d.b) < IDSize {
		d.fail("truncated ID")
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[IDSize:]
	return v
}

func (d *decoder) ids() []ID {
	n := d.count(IDSize)
	if d.err != nil || n == 0 {
		return nil
	}
	v := make([]ID, n)
	for i := range v {
		v[i] = d.id()
	}
	return v
}

// end fails unless every byte was consumed: a canonical encoding has no
// trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
