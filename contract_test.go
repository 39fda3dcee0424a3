package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

// SPEC §5: failures are errors errors.Is can test. A revision that names
// no commit is not found, through every call that takes one.
func TestUnknownRevisionIsNotFound(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, ErrNotFound, "HEAD of an empty repository")
	commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	for _, rev := range []string{"nope", "HEAD~5", "main@{5}", "deadbeef"} {
		_, err := r.Resolve(ctx, rev)
		assert.ErrorIs(t, err, ErrNotFound, rev)
		_, err = r.Show(ctx, rev)
		assert.ErrorIs(t, err, ErrNotFound, rev)
		_, err = r.State(ctx, rev, "s", StateOptions{})
		assert.ErrorIs(t, err, ErrNotFound, rev)
		_, err = r.Revert(ctx, rev, RevertOptions{})
		assert.ErrorIs(t, err, ErrNotFound, rev)
		_, err = r.CreateBranch(ctx, "b", rev, "t")
		assert.ErrorIs(t, err, ErrNotFound, rev)
		for _, err := range r.Log(ctx, LogOptions{Range: rev}) {
			assert.ErrorIs(t, err, ErrNotFound, rev)
		}
	}
}

// A revision whose syntax is wrong is invalid input, not a commit that
// is missing, through every call that takes one: a caller can tell a
// typo from an absent commit (a helper's audit of the library).
func TestBadRevisionIsInvalid(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	for _, rev := range []string{"HEAD~-1", "main@{x}", "bad..ref~1", "refs/heads/a b", "HEAD..main"} {
		_, err := r.Resolve(ctx, rev)
		assert.ErrorIs(t, err, ErrInvalid, rev)
		assert.NotErrorIs(t, err, ErrNotFound, rev)
		_, err = r.Show(ctx, rev)
		assert.ErrorIs(t, err, ErrInvalid, rev)
		_, err = r.State(ctx, rev, "s", StateOptions{})
		assert.ErrorIs(t, err, ErrInvalid, rev)
		assert.NotErrorIs(t, err, ErrNotFound, rev)
		_, err = r.CreateBranch(ctx, "b", rev, "t")
		assert.ErrorIs(t, err, ErrInvalid, rev)
	}
	_, err := r.State(ctx, "HEAD..main", "s", StateOptions{})
	assert.EqualError(t, err, `unknown revision "HEAD..main": a range, where one commit is wanted`)
}

// A Repository used after Close returns ErrClosed, never panics; Close
// again does nothing.
func TestUseAfterClose(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err := r.Append(ctx, []EventInput{ev("s", "E", `{}`)}, AppendOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = r.Resolve(ctx, "HEAD")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = r.State(ctx, "HEAD", "s", StateOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	for _, err := range r.Log(ctx, LogOptions{}) {
		assert.ErrorIs(t, err, ErrClosed)
	}
	for _, err := range r.Branches(ctx) {
		assert.ErrorIs(t, err, ErrClosed)
	}
	_, err = r.CreateBranch(ctx, "x", "", "t")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = r.GC(ctx, GCOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = r.Fsck(ctx, FsckOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, r.Flush(ctx), ErrClosed)
}

// Close while goroutines append: each append either lands or fails with
// ErrClosed, none hangs, and every acknowledged commit is there on reopen.
func TestCloseWhileAppending(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("s", "E", `{"n":0}`))
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				res, err := r.Append(ctx, []EventInput{ev(fmt.Sprintf("w%d", w), "E", fmt.Sprintf(`{"n":%d}`, i))}, AppendOptions{})
				if err != nil {
					assert.ErrorIs(t, err, ErrClosed)
					return
				}
				mu.Lock()
				acked = append(acked, res.Commit.String())
				mu.Unlock()
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
	}
	require.NoError(t, r.Close())
	wg.Wait()

	again, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer again.Close()
	on := map[string]bool{}
	for c, err := range again.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		on[c.ID.String()] = true
	}
	for _, id := range acked {
		assert.True(t, on[id], "acknowledged commit %s is on main", id[:7])
	}
}

