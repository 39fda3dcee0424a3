package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

func TestExportImportReproducesIDs(t *testing.T) {
	ctx := context.Background()
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 1, Events: 3000, Accounts: 50}))
	a := newRepo(t)
	_, err := a.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	res, err := a.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3000, res.Commits)
	assert.Equal(t, 3000, res.Events)

	// Run again: every batch is skipped.
	again, err := a.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, res.Head, again.Head)

	var exp bytes.Buffer
	require.NoError(t, a.Export(ctx, &exp, ExportOptions{}))
	b := newRepo(t)
	res2, err := b.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, res.Head, res2.Head, "same commit IDs")

	st, err := a.StreamAt(context.Background(), res.Head, "acc-000000")
	require.NoError(t, err)
	ref, err := bankgen.Fold(bankgen.New(bankgen.Config{Seed: 1, Events: 3000, Accounts: 50}).All())
	require.NoError(t, err)
	assert.Equal(t, uint64(ref["acc-000000"].Version), st.Version)
	assert.Contains(t, string(st.State), `"balance":`)
}

// An import run again, whole or after an interruption, skips the batches
// that landed without folding them a second time: under a model whose
// rules hold only once (an account opens once), folding them again would
// refuse the import.
func TestImportRunAgainDoesNotFoldLandedBatches(t *testing.T) {
	ctx := context.Background()
	once := bankModelOpenOnce(t)
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 3, Events: 2500, Accounts: 40}))
	// The first two batches, as if interrupted there.
	clean, r, want, again := importAfterPrefix(t, once, src.Bytes(), 2*importBatchCommits, 500)
	assert.Equal(t, 2500, again.Skipped)
	assert.Equal(t, want.Head, again.Head)
	st, err := r.StreamAt(ctx, want.Head, "acc-000000")
	require.NoError(t, err)
	wantSt, err := clean.StreamAt(ctx, want.Head, "acc-000000")
	require.NoError(t, err)
	assert.Equal(t, string(wantSt.State), string(st.State))
}

// An export imported again: a batch whose prefix key landed is skipped whole,
// even when a header in it names no id (so the commits on the branch by
// their IDs end inside it); and commits that only look like landed ones
// (the same events, another input) are imported, not dropped.
func TestImportAgainSkipsByPrefixKeyAndByID(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	for i := range 30 {
		_, err := src.Append(ctx, []EventInput{ev("acc-1", "Deposited", fmt.Sprintf(`{"amount":%d}`, i))}, AppendOptions{Actor: "a"})
		require.NoError(t, err)
	}
	var exp bytes.Buffer
	require.NoError(t, src.Export(ctx, &exp, ExportOptions{}))
	lines := strings.SplitAfter(exp.String(), "\n")
	lines[1] = regexp.MustCompile(`"id":"[0-9a-f]{64}",`).ReplaceAllString(lines[1], "")
	edited := strings.Join(lines, "")

	r := newRepo(t)
	first, err := r.Import(ctx, strings.NewReader(edited), ImportOptions{})
	require.NoError(t, err)
	again, err := r.Import(ctx, strings.NewReader(edited), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, 30, again.Skipped)
	assert.Equal(t, first.Head, again.Head)

	// The same event, a batch of its own at the end of another input,
	// then first in this one: imported, not dropped. (An input that held
	// it first and grew since would skip it: TestImportGrownInput.)
	s := newRepo(t)
	appendOne(t, s, ev("seed", "Noted", `{}`))
	deposit := `{"stream":"a","type":"Deposited","data":{"amount":100}}` + "\n"
	other := strings.Repeat(`{"stream":"b","type":"Noted","data":{}}`+"\n", importBatchCommits)
	_, err = s.Import(ctx, strings.NewReader(other+deposit), ImportOptions{})
	require.NoError(t, err)
	appendOne(t, s, ev("other", "Noted", `{}`))
	res, err := s.Import(ctx, strings.NewReader(deposit+`{"stream":"a","type":"Deposited","data":{"amount":5}}`+"\n"), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Commits)
	st, err := s.State(ctx, "HEAD", "a", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), st.Version)
}

