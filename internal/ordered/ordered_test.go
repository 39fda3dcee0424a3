package ordered

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Read emits every result once, in order, whatever the workers,
// the chunk size and the order reads finish in.
func TestReadEmitsInOrder(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		for _, workers := range []int{1, 2, 4} {
			for _, chunk := range []int{1, 7, 64} {
				var got []int
				err := Read(n, chunk, workers, func(i int) (int, error) {
					if i%5 == 0 {
						time.Sleep(time.Microsecond * time.Duration(i%3))
					}
					return i * 2, nil
				}, func(v int) bool {
					got = append(got, v)
					return true
				})
				require.NoError(t, err)
				want := make([]int, n)
				for i := range want {
					want[i] = i * 2
				}
				require.Equal(t, want, append([]int{}, got...), "n %d workers %d chunk %d", n, workers, chunk)
			}
		}
	}
}

// With two workers, two chunks are read at once: the first read waits
// for one of the second chunk to start.
func TestReadReadsChunksAtOnce(t *testing.T) {
	started := make(chan struct{})
	var once atomic.Bool
	err := Read(20, 10, 2, func(i int) (int, error) {
		switch {
		case i == 0:
			select {
			case <-started:
			case <-time.After(30 * time.Second):
				return 0, errors.New("the second chunk never started while the first was read")
			}
		case i >= 10 && once.CompareAndSwap(false, true):
			close(started)
		}
		return i, nil
	}, func(int) bool { return true })
	require.NoError(t, err)
}

// Stopped by emit, it returns with no read running, having read at most
// the chunks ahead of emit; a failed read ends it after the results
// before it, even when a later read failed first.
func TestReadStops(t *testing.T) {
	const n, chunk, workers = 10000, 16, 2
	var running, maxRead atomic.Int64
	read := func(i int) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRead.Load()
			if int64(i) <= m || maxRead.CompareAndSwap(m, int64(i)) {
				break
			}
		}
		return i, nil
	}
	var got []int
	err := Read(n, chunk, workers, read, func(v int) bool {
		got = append(got, v)
		return v < 100
	})
	require.NoError(t, err)
	assert.Len(t, got, 101)
	assert.Zero(t, running.Load(), "no read left running")
	assert.Less(t, maxRead.Load(), int64((100/chunk+workers+2)*chunk), "read at most a few chunks ahead")

	for _, workers := range []int{1, 2, 4} {
		got = got[:0]
		err = Read(n, chunk, workers, func(i int) (int, error) {
			switch {
			case i == 500:
				time.Sleep(5 * time.Millisecond)
				return 0, fmt.Errorf("read %d failed", i)
			case i > 500 && i%chunk == 3:
				return 0, fmt.Errorf("read %d failed", i)
			}
			return i, nil
		}, func(v int) bool {
			got = append(got, v)
			return true
		})
		require.EqualError(t, err, "read 500 failed", "workers %d", workers)
		require.Len(t, got, 500, "workers %d", workers)
		assert.Equal(t, 499, got[499])
	}
}