// Every call honours its context: a cancelled one stops reads too, and
// an iterator cancelled while it yields stops with the context's error.
func TestCancelledContext(t *testing.T) {
	r := newRepo(t)
	for i := range 30 {
		commitEvents(t, r, "", ev(fmt.Sprintf("s%02d", i), "E", `{"a":1}`), ev("s", "E", fmt.Sprintf(`{"i":%d}`, i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.State(ctx, "HEAD", "s00", StateOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.Show(ctx, "HEAD")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.CurrentBranch(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = r.Model(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.StreamAt(ctx, headOf(t, r), "s00")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.ReadObject(ctx, headOf(t, r).String())
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.CommitAsOf(ctx, headOf(t, r), time.Now())
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, r.Flush(ctx), context.Canceled)
	_, err = Open(ctx, r.GitDir())
	assert.ErrorIs(t, err, context.Canceled)
	_, err = Discover(ctx, r.WorkTree())
	assert.ErrorIs(t, err, context.Canceled)
	dir := t.TempDir()
	_, _, err = Init(ctx, dir, InitOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "a cancelled Init makes nothing")

	for name, seq := range map[string]func(context.Context) (int, error){
		"Tree": func(ctx context.Context) (int, error) { return drain(r.Tree(ctx, "HEAD")) },
		"Diff": func(ctx context.Context) (int, error) { return drain(r.Diff(ctx, "HEAD~29", "HEAD")) },
		"Branches": func(ctx context.Context) (int, error) {
			return drain(r.Branches(ctx))
		},
	} {
		_, err := seq(ctx)
		assert.ErrorIs(t, err, context.Canceled, name)
	}
	// Cancelled after the first entry.
	for name, seq := range map[string]func(context.Context, context.CancelFunc) (int, error){
		"Tree": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.Tree(ctx, "HEAD"), stop)
		},
		"Diff": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.Diff(ctx, "HEAD~29", "HEAD"), stop)
		},
		"States": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.States(ctx, "HEAD"), stop)
		},
		"Log": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.Log(ctx, LogOptions{}), stop)
		},
		"Log, reverse": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.Log(ctx, LogOptions{Reverse: true}), stop)
		},
		"Log of a stream, reverse": func(ctx context.Context, stop context.CancelFunc) (int, error) {
			return drainStopping(r.Log(ctx, LogOptions{Stream: "s", Reverse: true}), stop)
		},
	} {
		ctx, stop := context.WithCancel(context.Background())
		n, err := seq(ctx, stop)
		assert.ErrorIs(t, err, context.Canceled, name)
		assert.Equal(t, 1, n, name)
	}
}

func drain[T any](seq func(func(T, error) bool)) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func drainStopping[T any](seq func(func(T, error) bool), stop context.CancelFunc) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
		stop()
	}
	return n, nil
}

// Bad options and a detached HEAD are ErrInvalid.
func TestInvalidOptions(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	// An actor with a control character, wherever an actor is recorded
	// (a reflog entry prints it on one line).
	const badActor = "a\nb"
	_, err := r.CreateBranch(ctx, "x", "", badActor)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.CreateTag(ctx, "x", "", badActor)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.DeleteBranch(ctx, "main", badActor)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.SetModel(ctx, []byte("types: {}"), badActor)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.Checkout(ctx, "HEAD", CheckoutOptions{Actor: badActor})
	assert.ErrorIs(t, err, ErrInvalid)
	branches, err := drain(r.Branches(ctx))
	require.NoError(t, err)
	assert.Equal(t, 1, branches)
	_, err = r.Import(ctx, strings.NewReader(`{"stream":"s","type":"E","data":{}}`+"\n"), ImportOptions{Batch: -5})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.Checkout(ctx, headOf(t, r).String(), CheckoutOptions{})
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("s", "E", `{}`)}, AppendOptions{})
	assert.ErrorIs(t, err, ErrInvalid)
}

// Another Repository of the same folder (or another process) that moves
// HEAD is seen by CurrentBranch, as by Append.
func TestCurrentBranchSeesOtherOpens(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Checkout(ctx, "HEAD", CheckoutOptions{Branch: "dev"})
	require.NoError(t, err)
	assert.Equal(t, "dev", currentBranch(t, r))
}

// Typed snapshots belong to the model whose upcasts fed the reducers: after
// SetModel, a Load on the same Repository folds again under the new one.
func TestAggregateSnapshotsFollowTheModel(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	m1 := "types:\n  Fee: {apply: {n: 'state == nil ? 1 : state.n + 1'}}\n"
	_, err := r.SetModel(ctx, []byte(m1), "t")
	require.NoError(t, err)
	for range 4 {
		_, err := r.Append(ctx, []EventInput{{Stream: "s", Type: "Fee", Schema: 1, Data: json.RawMessage(`{"value":10}`)}}, AppendOptions{})
		require.NoError(t, err)
	}
	type S struct{ Total int64 }
	agg := &Aggregate[S]{Name: "fees", Version: 1, SnapshotEvery: 2,
		Handlers: map[string]Reducer[S]{"Fee": Handle(func(s S, d struct{ Amount int64 }, e *RecordedEvent) (S, error) {
			s.Total += d.Amount
			return s, nil
		})}}
	got, err := agg.Load(ctx, r, "HEAD", "s", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(0), got.State.Total, "no upcast: no amount")
	_, err = r.SetModel(ctx, []byte(m1+"upcast:\n  - {type: Fee, from: 1, to: 2, data: {amount: event.value}}\n"), "t")
	require.NoError(t, err)
	got, err = agg.Load(ctx, r, "HEAD", "s", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(40), got.State.Total, "upcast by the new model")
	assert.False(t, errors.Is(err, ErrNotFound))
}

