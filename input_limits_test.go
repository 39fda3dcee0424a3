package evgit

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An event's data is measured canonical, as it is stored: data that
// canonical JSON makes longer than 64 MiB (1e18 is written
// 1000000000000000000) was refused by commit and taken by import, whose
// export then did not import (a helper's audit). Both refuse it now, and
// nothing is written.
func TestDataMeasuredCanonical(t *testing.T) {
	ctx := context.Background()
	// Just under 64 MiB as given, 300 bytes more canonical.
	var data bytes.Buffer
	data.WriteString(`{"a":[1e18`)
	for range 19 {
		data.WriteString(",1e18")
	}
	data.WriteString(`],"b":"`)
	data.WriteString(strings.Repeat("x", maxEventData-data.Len()-10))
	data.WriteString(`"}`)
	require.Less(t, data.Len(), maxEventData)
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{{Stream: "s", Type: "T", Data: data.Bytes()}}, AppendOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "more than the 64 MiB an event may hold")
	line := `{"stream":"s","type":"T","data":` + data.String() + "}\n"
	_, err = r.Import(ctx, strings.NewReader(line), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Regexp(t, `^line 1: data: 6710\d{4} bytes, more than the 64 MiB an event may hold$`, err.Error())
	_, err = r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "nothing written")
}

// An event of the most data an event may hold, with the most meta, in a
// commit with the longest message, exports as a line longer than its
// data, which import takes again, with the same ID: with lines held to
// 64 MiB, as data is, it was refused (a helper's audit), and with meta
// and messages of any size an export could pass any limit (a review).
func TestExportOfTheLargestEventImports(t *testing.T) {
	ctx := context.Background()
	prefix, suffix := `{"b":"`, `"}`
	data := prefix + strings.Repeat("x", maxEventData-len(prefix)-len(suffix)) + suffix
	// With the most meta and message too, of characters JSON escapes in
	// six bytes each.
	meta := map[string]string{"k": strings.Repeat("\x01", maxText-1), "actor": strings.Repeat("b", maxText)}
	msg := strings.Repeat("\x02", maxText)
	src := newRepo(t)
	res, err := src.Append(ctx, []EventInput{{Stream: "s", Type: "T", Data: []byte(data), Meta: meta}}, AppendOptions{Actor: strings.Repeat("a", maxText), Message: msg, IdempotencyKey: strings.Repeat("k", maxText)})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, src.Export(ctx, &out, ExportOptions{}))
	require.Greater(t, out.Len(), maxEventData)
	dst := newRepo(t)
	_, err = dst.Import(ctx, &out, ImportOptions{})
	require.NoError(t, err)
	head, err := dst.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, res.Commit, head)
}

// A line of exactly the most bytes a line may hold is read, with its
// CR LF; one byte more is refused, naming the line (a line of exactly
// the limit was refused).
func TestLineOfTheLimit(t *testing.T) {
	line := bytes.Repeat([]byte{' '}, maxInputLine)
	copy(line, `{"stream":"s","type":"T"}`)
	for _, end := range []string{"\n", "\r\n", ""} {
		in := io.MultiReader(strings.NewReader("{}\n"), bytes.NewReader(line), strings.NewReader(end))
		var got []int
		err := scanRaw(in, func(n int, b []byte) error {
			got = append(got, n)
			return nil
		})
		require.NoError(t, err, "line end %q", end)
		assert.Equal(t, []int{1, 2}, got)
	}
	long := append(line, ' ')
	err := scanRaw(io.MultiReader(strings.NewReader("{}\n"), bytes.NewReader(long), strings.NewReader("\n")), func(int, []byte) error { return nil })
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "line 2: longer than 128 MiB")
}

// Meta, a message, an actor and an idempotency key hold at most 1 MiB
// each, through Append, Revert and an input line alike; more is refused
// and nothing is written.
func TestTextAroundTheDataIsBounded(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	big := strings.Repeat("x", maxText+1)
	e := EventInput{Stream: "s", Type: "T", Data: []byte(`{}`)}
	withMeta := e
	withMeta.Meta = map[string]string{"k": big}
	for name, try := range map[string]func() error{
		"meta":    func() error { _, err := r.Append(ctx, []EventInput{withMeta}, AppendOptions{}); return err },
		"message": func() error { _, err := r.Append(ctx, []EventInput{e}, AppendOptions{Message: big}); return err },
		"actor":   func() error { _, err := r.Append(ctx, []EventInput{e}, AppendOptions{Actor: big}); return err },
		"key":     func() error { _, err := r.Append(ctx, []EventInput{e}, AppendOptions{IdempotencyKey: big}); return err },
		"import meta": func() error {
			_, err := r.Import(ctx, strings.NewReader(`{"stream":"s","type":"T","meta":{"k":"`+big+`"}}`+"\n"), ImportOptions{})
			return err
		},
		"import message": func() error {
			_, err := r.Import(ctx, strings.NewReader(`{"stream":"s","type":"T","commit":{"message":"`+big+`"}}`+"\n"), ImportOptions{})
			return err
		},
	} {
		err := try()
		require.ErrorIs(t, err, ErrInvalid, name)
		assert.ErrorContains(t, err, "more than the 1 MiB it may hold", name)
	}
	_, err := r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "nothing written")
	appendOne(t, r, e)
	_, err = r.Revert(ctx, "HEAD", RevertOptions{Message: big})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "more than the 1 MiB it may hold")
}

// ReadLines returns nothing with a bad line, as its doc says (a helper's
// audit found the lines before it returned with the error).
func TestReadLinesReturnsNothingWithABadLine(t *testing.T) {
	ls, err := ReadLines(strings.NewReader("{\"stream\":\"a\",\"type\":\"T\"}\n{bad}\n"), false)
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "line 2: ")
	assert.Nil(t, ls)
	ls, err = ReadLines(strings.NewReader("{\"stream\":\"a\",\"type\":\"T\"}\n\n"), false)
	require.NoError(t, err)
	assert.Len(t, ls, 1)
}
