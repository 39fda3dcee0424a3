package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

func newRepo(t *testing.T) *Repository {
	t.Helper()
	r, created, err := Init(context.Background(), t.TempDir(), InitOptions{})
	require.NoError(t, err)
	require.True(t, created)
	t.Cleanup(func() { r.Close() })
	return r
}

func ev(stream, typ, data string) EventInput {
	return EventInput{Stream: stream, Type: typ, Data: json.RawMessage(data)}
}

func TestAppendGuards(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	date := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	res, err := r.Append(ctx, []EventInput{ev("acc-1", "Opened", `{"owner":"ann"}`), ev("acc-1", "Deposited", `{"amount":5}`)}, AppendOptions{Message: "m", Actor: "a", Time: date})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Events)
	assert.Equal(t, uint64(2), res.Offset)
	assert.Equal(t, "main", res.Branch)

	_, err = r.Append(ctx, []EventInput{ev("acc-1", "X", `{}`)}, AppendOptions{Expect: map[string]uint64{"acc-1": 1}})
	require.ErrorIs(t, err, ErrConflict)
	var expectErr *ExpectError
	require.ErrorAs(t, err, &expectErr)
	var reused *KeyReusedError
	assert.False(t, errors.As(err, &reused), "a retry may mend it")
	res2, err := r.Append(ctx, []EventInput{ev("acc-1", "X", `{}`)}, AppendOptions{Expect: map[string]uint64{"acc-1": 2, "acc-2": 0}, Time: date.Add(-time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, []any{res.Commit}, []any{res2.Parents[0]})
	assert.Equal(t, date, res.Time)
	assert.Equal(t, date, res2.Time, "an hour before its parent: its parent's time (SPEC §3)")

	k := AppendOptions{IdempotencyKey: "k1"}
	a, err := r.Append(ctx, []EventInput{ev("acc-2", "X", `{"a":1}`)}, k)
	require.NoError(t, err)
	b, err := r.Append(ctx, []EventInput{ev("acc-2", "X", `{"a":1}`)}, k)
	require.NoError(t, err)
	assert.True(t, b.Duplicate)
	assert.Equal(t, a.Time, b.Time, "the earlier commit's")
	assert.Equal(t, a.Commit, b.Commit)
	_, err = r.Append(ctx, []EventInput{ev("acc-2", "X", `{"a":2}`)}, k)
	require.ErrorIs(t, err, ErrConflict)
	// A client that retries on conflicts must not retry this one: it
	// tells it by its type (a helper's audit: one retried for ever).
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, &KeyReusedError{Key: "k1", Commit: a.Commit}, reused)
	assert.False(t, errors.As(err, &expectErr))
	assert.Equal(t, `idempotency key "k1" was used with other events (commit `+a.Commit.Short()+`)`, err.Error())

	_, err = r.Append(ctx, nil, AppendOptions{})
	require.ErrorIs(t, err, ErrNothingToCommit)
	_, err = r.Append(ctx, []EventInput{ev("bad/../x", "X", `{}`)}, AppendOptions{})
	require.ErrorIs(t, err, ErrInvalid)

	// Reverts name commits of the repository: fsck would call any other
	// link corruption.
	_, err = r.Append(ctx, []EventInput{ev("acc-2", "X", `{}`)}, AppendOptions{Reverts: []object.ID{{1, 2, 3}}})
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, ErrNotFound, "a \"no such\" that ErrNotFound matches (a helper's audit)")
	assert.Equal(t, "reverts 0102030: no such commit", err.Error())
	_, err = r.Append(ctx, []EventInput{ev("acc-2", "X", `{}`)}, AppendOptions{Reverts: []object.ID{b.Commit}})
	require.NoError(t, err)
}

// A message or idempotency key that is not UTF-8 is refused: export
// writes them as JSON, which would replace the bad bytes, and importing
// that export would make another commit. Found by a helper's audit: the
// message was stored as given.
func TestAppendRefusesTextNotUTF8(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("a", "T", `{}`)}, AppendOptions{Message: "a\xffb"})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{}`)}, AppendOptions{IdempotencyKey: "k\xff"})
	require.ErrorIs(t, err, ErrInvalid)
	// Nor a key with a control character (cat-file prints it on a line
	// of its own), nor meta that is not UTF-8 (export would change it,
	// and with it the event's ID), nor a meta actor with a newline.
	_, err = r.Append(ctx, []EventInput{ev("a", "T", `{}`)}, AppendOptions{IdempotencyKey: "x\nreverts 1234"})
	require.ErrorIs(t, err, ErrInvalid)
	for _, meta := range []map[string]string{{"x": "\xff"}, {"\xff": "x"}, {"actor": "a\nb"}} {
		_, err = r.Append(ctx, []EventInput{{Stream: "a", Type: "T", Meta: meta}}, AppendOptions{})
		require.ErrorIs(t, err, ErrInvalid, "%q", meta)
	}
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"a","type":"T","commit":{"idempotency_key":"a\nb"}}`+"\n"), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"a","type":"T","meta":{"actor":"a\nb"}}`+"\n"), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	appendOne(t, r, ev("a", "T", `{}`))
	_, err = r.Revert(ctx, "HEAD", RevertOptions{Message: "\xff"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, 1, eventsOnHead(t, r))
}

// An event's data may hold at most 64 MiB, as an input line may: more is
// refused as invalid input before anything is built, and nothing is
// written (a frame holds at most 256 MiB, and one written larger would
// make the repository unreadable).
func TestAppendRefusesAnEventTooLarge(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("small", "T", `{"a":1}`))
	before, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	big := append(append([]byte(`{"blob":"`), bytes.Repeat([]byte("x"), 64<<20)...), `"}`...)
	_, err = r.Append(ctx, []EventInput{{Stream: "big", Type: "T", Data: big}}, AppendOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "more than the 64 MiB an event may hold")
	after, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	require.Equal(t, before, after)
	st, err := r.State(ctx, "HEAD", "small", StateOptions{})
	require.NoError(t, err)
	require.JSONEq(t, `{"a":1}`, string(st.State))
}

// An import refuses a key used with other events as Append does, with
// the line, and the same type.
func TestImportKeyReusedError(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	in := `{"stream":"a","type":"X","commit":{"message":"m","idempotency_key":"k"}}` + "\n" +
		`{"stream":"b","type":"X","commit":{"message":"m","idempotency_key":"k"}}` + "\n"
	_, err := r.Import(ctx, strings.NewReader(in), ImportOptions{})
	require.ErrorIs(t, err, ErrConflict)
	var reused *KeyReusedError
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, &KeyReusedError{Key: "k", Line: 2}, reused)
	assert.Equal(t, `line 2: idempotency key "k" was used with other events earlier in the input`, err.Error())

	res, err := r.Append(ctx, []EventInput{ev("z", "Y", `{"q":1}`)}, AppendOptions{IdempotencyKey: "k"})
	require.NoError(t, err)
	_, err = r.Import(ctx, strings.NewReader(in[:strings.Index(in, "\n")+1]+`{"stream":"c","type":"X","commit":{"message":"n","idempotency_key":"k2"}}`+"\n"), ImportOptions{})
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, "k", reused.Key)
	assert.Equal(t, res.Commit, reused.Commit)
	assert.Equal(t, 1, reused.Line)
}