// A ref whose name is also an abbreviated object ID wins, in ReadObject
// (cat-file) as in revisions, as in Git.
func TestRefWinsOverAbbreviatedObjectID(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	first := commitEvents(t, r, "", ev("s", "E", `{"a":1}`))
	second := commitEvents(t, r, "", ev("s", "E", `{"a":2}`))
	name := first.String()[:6]
	_, err := r.CreateBranch(ctx, name, second.String(), "t")
	require.NoError(t, err)
	info, err := r.ReadObject(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, second, info.ID)
	info, err = r.ReadObject(ctx, first.String()[:8])
	require.NoError(t, err)
	assert.Equal(t, first, info.ID, "a longer prefix names no ref")
}

// A schema is at most object.MaxSchema, in input and through Append; a
// model may not default events past it either (model tests).
func TestSchemaLimits(t *testing.T) {
	_, err := ParseLine([]byte(`{"stream":"s","type":"T","schema":2147483648}`), false)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "schema must be an integer from 1 to 2147483647, not 2147483648")
	_, err = newRepo(t).StreamAt(context.Background(), object.ZeroID, "../x")
	require.ErrorIs(t, err, ErrInvalid, "StreamAt checks the name as State does")
	r := newRepo(t)
	_, err = r.Append(context.Background(), []EventInput{{Stream: "s", Type: "T", Schema: 1 << 31, Data: json.RawMessage(`{}`)}}, AppendOptions{})
	assert.ErrorIs(t, err, ErrInvalid)
}

// Only JSON's white space (space, tab, CR, LF) is trimmed from a line:
// a vertical tab or a no-break space makes it invalid, and a line of them
// is not blank.
func TestLinesTrimOnlyJSONSpace(t *testing.T) {
	ok := "{\"stream\":\"s\",\"type\":\"T\"}"
	lines, err := ReadLines(strings.NewReader(" \t"+ok+"\r\n\n"), false)
	require.NoError(t, err)
	assert.Len(t, lines, 1)
	for _, bad := range []string{"\v" + ok, ok + "\u00a0", "\u00a0", "\f" + ok, ok + "\u0085"} {
		_, err := ReadLines(strings.NewReader(bad+"\n"), false)
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "line 1:", "%q", bad)
	}
}

// A subject is the first paragraph, its lines joined, as Git takes it.
func TestSubject(t *testing.T) {
	for msg, want := range map[string]string{
		"":                                "",
		"One":                             "One",
		"One \n":                          "One",
		"One\n\nBody":                     "One",
		"line one\nline two\n\nbody":      "line one line two",
		"line one\r\n line two  \n \nend": "line one line two",
		"\n  \nhello\nworld\n\nbody":      "hello world", // leading blank lines skipped, as Git does
		"\n\n\n":                          "",
	} {
		assert.Equal(t, want, Subject(msg), "%q", msg)
	}
}

// TestAbbreviationThroughADamagedIndex: an abbreviation that matches
// nothing because an index no longer lists the ID (a damaged byte) is
// corruption naming the index, not an unknown revision.
func TestAbbreviationThroughADamagedIndex(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var ids []object.ID
	for i := range 5 {
		ids = append(ids, appendOne(t, r, ev("acc-1", "Noted", fmt.Sprintf(`{"i":%d}`, i))))
	}
	sealed, err := r.st.Seal(1)
	require.NoError(t, err)
	require.True(t, sealed)
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	idx, err := filepath.Glob(filepath.Join(gitDir, "log", "*.idx"))
	require.NoError(t, err)
	require.Len(t, idx, 1)
	b, err := os.ReadFile(idx[0])
	require.NoError(t, err)
	at := bytes.Index(b, ids[2][:])
	require.GreaterOrEqual(t, at, 0)
	b[at] ^= 0xff
	require.NoError(t, os.WriteFile(idx[0], b, 0o644))

	r2, err := Open(ctx, gitDir)
	require.NoError(t, err)
	defer r2.Close()
	_, err = r2.Resolve(ctx, ids[2].String()[:12])
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, filepath.Base(idx[0]))
}

// A model source with no document (an empty file, a comment, null) is
// refused: it would drop every rule without a word. {} sets a model
// without types.
func TestSetModelRefusesAnEmptySource(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	id, err := r.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	for _, src := range []string{"", "\n", "# rules later\n", "null", "~\n"} {
		_, err := r.SetModel(ctx, []byte(src), "test")
		require.ErrorIs(t, err, ErrInvalid, "%q", src)
		assert.Contains(t, err.Error(), "the model is empty")
	}
	_, now, err := r.Model(ctx)
	require.NoError(t, err)
	assert.Equal(t, id, now, "the model stays")
	_, err = r.SetModel(ctx, []byte("{}"), "test")
	require.NoError(t, err)
}
