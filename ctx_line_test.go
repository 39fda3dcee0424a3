package evgit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cancelledWithin is a context that reads as cancelled only to a caller
// whose stack holds fn: so a test can cancel one phase of a call, and no
// other.
type cancelledWithin struct {
	context.Context
	fn string
}

func (c cancelledWithin) Err() error {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, c.fn) {
			return context.Canceled
		}
		if !more {
			return nil
		}
	}
}

// The line index that Events, Aggregate.Load and a log with versions
// build, and the walk of State with a Version, stop when the caller's
// context is cancelled. Found by a helper's audit: they ran under
// context.Background, so a deadline waited for the whole line (0.3 s on
// 100,000 commits).
func TestLineIndexBuildHonoursTheContext(t *testing.T) {
	dir := t.TempDir()
	r, _, err := Init(context.Background(), dir, InitOptions{})
	require.NoError(t, err)
	var in strings.Builder
	for i := range 2100 {
		fmt.Fprintf(&in, `{"stream":"s%d","type":"T","data":{"i":%d}}`+"\n", i%3, i)
	}
	importString(t, r, in.String(), ImportOptions{})
	require.NoError(t, r.Close())

	building := cancelledWithin{context.Background(), "evgit.(*lineIndex).coverWithin"}
	walking := cancelledWithin{context.Background(), "evgit.(*loader).load"}
	agg := &Aggregate[int]{Name: "n", Version: 1, Handlers: map[string]Reducer[int]{
		"T": func(s int, _ *RecordedEvent) (int, error) { return s + 1, nil },
	}}
	for name, c := range map[string]struct {
		cancelled context.Context
		call      func(ctx context.Context, r *Repository) error
	}{
		"Events": {building, func(ctx context.Context, r *Repository) error {
			for _, err := range r.Events(ctx, "HEAD", "s1", EventsOptions{}) {
				return err
			}
			return nil
		}},
		"Aggregate.Load": {building, func(ctx context.Context, r *Repository) error {
			_, err := agg.Load(ctx, r, "HEAD", "s1", StateOptions{})
			return err
		}},
		"State with a Version": {walking, func(ctx context.Context, r *Repository) error {
			_, err := r.State(ctx, "HEAD", "s1", StateOptions{Version: 3})
			return err
		}},
		"Log with Versions": {building, func(ctx context.Context, r *Repository) error {
			for _, err := range r.Log(ctx, LogOptions{Versions: true, Stream: "s1"}) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		// A line cache file saved by an earlier Close would spare the
		// walk.
		require.NoError(t, os.RemoveAll(filepath.Join(dir, ".evgit", lineCacheName)))
		r, err := Open(context.Background(), dir+"/.evgit")
		require.NoError(t, err)
		assert.ErrorIs(t, c.call(c.cancelled, r), context.Canceled, name)
		// The same call with a live context reads it.
		assert.NoError(t, c.call(context.Background(), r), name)
		require.NoError(t, r.Close())
	}
}