// TestImportGrownInput: an input imported, grown since (lines added at
// its end), and imported again whole, twice over: the commits of the
// earlier imports are skipped, the earlier import's last, shorter batch
// included, and nothing is folded or written twice; the repository ends
// as a clean import of the whole input leaves it. Under a model whose
// accounts open once, a fold of any event again would refuse the import.
func TestImportGrownInput(t *testing.T) {
	ctx := context.Background()
	once := bankModelOpenOnce(t)
	src, lines := grownInput(t)
	for _, withModel := range []bool{true, false} {
		mdl := ""
		if withModel {
			mdl = once
		}
		clean := newRepo(t)
		r := newRepo(t)
		if mdl != "" {
			for _, x := range []*Repository{clean, r} {
				_, err := x.SetModel(ctx, []byte(mdl), "test")
				require.NoError(t, err)
			}
		}
		_, err := clean.Import(ctx, bytes.NewReader(src), ImportOptions{})
		require.NoError(t, err)
		done := 0
		for _, n := range []int{1500, 2700, 3700, 3700} {
			res, err := r.Import(ctx, bytes.NewReader(bytes.Join(lines[:n], nil)), ImportOptions{})
			require.NoError(t, err, "%d lines", n)
			assert.Equal(t, n-done, res.Commits, "%d lines: the new ones", n)
			assert.Equal(t, done, res.Skipped, "%d lines: those imported before", n)
			done = n
		}
		assert.Equal(t, loggedEvents(t, clean), loggedEvents(t, r))
		want, err := clean.Resolve(ctx, "HEAD")
		require.NoError(t, err)
		head, err := r.Resolve(ctx, "HEAD")
		require.NoError(t, err)
		assert.Equal(t, want, head, "the commits a clean import makes")
	}
}

// importAfterPrefix imports the first n lines of src under the model,
// then all of src, which must add the commits left, added, and make the
// head a clean import of src makes; then all of src again, which must add
// nothing. It returns the clean repository and the other, the clean
// import's result and the last import's.
func importAfterPrefix(t *testing.T, model string, src []byte, n, added int) (clean, r *Repository, want, again *ImportResult) {
	t.Helper()
	ctx := context.Background()
	clean, r = modelRepo(t, model), modelRepo(t, model)
	want, err := clean.Import(ctx, bytes.NewReader(src), ImportOptions{})
	require.NoError(t, err)
	lines := bytes.SplitAfter(src, []byte("\n"))
	_, err = r.Import(ctx, bytes.NewReader(bytes.Join(lines[:n], nil)), ImportOptions{})
	require.NoError(t, err)
	res, err := r.Import(ctx, bytes.NewReader(src), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, added, res.Commits)
	assert.Equal(t, n, res.Skipped)
	assert.Equal(t, want.Head, res.Head, "the same commits a clean import makes")
	again, err = r.Import(ctx, bytes.NewReader(src), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	return clean, r, want, again
}

// A batch the dry run found on the branch is skipped only if the branch
// is still where the fold left it: here the branch is made again at its
// root after the first batch is skipped, so the batches after it are no
// longer on it and must be written.
func TestImportSkipsLandedBatchesOnlyOnAnUnmovedBranch(t *testing.T) {
	ctx := context.Background()
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 3, Events: 4000, Accounts: 40}))
	lines := bytes.SplitAfter(src.Bytes(), []byte("\n"))
	r := newRepo(t)
	root := appendOne(t, r, ev("zz", "X", `{}`))
	_, err := r.CreateBranch(ctx, "imp", root.String(), "t")
	require.NoError(t, err)
	_, err = r.Import(ctx, bytes.NewReader(bytes.Join(lines[:3*importBatchCommits], nil)), ImportOptions{Branch: "imp"})
	require.NoError(t, err)
	calls := 0
	res, err := r.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{Branch: "imp", Progress: func(done, total int) {
		calls++
		if calls == 1 { // the first batch is skipped: the branch starts again at its root
			_, err := r.DeleteBranch(ctx, "imp", "t")
			require.NoError(t, err)
			_, err = r.CreateBranch(ctx, "imp", root.String(), "t")
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, importBatchCommits, res.Skipped)
	assert.Equal(t, 3*importBatchCommits, res.Commits)
	n := 0
	for info, err := range r.Log(ctx, LogOptions{Range: "imp"}) {
		require.NoError(t, err)
		n += len(info.Events)
	}
	assert.Equal(t, 1+3*importBatchCommits, n, "the root, then the three batches after the skipped one")
	head, err := r.Resolve(ctx, "imp")
	require.NoError(t, err)
	assert.Equal(t, head, res.Head)
}

// A long line costs its length, not a chunk's worth of it: the buffer
// that keeps a chunk's lines for reading them again grows as it fills.
func TestImportLongLineCostsItsLength(t *testing.T) {
	ctx := context.Background()
	var in bytes.Buffer
	fmt.Fprintf(&in, `{"stream":"s","type":"Big","data":{"blob":%q}}`+"\n", strings.Repeat("x", 4<<20))
	for i := range 10 {
		fmt.Fprintf(&in, `{"stream":"s","type":"Small","data":{"n":%d}}`+"\n", i)
	}
	r := newRepo(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	assert.Equal(t, 11, res.Events)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(512<<20), "bytes allocated for an import of 4 MiB")
}

// Each commit of an import holds its own lines, in input order, whether
// it holds one event or several: with --batch, and with the commit
// headers of an export, whose commits hold up to three events here.
func TestImportCommitsHoldTheirLinesInOrder(t *testing.T) {
	ctx := context.Background()
	events := bankgen.Generate(bankgen.Config{Seed: 3, Events: 2500, Accounts: 40})
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 3, Events: 2500, Accounts: 40}))
	a := newRepo(t)
	_, err := a.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	res, err := a.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{Batch: 3})
	require.NoError(t, err)
	require.Equal(t, (2500+2)/3, res.Commits)

	var commits []*CommitInfo
	for c, err := range a.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		commits = append(commits, c)
	}
	slices.Reverse(commits)
	n := 0
	for i, c := range commits {
		require.Len(t, c.Events, min(3, 2500-3*i), "commit %d", i)
		for _, e := range c.Events {
			want := events[n]
			assert.Equal(t, want.Stream, e.Stream, "event %d", n)
			assert.Equal(t, want.Type, e.Type, "event %d", n)
			if want.Data.Amount != 0 {
				assert.Contains(t, string(e.Data), fmt.Sprintf(`":%d}`, want.Data.Amount), "event %d", n)
			}
			n++
		}
	}
	assert.Equal(t, 2500, n)

	var exp bytes.Buffer
	require.NoError(t, a.Export(ctx, &exp, ExportOptions{}))
	b := newRepo(t)
	_, err = b.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	res2, err := b.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, res.Head, res2.Head, "same commits from the export's headers")
}

