package evgit

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An import checks its whole input in one transaction as it reads it,
// and every read of the Repository waited for that transaction: a
// service importing from a slow pipe could not answer a read until the
// input ended. Reads go on beside it now, seeing the history before the
// import, and the import still writes nothing until its input ends.
func TestReadsGoOnBesideAnImport(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("a", "Opened", `{"n":1}`)}, AppendOptions{})
	require.NoError(t, err)
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)

	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		_, err := r.Import(ctx, pr, ImportOptions{})
		done <- err
	}()
	_, err = pw.Write([]byte(`{"stream":"a","type":"Renamed","data":{"n":2}}` + "\n"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the import waits for more, its transaction open

	read := make(chan struct{})
	go func() {
		defer close(read)
		id, err := r.Resolve(ctx, "HEAD")
		assert.NoError(t, err)
		assert.Equal(t, head, id, "the import wrote nothing yet")
		st, err := r.State(ctx, "HEAD", "a", StateOptions{})
		if assert.NoError(t, err) {
			assert.Equal(t, uint64(1), st.Version)
		}
		n := 0
		for _, err := range r.Log(ctx, LogOptions{}) {
			assert.NoError(t, err)
			n++
		}
		assert.Equal(t, 1, n)
	}()
	select {
	case <-read:
	case <-time.After(20 * time.Second):
		t.Fatal("reads wait for the import's input")
	}

	_, err = pw.Write([]byte(`{"stream":"b","type":"Opened"}` + "\n"))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
	st, err := r.State(ctx, "HEAD", "a", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Version)
}
