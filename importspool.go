package evgit

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
)

// spoolMax is how many bytes of an input that is not all there (a pipe,
// a network stream) an import reads into memory before it takes the
// write lock; a variable so tests can make it small.
var spoolMax = 64 << 20

// spoolStep is the least an import asks a reader for at a time while it
// spools.
const spoolStep = 64 << 10

// spool reads an input that may not be all there yet into memory, to its
// end or spoolMax bytes, before an import takes the write lock, so that a
// producer that writes slowly keeps other writers waiting only once it
// has written that much. The import checks its whole input under the
// lock before writing anything (a bad last line refuses it all), and it
// read that input under the lock until now. A file, or bytes in memory,
// are all there and are read as they are: the lock is not held waiting
// for them.
//
// It returns a reader of the whole input: what it read, then the rest. A
// read that fails makes that reader fail there, as the input did.
// Cancelling ctx stops it at once; a read blocked at that moment is left
// to finish on a goroutine of its own, which then stops.
func spool(ctx context.Context, in io.Reader) (io.Reader, error) {
	switch x := in.(type) {
	case nil, *bytes.Reader, *strings.Reader, *bytes.Buffer:
		return in, nil
	case *os.File:
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			return in, nil
		}
	}
	type spooled struct {
		buf []byte
		err error // io.EOF at the input's end; nil when spoolMax was reached
	}
	done := make(chan spooled, 1)
	quit := make(chan struct{})
	go func() {
		rd := safeReader{in}
		var buf []byte
		for len(buf) < spoolMax {
			if cap(buf)-len(buf) < spoolStep {
				grown := make([]byte, len(buf), min(spoolMax, max(2*cap(buf), len(buf)+spoolStep)))
				copy(grown, buf)
				buf = grown
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			select {
			case <-quit:
				return
			default:
			}
			if err != nil {
				done <- spooled{buf, err}
				return
			}
		}
		done <- spooled{buf, nil}
	}()
	select {
	case s := <-done:
		switch s.err {
		case io.EOF:
			return bytes.NewReader(s.buf), nil
		case nil:
			return io.MultiReader(bytes.NewReader(s.buf), in), nil
		default:
			return io.MultiReader(bytes.NewReader(s.buf), errReader{s.err}), nil
		}
	case <-ctx.Done():
		close(quit)
		return nil, ctx.Err()
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