// An export imported on top of other commits gets other commit IDs (each
// covers its parent); a commit of the input that reverts an earlier one
// names it by its old ID, and must revert the commit it became, also
// when the earlier one landed in a run that was interrupted.
func TestImportedRevertsFollowRenamedCommits(t *testing.T) {
	ctx := context.Background()
	a := newRepo(t)
	n := importBatchCommits + 5
	var open []EventInput
	for i := range n {
		open = append(open, ev(fmt.Sprintf("acc-%d", i), "Opened", `{}`))
	}
	_, err := a.Append(ctx, open, AppendOptions{})
	require.NoError(t, err)
	for i := range n {
		_, err := a.Append(ctx, []EventInput{ev(fmt.Sprintf("acc-%d", i), "Deposited", fmt.Sprintf(`{"amount":%d}`, i))}, AppendOptions{})
		require.NoError(t, err)
		if i == importBatchCommits+2 {
			_, err = a.Revert(ctx, fmt.Sprintf("HEAD~%d", importBatchCommits-7), RevertOptions{}) // in the first batch
			require.NoError(t, err)
			_, err = a.Revert(ctx, "HEAD~1", RevertOptions{}) // in the same batch
			require.NoError(t, err)
		}
	}
	var exp bytes.Buffer
	require.NoError(t, a.Export(ctx, &exp, ExportOptions{}))
	lines := bytes.SplitAfter(exp.Bytes(), []byte("\n"))
	first := bytes.Join(lines[:n+importBatchCommits-1], nil) // the first batch: 1000 commits

	for _, interrupted := range []bool{false, true} {
		b := newRepo(t)
		_, err := b.Append(ctx, []EventInput{ev("other", "X", `{}`)}, AppendOptions{})
		require.NoError(t, err)
		if interrupted {
			_, err = b.Import(ctx, bytes.NewReader(first), ImportOptions{})
			require.NoError(t, err)
		}
		res, err := b.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
		require.NoError(t, err)
		if interrupted {
			assert.Equal(t, importBatchCommits, res.Skipped)
		}
		rep, err := b.Fsck(ctx, FsckOptions{})
		require.NoError(t, err)
		assert.True(t, rep.OK, "interrupted %v: %v", interrupted, rep.Problems)

		// The reverts name the commits of b that hold the reverted events.
		var reverts int
		for c, err := range b.Log(ctx, LogOptions{}) {
			require.NoError(t, err)
			for _, id := range c.Reverts {
				reverts++
				target, err := b.Show(ctx, id.String())
				require.NoError(t, err, "interrupted %v: %s reverts %s", interrupted, c.ID.Short(), id.Short())
				require.Len(t, target.Events, 1)
				require.Len(t, c.Events, 1)
				assert.Equal(t, target.Events[0].Stream, c.Events[0].Stream)
				assert.JSONEq(t, `{"amount":null}`, string(c.Events[0].Data))
			}
		}
		assert.Equal(t, 2, reverts, "interrupted %v", interrupted)
	}
}

