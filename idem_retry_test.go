package evgit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A retry with an idempotency key of events carrying meta.time equal to
// --time, after another writer committed with a later time.
func TestIdempotentRetryAfterALaterCommit(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := ev("s", "X", `{"a":1}`)
	e.Meta = map[string]string{"time": T.Format(time.RFC3339Nano)}
	opts := AppendOptions{IdempotencyKey: "k", Time: T, Actor: "a"}
	first, err := r.Append(ctx, []EventInput{e}, opts)
	require.NoError(t, err)
	// another writer (another process) commits with a later time
	r2, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer r2.Close()
	_, err = r2.Append(ctx, []EventInput{ev("other", "X", `{}`)}, AppendOptions{Time: T.Add(time.Hour)})
	require.NoError(t, err)
	// the client retries (its first answer was lost)
	again, err := r.Append(ctx, []EventInput{e}, opts)
	require.NoError(t, err, "retry refused")
	require.True(t, again.Duplicate)
	require.Equal(t, first.Commit, again.Commit)
}

// Import of a keyed commit whose time is before the branch head's, run
// twice: the second run should skip it.
func TestImportKeyedCommitTwiceOntoALaterHead(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("base", "X", `{}`)}, AppendOptions{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	in := `{"stream":"s","type":"X","data":{"a":1},"meta":{"time":"2026-01-01T00:00:00Z","actor":"a"},"commit":{"message":"m","actor":"a","time":"2026-01-01T00:00:00Z","idempotency_key":"k"}}` + "\n"
	_, err = r.Import(ctx, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	_, err = r.Import(ctx, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err, "second import")
}

// The retry of a keyed commit whose events left their schema out (the
// newest the model knows) is the same request after a model that knows a
// newer schema is set: before, it failed for good as a reuse of the key
// (a helper's audit), though its commit had landed. Other events, or a
// schema given that differs, are still a reuse; Import agrees.
func TestIdempotentRetryAfterANewerSchema(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	evs := []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":5}`), ev("acc-1", "AccountFrozen", `{}`)}
	first, err := r.Append(ctx, evs, AppendOptions{IdempotencyKey: "req-1"})
	require.NoError(t, err)
	model := "types:\n  Other: { apply: { x: 1 } }\nupcast:\n  - { type: MoneyDeposited, from: 1, to: 2, data: { amount: event.amount } }\n"
	_, err = r.SetModel(ctx, []byte(model), "test")
	require.NoError(t, err)
	again, err := r.Append(ctx, evs, AppendOptions{IdempotencyKey: "req-1"})
	require.NoError(t, err, "the retry")
	require.True(t, again.Duplicate)
	require.Equal(t, first.Commit, again.Commit)

	other := []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":6}`), ev("acc-1", "AccountFrozen", `{}`)}
	_, err = r.Append(ctx, other, AppendOptions{IdempotencyKey: "req-1"})
	var reused *KeyReusedError
	require.ErrorAs(t, err, &reused, "other data")
	given := []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":5}`), ev("acc-1", "AccountFrozen", `{}`)}
	given[0].Schema = 2
	_, err = r.Append(ctx, given, AppendOptions{IdempotencyKey: "req-1"})
	require.ErrorAs(t, err, &reused, "a schema given that differs")

	in := `{"stream":"acc-1","type":"MoneyDeposited","data":{"amount":5},"commit":{"idempotency_key":"req-1"}}` + "\n" +
		`{"stream":"acc-1","type":"AccountFrozen","data":{}}` + "\n"
	res, err := r.Import(ctx, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err, "import of the same request")
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	require.Equal(t, first.Commit, head, "nothing written: %+v", res)
}
