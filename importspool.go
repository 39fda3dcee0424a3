package evgit

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// spoolMax is how many bytes of input lines an import holds, parsed,
// from an input that may not be all there (a pipe, a network stream)
// before it takes the write lock; a variable so tests can make it small.
// Held lines are not folded yet, so the more it holds of a fast
// producer's input, the less the parse and the fold overlap: holding 64
// MiB made a piped import of 1M events a third slower.
var spoolMax = 4 << 20

// spoolFast is the wait for a chunk of lines (parseChunkLines of them)
// under which the producer counts as fast: the import then takes the lock
// and reads the rest under it, as a file's, rather than hold more.
const spoolFast = 20 * time.Millisecond

// allThere reports whether in is all there to read: a regular file, or
// bytes in memory. An import reads any other input ahead, without the
// write lock (spoolChunks).
func allThere(in io.Reader) bool {
	switch x := in.(type) {
	case nil, *bytes.Reader, *strings.Reader, *bytes.Buffer:
		return true
	case *os.File:
		fi, err := x.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

// spoolChunks reads parsed chunks ahead of an import's check, which runs
// under the write lock, so that a producer that writes slowly keeps other
// writers waiting only once it has written spoolMax bytes of lines: it
// holds the chunks until the parser sends its last, a bad line or a
// failed read (the check reports it at once then), or spoolMax bytes of
// lines, and returns a channel that gives them again, then the rest as
// the parser sends them. The import read such an input under the lock
// until session 21.
//
// Cancelling ctx stops it at once, with ctx's error; stop ends the
// forwarding (call it when the import ends, as the parser's own stop).
func spoolChunks(ctx context.Context, chunks <-chan parsedChunk) (out <-chan parsedChunk, stop func(), err error) {
	var held []parsedChunk
	size := 0
	more := true
	for more && size < spoolMax {
		var c parsedChunk
		start := time.Now()
		select {
		case c, more = <-chunks:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if !more {
			break
		}
		held = append(held, c)
		if c.err != nil {
			break // the check reports it at once
		}
		for _, l := range c.lines {
			size += len(l.raw)
		}
		if len(held) > 1 && time.Since(start) < spoolFast {
			break // a fast producer: nobody waits long for it
		}
	}
	ch := make(chan parsedChunk, len(held)+1)
	for _, c := range held {
		ch <- c
	}
	if !more || held[len(held)-1].err != nil {
		close(ch)
		return ch, func() {}, nil
	}
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for c := range chunks {
			select {
			case ch <- c:
			case <-done:
				return
			}
		}
	}()
	return ch, sync.OnceFunc(func() { close(done) }), nil
}