// An export imported back into the repository it came from: every batch
// is landed by its commits' IDs. A commit made while the import writes
// (the branch moves, the dry run is trusted no more) must not make the
// batches after it be written again; an input edited since the export
// (a commit holding other events than the one its id names) is not taken
// as landed; and a batch split where its landed commits end is found
// whole when the import runs again.
func TestImportLandedByIDs(t *testing.T) {
	ctx := context.Background()
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 5, Events: 3000, Accounts: 30}))
	r := modelRepo(t, bankgen.Model)
	_, err := r.Import(ctx, bytes.NewReader(src.Bytes()), ImportOptions{})
	require.NoError(t, err)
	var exp bytes.Buffer
	require.NoError(t, r.Export(ctx, &exp, ExportOptions{}))

	moved := false
	res, err := r.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{Progress: func(done, total int) {
		if !moved {
			moved = true
			appendOne(t, r, ev("acc-000001", "MoneyDeposited", `{"amount":1}`))
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Commits)
	commits := 0
	for _, err := range r.Log(ctx, LogOptions{Range: "HEAD"}) {
		require.NoError(t, err)
		commits++
	}
	assert.Equal(t, 3001, commits, "nothing written twice")

	// Plain lines after the last header join its commit (--batch 3): the
	// input's commit then holds more events than the one its id names,
	// which is on the branch. Refused, nothing written: skipped, the five
	// were lost; written, the commit's own event was written twice.
	plain := []byte(`{"stream":"acc-000001","type":"MoneyDeposited","data":{"amount":7}}` + "\n")
	edited := append(bytes.Clone(exp.Bytes()), bytes.Repeat(plain, 5)...)
	s := modelRepo(t, bankgen.Model)
	_, err = s.Import(ctx, bytes.NewReader(exp.Bytes()), ImportOptions{})
	require.NoError(t, err)
	before, err := s.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	_, err = s.Import(ctx, bytes.NewReader(edited), ImportOptions{Batch: 3})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "line 3000: commit ")
	after, err := s.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing written")

	// A split batch (its first commits landed by ID, the rest new) is
	// found whole by a run again.
	u := modelRepo(t, bankgen.Model)
	lines := bytes.SplitAfter(exp.Bytes(), []byte("\n"))
	_, err = u.Import(ctx, bytes.NewReader(bytes.Join(lines[:2500], nil)), ImportOptions{})
	require.NoError(t, err)
	mixed := append(bytes.Join(lines[:2500], nil), bytes.Repeat([]byte(`{"stream":"acc-000002","type":"MoneyDeposited","data":{"amount":3},"commit":{"message":"hand"}}`+"\n"), 300)...)
	res, err = u.Import(ctx, bytes.NewReader(mixed), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 300, res.Commits)
	res, err = u.Import(ctx, bytes.NewReader(mixed), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Commits)
	assert.Equal(t, 2800, res.Skipped)
}

