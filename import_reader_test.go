package evgit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// panickingReader panics on its first read.
type panickingReader struct{}

func (panickingReader) Read([]byte) (int, error) { panic("reader broke") }

// What an import's reader does wrong is reported as what it is, and
// nothing is written (a helper's audit of the library): a read that
// failed in the middle of a line read as that line's bad JSON; a nil
// reader or one that panicked crashed the program on a goroutine of the
// import's own.
func TestImportReaderFailures(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	boom := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader(`{"stream":"a","type":"X"}`+"\n"+`{"stream":"b","ty`), failingReader{boom})
	_, err := r.Import(ctx, in, ImportOptions{})
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrInvalid, "not the line's fault")
	assert.ErrorContains(t, err, "reading the input")
	_, err = ReadLines(io.MultiReader(strings.NewReader(`{"stream":"b","ty`), failingReader{boom}), false)
	require.ErrorIs(t, err, boom)

	// The same line at a clean end of the input is the line's fault; a
	// whole last line without a newline is taken.
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"a","type":"X"}`+"\n"+`{"stream":"b","ty`), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "line 2:")

	_, err = r.Import(ctx, nil, ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = r.Import(ctx, panickingReader{}, ImportOptions{})
	require.ErrorContains(t, err, "the reader panicked: reader broke")
	_, err = r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "nothing written")

	res, err := r.Import(ctx, strings.NewReader(`{"stream":"a","type":"X"}`+"\n"+`{"stream":"b","type":"X"}`), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Events)
	// Nor does Export panic with no writer.
	require.ErrorIs(t, r.Export(ctx, nil, ExportOptions{}), ErrInvalid)
}

