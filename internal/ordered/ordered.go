// Package ordered runs reads on several goroutines and hands their
// results on in order.
package ordered

import (
	"sync"
	"sync/atomic"
)

// Read calls read(i) for each i in [0, n) and emit with each
// result in the order of i, until emit returns false or read fails: then
// it returns read's error, after emitting every result before it. With
// workers > 1 and more than one chunk of work, workers goroutines read
// chunks of chunk indexes each, at most workers+1 chunks ahead of emit,
// while the caller's goroutine emits: read must be safe to call
// concurrently, and may be called for indexes past where emit stopped
// (never more than those chunks), so it must have no effect a reader
// would miss. emit is called on the caller's goroutine only.
func Read[T any](n, chunk, workers int, read func(i int) (T, error), emit func(T) bool) error {
	if workers < 2 || n <= chunk {
		for i := range n {
			v, err := read(i)
			if err != nil {
				return err
			}
			if !emit(v) {
				return nil
			}
		}
		return nil
	}
	type result struct {
		vals []T
		err  error
	}
	chunks := (n + chunk - 1) / chunk
	out := make([]chan result, chunks)
	for c := range out {
		out[c] = make(chan result, 1)
	}
	var next atomic.Int64
	ahead := make(chan struct{}, workers+1) // a token for each chunk taken and not yet emitted
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case ahead <- struct{}{}:
				case <-done:
					return
				}
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				var res result
				for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
					select {
					case <-done:
						return
					default:
					}
					v, err := read(i)
					if err != nil {
						res.err = err
						break
					}
					res.vals = append(res.vals, v)
				}
				out[c] <- res
			}
		}()
	}
	for c := range chunks {
		res := <-out[c]
		<-ahead
		for _, v := range res.vals {
			if !emit(v) {
				return nil
			}
		}
		if res.err != nil {
			return res.err
		}
	}
	return nil
}