// TestImportGrownInputWhileAnotherWriterCommits: the batches of a grown
// input that an earlier import landed, found by the input's prefix keys,
// are skipped on the untrusted path too, once another writer moved the
// branch during the import.
func TestImportGrownInputWhileAnotherWriterCommits(t *testing.T) {
	ctx := context.Background()
	once := bankModelOpenOnce(t)
	src, lines := grownInput(t)
	r := modelRepo(t, once)
	for _, n := range []int{1500, 2700} {
		_, err := r.Import(ctx, bytes.NewReader(bytes.Join(lines[:n], nil)), ImportOptions{})
		require.NoError(t, err)
	}
	moved := false
	res, err := r.Import(ctx, bytes.NewReader(src), ImportOptions{Progress: func(done, total int) {
		if !moved {
			moved = true
			_, err := r.Append(ctx, []EventInput{ev("side-1", "AccountOpened", `{"owner":"s"}`)}, AppendOptions{Actor: "side"})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, 1000, res.Commits, "the lines the input grew by")
	assert.Equal(t, 2700, res.Skipped)
	assert.Equal(t, 3701, eventsOnHead(t, r), "every event once, and the other writer's")
}

// bankModelOpenOnce is the banking model with accounts that open once: a
// fold of an AccountOpened again is refused.
func bankModelOpenOnce(t *testing.T) string {
	t.Helper()
	once := strings.Replace(bankgen.Model, "  AccountOpened:\n", "  AccountOpened:\n    require: [\"state == nil\"]\n", 1)
	require.NotEqual(t, bankgen.Model, once)
	return once
}

// grownInput is a banking input of 3,700 events, and its lines, to import
// in parts that grow.
func grownInput(t *testing.T) ([]byte, [][]byte) {
	t.Helper()
	var src bytes.Buffer
	require.NoError(t, bankgen.Write(&src, bankgen.Config{Seed: 8, Events: 3700, Accounts: 60}))
	return src.Bytes(), bytes.SplitAfter(src.Bytes(), []byte("\n"))
}

// plainLines is n NDJSON lines without commit headers, one event each.
func plainLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"stream":"s%d","type":"T","data":{"i":%d}}`+"\n", i%50, i)
	}
	return out
}

// eventsOnHead counts the events on HEAD's line.
func eventsOnHead(t *testing.T, r *Repository) int {
	t.Helper()
	n := 0
	for info, err := range r.Log(context.Background(), LogOptions{}) {
		require.NoError(t, err)
		n += len(info.Events)
	}
	return n
}

// TestImportGrownThriceWhileAnotherWriterCommits: grown three times, the
// second import split its batch where the first ended and wrote the rest;
// the third, moved under by another writer, finds on the untrusted path
// both parts (by their start keys) and does not write them again.
func TestImportGrownThriceWhileAnotherWriterCommits(t *testing.T) {
	ctx := context.Background()
	ls := plainLines(2000)
	r := newRepo(t)
	for _, n := range []int{1500, 1700} {
		_, err := r.Import(ctx, strings.NewReader(strings.Join(ls[:n], "")), ImportOptions{})
		require.NoError(t, err)
	}
	moved := false
	res, err := r.Import(ctx, strings.NewReader(strings.Join(ls, "")), ImportOptions{Progress: func(done, total int) {
		if !moved {
			moved = true
			_, err := r.Append(ctx, []EventInput{ev("side", "X", `{}`)}, AppendOptions{Actor: "side"})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, 300, res.Commits)
	assert.Equal(t, 2001, eventsOnHead(t, r), "every event once, and the other writer's")
}

// TestImportGrownAfterCommitsLandedByID: an input whose first batch
// lands by its header IDs (an export of this branch) and whose commits
// after get other IDs here, grown and imported again: the batch after
// the landed one still looks for the prefix the earlier import landed.
func TestImportGrownAfterCommitsLandedByID(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for i := range importBatchCommits {
		appendOne(t, r, ev(fmt.Sprintf("a%d", i%10), "T", fmt.Sprintf(`{"i":%d}`, i)))
	}
	var exp bytes.Buffer
	require.NoError(t, r.Export(ctx, &exp, ExportOptions{}))
	var extra strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&extra, `{"stream":"b","type":"T","data":{"i":%d},"commit":{"message":"m%d"}}`+"\n", i, i)
	}
	for _, n := range []int{500, 1000} {
		in := exp.String() + strings.Join(strings.SplitAfter(extra.String(), "\n")[:n], "")
		res, err := r.Import(ctx, strings.NewReader(in), ImportOptions{})
		require.NoError(t, err)
		assert.Equal(t, 500, res.Commits, "%d lines", n)
	}
	assert.Equal(t, 2000, eventsOnHead(t, r))
}

// TestImportGrownRenamesAcrossAnotherWritersCommit: an export imported
// onto another history in growing parts, another writer's commit landing
// between two of them; a later commit of the input that reverts one in
// the part found by its prefix key reverts the commit that one became.
func TestImportGrownRenamesAcrossAnotherWritersCommit(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	var ids []object.ID
	for i := range 2000 {
		o := AppendOptions{}
		if i == 1900 {
			o.Reverts = []object.ID{ids[1200]}
		}
		res, err := src.Append(ctx, []EventInput{ev("a", "T", fmt.Sprintf(`{"i":%d}`, i))}, o)
		require.NoError(t, err)
		ids = append(ids, res.Commit)
	}
	var exp bytes.Buffer
	require.NoError(t, src.Export(ctx, &exp, ExportOptions{}))
	lines := strings.SplitAfter(exp.String(), "\n")
	r := newRepo(t)
	appendOne(t, r, ev("other", "X", `{}`)) // another history
	for _, n := range []int{1500, 1700, 2000} {
		if n == 1700 {
			appendOne(t, r, ev("side", "X", `{}`))
		}
		_, err := r.Import(ctx, strings.NewReader(strings.Join(lines[:n], "")), ImportOptions{})
		require.NoError(t, err)
	}
	var want, got object.ID
	for info, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		if len(info.Events) == 1 && string(info.Events[0].Data) == `{"i":1200}` {
			want = info.ID
		}
		if len(info.Reverts) > 0 {
			got = info.Reverts[0]
		}
	}
	require.False(t, want.IsZero())
	assert.Equal(t, want, got, "the revert names the commit i=1200 became")
}

// TestImportStopsWhenTheModelChanges: a model set during an import (here
// from its progress callback, after its first batch) stops it before its
// next batch, whose events were checked under the old model; run again,
// it skips what landed and folds the rest under the new one.
func TestImportStopsWhenTheModelChanges(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, bankgen.Model)
	src, _ := grownInput(t)
	changed := false
	_, err := r.Import(ctx, bytes.NewReader(src), ImportOptions{Progress: func(done, total int) {
		if !changed {
			changed = true
			_, err := r.SetModel(ctx, []byte(bankModelEvery(50)), "test")
			require.NoError(t, err)
		}
	}})
	require.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "the model changed during the import")
	assert.Equal(t, importBatchCommits, eventsOnHead(t, r), "the first batch landed, no other")
	res, err := r.Import(ctx, bytes.NewReader(src), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, importBatchCommits, res.Skipped)
	assert.Equal(t, 3700, eventsOnHead(t, r))
}

// Data nested as deep as evgit takes, MaxJSONDepth levels, goes through
// Append, export and import alike, and one level more is refused by both:
// until session 18 Append took 513 levels of empty arrays, and the
// import of their export refused the line.
func TestDeepestDataRoundTrips(t *testing.T) {
	ctx := context.Background()
	deep := func(n int) json.RawMessage {
		return json.RawMessage(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	src := newRepo(t)
	_, err := src.Append(ctx, []EventInput{{Stream: "s", Type: "T", Data: deep(object.MaxJSONDepth)}}, AppendOptions{Actor: "a"})
	require.NoError(t, err)
	_, err = src.Append(ctx, []EventInput{{Stream: "s", Type: "T", Data: deep(object.MaxJSONDepth + 1)}}, AppendOptions{Actor: "a"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "nested deeper than 512")

	var out bytes.Buffer
	require.NoError(t, src.Export(ctx, &out, ExportOptions{}))
	dst := newRepo(t)
	_, err = dst.Import(ctx, bytes.NewReader(out.Bytes()), ImportOptions{Actor: "a"})
	require.NoError(t, err)
	a, err := src.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	b, err := dst.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, a, b)

	line := `{"stream":"s","type":"T","data":` + string(deep(object.MaxJSONDepth+1)) + "}\n"
	_, err = dst.Import(ctx, strings.NewReader(line), ImportOptions{Actor: "a"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "nested deeper than 512")
}