// An import cancelled while its producer is quiet returned only once the
// producer wrote again (a helper's audit of the library). Now it stops at
// once, writes nothing, and the next writer goes on.
func TestImportCancelledWhileItsInputIsQuiet(t *testing.T) {
	r := newRepo(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Import(ctx, pr, ImportOptions{})
		done <- err
	}()
	_, err := pw.Write([]byte(`{"stream":"p","type":"X"}` + "\n"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the import waits for more under the lock
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled import still waits for its input")
	}
	_, err = r.Append(context.Background(), []EventInput{ev("a", "X", `{}`)}, AppendOptions{})
	require.NoError(t, err)
	n := 0
	for _, err := range r.Log(context.Background(), LogOptions{}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 1, n, "nothing of the import written")
}

// An import stopped once some of its batches landed returns them with
// its error: the commits the branch holds of the input, and its head.
// It returned no result, so a caller could not say what it had done.
func TestImportStoppedReturnsWhatLanded(t *testing.T) {
	r := newRepo(t)
	var in strings.Builder
	for i := range 3 * importBatchCommits {
		fmt.Fprintf(&in, `{"stream":"s%d","type":"X","data":{"i":%d}}`+"\n", i%7, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Progress: func(done, total int) {
		if done >= importBatchCommits {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	n := 0
	for _, err := range r.Log(context.Background(), LogOptions{}) {
		require.NoError(t, err)
		n++
	}
	assert.Positive(t, res.Commits)
	assert.Less(t, res.Commits, 3*importBatchCommits)
	assert.Equal(t, n, res.Commits, "what the result says landed")
	assert.Equal(t, res.Commits, res.Events)
	head, err := r.Resolve(context.Background(), "HEAD")
	require.NoError(t, err)
	assert.Equal(t, head, res.Head)

	// Stopped before anything landed: no result.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	res, err = r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, res)
}

// An import reads an input that may not be all there (a pipe) before it
// takes the write lock, up to spoolMax bytes: other writers go on while
// its producer is quiet. It read such an input under the lock, so a
// producer that wrote one line a minute stopped every writer for as long.
func TestImportFromAQuietPipeLetsWritersGoOn(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	pr, pw := io.Pipe()
	done := make(chan *ImportResult, 1)
	go func() {
		res, err := r.Import(ctx, pr, ImportOptions{})
		assert.NoError(t, err)
		done <- res
	}()
	_, err := pw.Write([]byte(`{"stream":"p","type":"X"}` + "\n"))
	require.NoError(t, err)
	appended := make(chan error, 1)
	go func() {
		_, err := r.Append(ctx, []EventInput{ev("a", "X", `{}`)}, AppendOptions{})
		appended <- err
	}()
	select {
	case err := <-appended:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		pw.Close() // let the import end, and the append after it
		t.Fatal("an append waited for the import's quiet producer")
	}
	_, err = pw.Write([]byte(`{"stream":"q","type":"X"}` + "\n"))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	res := <-done
	assert.Equal(t, 2, res.Commits)
	assert.Equal(t, []string{"a|X|{}", "p|X|{}", "q|X|{}"}, lineOf(t, r, "HEAD"))

	// Past spoolMax, the rest is read under the lock, as before, and
	// the whole input is imported.
	old := spoolMax
	spoolMax = 100
	t.Cleanup(func() { spoolMax = old })
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, `{"stream":"s%d","type":"X"}`+"\n", i)
	}
	res, err = r.Import(ctx, io.MultiReader(strings.NewReader(in.String())), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 50, res.Commits)
}

// badCountReader returns its text, then a count past the buffer.
type badCountReader struct {
	text string
	n    int // the count once the text is read
}

func (b *badCountReader) Read(p []byte) (int, error) {
	if b.text != "" {
		n := copy(p, b.text)
		b.text = b.text[n:]
		return n, nil
	}
	return b.n, nil
}

// What a helper's review of the first spool (of raw bytes) found: a
// reader that returns an impossible count, or no data and no error again
// and again, crashed the program or changed the data, or spun forever;
// a bad first line, or a branch that does not exist, waited for the
// producer to end; and HEAD's branch was read after the spool, so a
// checkout meanwhile sent the import elsewhere. Lines are now read ahead
// parsed, as the check reads them.
func TestImportSpoolsParsedLines(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	line := `{"stream":"a","type":"X","data":{"n":56}}` + "\n"
	for _, n := range []int{1 << 20, -3, 0} {
		_, err := r.Import(ctx, &badCountReader{text: line, n: n}, ImportOptions{})
		require.Error(t, err, "count %d", n)
		assert.ErrorContains(t, err, "reading the input", "count %d", n)
	}
	_, err := r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "nothing written")

	// A bad first line and a missing branch are said while the
	// producer still writes.
	early := func(in string, opts ImportOptions, want error) {
		t.Helper()
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte(in))
		done := make(chan error, 1)
		go func() {
			_, err := r.Import(ctx, pr, opts)
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorIs(t, err, want)
		case <-time.After(30 * time.Second):
			t.Fatal("the import waited for its producer to end")
		}
	}
	early("{bad\n", ImportOptions{}, ErrInvalid)
	early(line, ImportOptions{Branch: "nosuch"}, ErrNotFound)

	// HEAD's branch when the import starts takes it, whatever a
	// checkout does while the producer writes.
	appendOne(t, r, ev("a", "X", `{}`))
	_, err = r.CreateBranch(ctx, "other", "HEAD", "t")
	require.NoError(t, err)
	pw, done := startPipeImport(t, r, ImportOptions{})
	_, err = r.Checkout(ctx, "other", CheckoutOptions{})
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
	assert.Equal(t, []string{"a|X|{}", "p|X|{}"}, lineOf(t, r, "main"))
	assert.Equal(t, []string{"a|X|{}"}, lineOf(t, r, "other"))
}

// countingLines gives one line per read, endlessly, and cancels its
// context at the read numbered at; it counts the reads after that.
type countingLines struct {
	reads, at, after int
	cancel           func()
}

func (c *countingLines) Read(p []byte) (int, error) {
	c.reads++
	if c.reads == c.at {
		c.cancel()
	} else if c.reads > c.at {
		c.after++
	}
	return copy(p, fmt.Sprintf(`{"stream":"s%d","type":"X"}`+"\n", c.reads)), nil
}

// A cancelled import reads no more of its input (a helper's review: the
// parser read on to the end of its chunk of 1,024 lines, while the doc
// said a blocked read may finish, and that is all), and writes nothing.
func TestCancelledImportReadsNoMore(t *testing.T) {
	r := newRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	in := &countingLines{at: 3000, cancel: cancel}
	_, err := r.Import(ctx, in, ImportOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.LessOrEqual(t, in.after, 1, "reads after the cancel")
	_, err = r.Resolve(context.Background(), "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "nothing written")
}

// The branch an import takes is the one it found when it started, read
// afresh, whatever happens to HEAD while a slow producer writes (a
// helper's review of the read-ahead): a long-lived Repository refused a
// branch another one had made since it last read the refs, and an
// import onto the unborn branch HEAD named was refused once a checkout
// -b moved HEAD to another unborn branch.
func TestImportBranchIsTakenAfreshAndKept(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "X", `{}`))
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	_, err = other.CreateBranch(ctx, "made-elsewhere", "HEAD", "t")
	require.NoError(t, err)
	require.NoError(t, other.Close())
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"b","type":"X"}`+"\n"), ImportOptions{Branch: "made-elsewhere"})
	require.NoError(t, err)

	u := newRepo(t)
	pw, done := startPipeImport(t, u, ImportOptions{})
	_, err = u.Checkout(ctx, "", CheckoutOptions{Branch: "other"})
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
	assert.Equal(t, []string{"p|X|{}"}, lineOf(t, u, "main"))
	branch, err := u.CurrentBranch(ctx)
	require.NoError(t, err)
	assert.Equal(t, "other", branch, "HEAD stays where the checkout put it")
}

// The unborn branch an import took keeps it only while no branch is born
// (a helper's review of that rule): a branch main/y born meanwhile made
// the import create main beside it, which every other way of making a
// branch refuses; and a main born and deleted meanwhile came back.
func TestImportUnbornBranchOnlyWhileNoneIsBorn(t *testing.T) {
	ctx := context.Background()
	branches := func(r *Repository) []string {
		var out []string
		for b, err := range r.Branches(ctx) {
			require.NoError(t, err)
			out = append(out, b.Name)
		}
		return out
	}

	r := newRepo(t)
	pw, done := startPipeImport(t, r, ImportOptions{})
	_, err := r.Checkout(ctx, "", CheckoutOptions{Branch: "main/y"})
	require.NoError(t, err)
	appendOne(t, r, ev("a", "X", `{}`))
	require.NoError(t, pw.Close())
	require.ErrorIs(t, <-done, ErrNotFound)
	assert.Equal(t, []string{"main/y"}, branches(r))

	s := newRepo(t)
	pw, done = startPipeImport(t, s, ImportOptions{})
	_, err = s.Checkout(ctx, "", CheckoutOptions{Branch: "other"})
	require.NoError(t, err)
	appendOne(t, s, ev("a", "X", `{}`))
	_, err = s.CreateBranch(ctx, "main", "other", "t")
	require.NoError(t, err)
	_, err = s.DeleteBranch(ctx, "main", "t")
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.ErrorIs(t, <-done, ErrNotFound)
	assert.Equal(t, []string{"other"}, branches(s))
}

// startPipeImport starts an import from a pipe and feeds it one line,
// which the parser reads once it runs: the import has taken its branch
// by the time this returns. Close the writer to end the input.
func startPipeImport(t *testing.T, r *Repository, opts ImportOptions) (*io.PipeWriter, chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := r.Import(context.Background(), pr, opts)
		done <- err
	}()
	_, err := pw.Write([]byte(`{"stream":"p","type":"X"}` + "\n"))
	require.NoError(t, err)
	return pw, done
}
