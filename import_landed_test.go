package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

// smallBatches cuts imports into batches of at most commits commits and
// events events for the test, so that a small input makes many.
func smallBatches(t *testing.T, commits, events int) {
	t.Helper()
	oc, oe := importBatchCommits, importBatchEvents
	importBatchCommits, importBatchEvents = commits, events
	t.Cleanup(func() { importBatchCommits, importBatchEvents = oc, oe })
}

// importString imports src onto HEAD's branch and fails the test on an
// error.
func importString(t *testing.T, r *Repository, src string, opts ImportOptions) *ImportResult {
	t.Helper()
	res, err := r.Import(context.Background(), strings.NewReader(src), opts)
	require.NoError(t, err)
	return res
}

// afterBatch returns opts whose progress runs f once, after the k-th
// batch.
func afterBatch(k int, opts ImportOptions, f func()) ImportOptions {
	calls := 0
	opts.Progress = func(int, int) {
		if calls++; calls == k {
			f()
		}
	}
	return opts
}

// lineOf returns the events on rev's first-parent line, oldest first, as
// "stream|type|data".
func lineOf(t *testing.T, r *Repository, rev string) []string {
	t.Helper()
	var out []string
	for info, err := range r.Log(context.Background(), LogOptions{Range: rev, FirstParent: true, Reverse: true}) {
		require.NoError(t, err)
		for _, e := range info.Events {
			out = append(out, e.Stream+"|"+e.Type+"|"+string(e.Data))
		}
	}
	return out
}

// inputOf returns an input's events in the form of lineOf.
func inputOf(t *testing.T, src []byte) []string {
	t.Helper()
	ls, err := ReadLines(bytes.NewReader(src), true)
	require.NoError(t, err)
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Event.Stream + "|" + l.Event.Type + "|" + string(l.data)
	}
	return out
}

// A cut of one input that holds, event for event, a cut another input
// landed on the branch is not that cut: the other input's events are
// not this one's. Found by a helper's audit: each day's deposits imported
// from a file of their own, the second day's last deposit (the same
// amount to the same account) was dropped.
func TestImportWritesACutLikeAnotherInputs(t *testing.T) {
	deposit := `{"stream":"a","type":"Deposited","data":{"amount":100}}` + "\n"
	r := newRepo(t)
	importString(t, r, deposit, ImportOptions{})
	day2 := strings.Join(plainLines(importBatchCommits), "") + deposit
	res := importString(t, r, day2, ImportOptions{})
	assert.Equal(t, importBatchCommits+1, res.Commits, "every line of day 2 (skipped %d)", res.Skipped)
	assert.Equal(t, importBatchCommits+2, eventsOnHead(t, r))

	// The same for a cut in the middle of an input.
	smallBatches(t, 7, 20)
	s := newRepo(t)
	xs := plainLines(7)
	importString(t, s, strings.Join(xs, ""), ImportOptions{})
	ys := strings.Repeat(`{"stream":"y","type":"T","data":{}}`+"\n", 7)
	zs := strings.Repeat(`{"stream":"z","type":"T","data":{}}`+"\n", 3)
	res = importString(t, s, ys+strings.Join(xs, "")+zs, ImportOptions{})
	assert.Equal(t, 17, res.Commits)
	want := append(inputOf(t, []byte(strings.Join(xs, ""))), inputOf(t, []byte(ys+strings.Join(xs, "")+zs))...)
	assert.Equal(t, want, lineOf(t, s, "HEAD"))
}

// An input imported whole, then an earlier, shorter version of it (as a
// slower import that read the file before it grew would): every event
// is on the branch, and nothing is written again, whether the shorter
// version ends inside the longer one's first cut or a later one, and
// whether the longer import lands before the shorter starts or while it
// runs. Found by a helper's audit: the shorter one's last cut was
// written again.
func TestImportShorterVersionAfterALongerOne(t *testing.T) {
	ls := plainLines(2000)
	long := strings.Join(ls, "")
	for _, n := range []int{1, 500, 1000, 1500, 1999} {
		r := newRepo(t)
		importString(t, r, long, ImportOptions{})
		res := importString(t, r, strings.Join(ls[:n], ""), ImportOptions{})
		assert.Equal(t, 0, res.Commits, "n=%d", n)
		assert.Equal(t, n, res.Skipped, "n=%d", n)
		assert.Equal(t, 2000, eventsOnHead(t, r), "n=%d", n)
	}
	for _, pre := range []bool{false, true} {
		r := newRepo(t)
		if pre {
			appendOne(t, r, ev("pre", "X", `{}`))
		}
		importString(t, r, strings.Join(ls[:1500], ""), afterBatch(1, ImportOptions{}, func() {
			importString(t, r, long, ImportOptions{})
		}))
		got := lineOf(t, r, "HEAD")
		if pre {
			got = got[1:]
		}
		assert.Equal(t, inputOf(t, []byte(long)), got, "raced, pre=%v", pre)
	}
}

// An import of a grown input that another import of the input's first
// lines overtakes (lands its second cut after the grown one's first)
// writes only what follows: the grown one's second cut is split where
// the other ended. Found by a helper's audit: lines 1001-1500 were
// written twice, or, under a model where an account opens once, the
// grown import failed half written.
func TestImportGrownInputOvertakenByItsPrefix(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, `{"stream":"acc-%04d","type":"AccountOpened","data":{"owner":"o"}}`+"\n", i)
	}
	grown := b.String()
	ls := strings.SplitAfter(grown, "\n")
	for _, mdl := range []string{"", bankModelOpenOnce(t)} {
		for _, pre := range []bool{false, true} {
			name := fmt.Sprintf("model=%v pre=%v", mdl != "", pre)
			r := newRepo(t)
			if mdl != "" {
				_, err := r.SetModel(context.Background(), []byte(mdl), "t")
				require.NoError(t, err)
			}
			if pre {
				appendOne(t, r, ev("pre", "Noted", `{}`))
			}
			_, err := r.Import(context.Background(), strings.NewReader(grown), afterBatch(1, ImportOptions{}, func() {
				importString(t, r, strings.Join(ls[:1500], ""), ImportOptions{})
			}))
			require.NoError(t, err, name)
			got := lineOf(t, r, "HEAD")
			if pre {
				got = got[1:]
			}
			assert.Equal(t, inputOf(t, []byte(grown)), got, name)
		}
	}
}

// An input whose first lines are an imported input's and whose next
// line is not: the lines it shares are found, the next one is written.
// A commit another writer made after an import is not taken for the
// input's: only commits an import of the same input wrote are.
func TestImportFindsOnlyWhatAnImportOfTheInputWrote(t *testing.T) {
	smallBatches(t, 7, 20)
	ls := plainLines(20)
	r := newRepo(t)
	importString(t, r, strings.Join(ls, ""), ImportOptions{})
	x := `{"stream":"x","type":"T","data":{}}` + "\n"
	res := importString(t, r, strings.Join(ls[:10], "")+x, ImportOptions{})
	assert.Equal(t, 1, res.Commits)
	assert.Equal(t, 10, res.Skipped)
	assert.Equal(t, inputOf(t, []byte(strings.Join(ls, "")+x)), lineOf(t, r, "HEAD"))

	// Line 9 with a meta of its own is another event: it and line 10
	// are written.
	m := newRepo(t)
	importString(t, m, strings.Join(ls, ""), ImportOptions{})
	edited := slices.Clone(ls[:10])
	edited[8] = strings.Replace(edited[8], `"data"`, `"meta":{"src":"b"},"data"`, 1)
	res = importString(t, m, strings.Join(edited, ""), ImportOptions{})
	assert.Equal(t, 2, res.Commits)
	assert.Equal(t, 22, eventsOnHead(t, m))

	s := newRepo(t)
	importString(t, s, strings.Join(ls[:2], ""), ImportOptions{})
	appendOne(t, s, ev("s2", "T", `{"i":2}`)) // the input's third line, by hand
	res = importString(t, s, strings.Join(ls[:3], ""), ImportOptions{})
	assert.Equal(t, 1, res.Commits, "the third line is written: the hand commit is not the input's")
	assert.Equal(t, 4, eventsOnHead(t, s))
}

// Versions of one input, each the first lines of the next or of the one
// before, imported in a random order, some interrupted, some while
// another version's import runs, some with another writer's commit
// between: the branch ends up holding the longest version's events,
// each once and in order, beside the other writer's; under a model where
// an account opens once, none is refused.
func TestImportVersionsOfAnInputInAnyOrder(t *testing.T) {
	smallBatches(t, 7, 20)
	ctx := context.Background()
	var plain bytes.Buffer
	require.NoError(t, bankgen.Write(&plain, bankgen.Config{Seed: 21, Events: 150, Accounts: 15}))
	// An export of those events, imported under a commit of another
	// history: its header IDs name commits that are not made again.
	exporter := newRepo(t)
	_, err := exporter.Import(ctx, bytes.NewReader(plain.Bytes()), ImportOptions{Actor: "bank"})
	require.NoError(t, err)
	var export bytes.Buffer
	require.NoError(t, exporter.Export(ctx, &export, ExportOptions{}))
	once := bankModelOpenOnce(t)
	for _, v := range []struct {
		name  string
		src   []byte
		batch int
	}{{"plain", plain.Bytes(), 1}, {"plain", plain.Bytes(), 3}, {"export", export.Bytes(), 1}} {
		src, batch := bytes.NewBuffer(v.src), v.batch
		lines := bytes.SplitAfter(src.Bytes(), []byte("\n"))
		lines = lines[:len(lines)-1]
		for seed := range uint64(16) {
			rng := rand.New(rand.NewPCG(seed, uint64(batch)))
			r := modelRepo(t, once)
			appendOne(t, r, ev("other", "Noted", `{}`))
			sides := []string{`other|Noted|{}`}
			version := func() []byte {
				n := batch * (1 + rng.IntN(len(lines)/batch)) // whole commits
				return bytes.Join(lines[:min(n, len(lines))], nil)
			}
			longest := 0
			for step := range 8 {
				in := version()
				name := fmt.Sprintf("%s batch=%d seed=%d step=%d len=%d", v.name, batch, seed, step, len(in))
				opts := ImportOptions{Batch: batch}
				switch rng.IntN(4) {
				case 0: // interrupted first
					c, cancel := context.WithCancel(ctx)
					_, err := r.Import(c, bytes.NewReader(in), afterBatch(1+rng.IntN(4), opts, cancel))
					if err != nil && !errors.Is(err, context.Canceled) {
						require.NoError(t, err, name)
					}
					cancel()
				case 1: // another version lands while it runs
					other := version()
					opts = afterBatch(1+rng.IntN(4), opts, func() {
						_, err := r.Import(ctx, bytes.NewReader(other), ImportOptions{Batch: batch})
						require.NoError(t, err, name+" (inner)")
						longest = max(longest, len(other))
					})
				case 2: // another writer's commit first
					s := fmt.Sprintf("side-%d", step)
					appendOne(t, r, ev(s, "AccountOpened", `{"owner":"s"}`))
					sides = append(sides, s+`|AccountOpened|{"owner":"s"}`)
				}
				_, err := r.Import(ctx, bytes.NewReader(in), opts)
				require.NoError(t, err, name)
				longest = max(longest, len(in))
				got := slices.DeleteFunc(lineOf(t, r, "HEAD"), func(e string) bool { return slices.Contains(sides, e) })
				if !assert.Equal(t, inputOf(t, src.Bytes()[:longest]), got, name) {
					break
				}
			}
			rep, err := r.Fsck(ctx, FsckOptions{})
			require.NoError(t, err)
			assert.True(t, rep.OK, "%v", rep.Problems)
			_, err = r.VerifySnapshots(ctx, "HEAD")
			assert.NoError(t, err)
		}
	}
}

// An input holding a commit whose idempotency key the branch has already
// (retried, not written again), then the input grown, then its first
// lines again: only the lines added are written. The run that retried a
// commit holds fewer commits than the input there; the retried one is
// found by its key. A batch that retried every commit, and so wrote
// nothing, does not take another writer's commit after the retried one
// for its own. Found by a helper's audit.
func TestImportGrownAfterARunThatRetriedAKey(t *testing.T) {
	ctx := context.Background()
	keyed := `{"stream":"k","type":"T","data":{"v":1},"commit":{"message":"","actor":"test","idempotency_key":"k1"}}` + "\n"
	line := func(s string) string {
		return `{"stream":"` + s + `","type":"T","data":{},"commit":{"message":"` + s + `"}}` + "\n"
	}
	for _, v1 := range []string{keyed + line("a") + line("b"), line("a") + keyed + line("b"), keyed} {
		r := newRepo(t)
		_, err := r.Append(ctx, []EventInput{ev("k", "T", `{"v":1}`)}, AppendOptions{Actor: "test", IdempotencyKey: "k1"})
		require.NoError(t, err)
		appendOne(t, r, ev("c", "T", `{}`)) // another writer's, as the input's next line will be
		res := importString(t, r, v1, ImportOptions{})
		require.Equal(t, strings.Count(v1, "\n")-1, res.Commits)
		res = importString(t, r, v1+`{"stream":"c","type":"T","data":{},"commit":{"message":""}}`+"\n", ImportOptions{})
		assert.Equal(t, 1, res.Commits, "%q: only the added line", v1)
		assert.Equal(t, strings.Count(v1, "\n")+2, eventsOnHead(t, r), "%q: %v", v1, lineOf(t, r, "HEAD"))
		if lines := strings.SplitAfter(v1, "\n"); len(lines) > 3 {
			res = importString(t, r, lines[0]+lines[1], ImportOptions{})
			assert.Equal(t, 0, res.Commits, "%q: its first two lines", v1)
			assert.Equal(t, strings.Count(v1, "\n")+2, eventsOnHead(t, r), "%q: %v", v1, lineOf(t, r, "HEAD"))
		}
	}
}

// The rest of a cut split where an earlier import ended, found in part
// by the time it is written (an import of a longer version landed
// meanwhile), records a start key where the part it writes begins: an
// import of a version that ends inside that part finds it. Found by a
// helper's audit.
func TestImportRestOfASplitCutFoundInPart(t *testing.T) {
	smallBatches(t, 7, 100)
	ls := plainLines(14)
	in := func(n int) string { return strings.Join(ls[:n], "") }
	r := newRepo(t)
	importString(t, r, in(9), ImportOptions{}) // its second cut ends after 2 commits
	// 14 lines: the second cut splits after 2; after the first cut, 11
	// lines land commits 3 and 4 of the second cut; the rest writes 5-7.
	res := importString(t, r, in(14), afterBatch(2, ImportOptions{}, func() {
		importString(t, r, in(11), ImportOptions{})
	}))
	require.Equal(t, 3, res.Commits)
	res = importString(t, r, in(13), ImportOptions{})
	assert.Equal(t, 0, res.Commits, "skipped %d", res.Skipped)
	assert.Equal(t, inputOf(t, []byte(in(14))), lineOf(t, r, "HEAD"))
}

// An input imported onto main, a branch made from main, the input grown
// imported onto the branch: the lines main's import wrote are on the
// branch's line, found by the keys recorded on main, as a commit's
// idempotency key is. Found by a helper's audit.
func TestImportOntoABranchMadeAfterAnImport(t *testing.T) {
	smallBatches(t, 7, 100)
	ctx := context.Background()
	ls := plainLines(20)
	r := newRepo(t)
	importString(t, r, strings.Join(ls[:10], ""), ImportOptions{})
	_, err := r.CreateBranch(ctx, "dev", "main", "test")
	require.NoError(t, err)
	res := importString(t, r, strings.Join(ls, ""), ImportOptions{Branch: "dev"})
	assert.Equal(t, 10, res.Commits, "skipped %d", res.Skipped)
	assert.Equal(t, inputOf(t, []byte(strings.Join(ls, ""))), lineOf(t, r, "dev"))
}

// countingReader counts the commits read through it.
type countingReader struct {
	reader
	commits int
}

func (c *countingReader) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	kind, body, data, err := c.reader.Get(id)
	if kind == object.KindCommit {
		c.commits++
	}
	return kind, body, data, err
}

// A line set asked about a head that its head's line leads to (an
// import's next batch written on top) reads only the commits between,
// not the whole line again; asked about an unrelated head, it starts
// over. Before, each batch written on a branch holding stale import keys
// (a branch deleted and made again elsewhere) walked the whole line:
// found by a helper's audit, an import 50 times slower.
func TestLineSetFollowsAGrowingHead(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importString(t, r, strings.Join(plainLines(500), ""), ImportOptions{})
	root, err := r.Resolve(ctx, "HEAD~499")
	require.NoError(t, err)
	old, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	rd := &countingReader{reader: r.st}
	var line lineSet
	on, err := line.has(rd, old, root)
	require.NoError(t, err)
	require.True(t, on)
	walked := rd.commits
	require.GreaterOrEqual(t, walked, 500)

	for range 10 {
		appendOne(t, r, ev("x", "T", `{}`))
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	on, err = line.has(rd, head, root)
	require.NoError(t, err)
	assert.True(t, on)
	assert.LessOrEqual(t, rd.commits-walked, 11, "the new commits only")
	on, err = line.has(rd, head, old)
	require.NoError(t, err)
	assert.True(t, on)

	_, err = r.CreateBranch(ctx, "other", "HEAD~600", "t") // the first commit but one
	require.Error(t, err)
	_, err = r.CreateBranch(ctx, "other", root.String(), "t")
	require.NoError(t, err)
	side, err := r.Append(ctx, []EventInput{ev("y", "T", `{}`)}, AppendOptions{Branch: "other"})
	require.NoError(t, err)
	on, err = line.has(rd, side.Commit, old)
	require.NoError(t, err)
	assert.False(t, on, "another line")
	on, err = line.has(rd, side.Commit, root)
	require.NoError(t, err)
	assert.True(t, on)
}

// The head an import reports is its branch's, also when a tag has the
// branch's name (a revision "main" then names the tag, as in Git). Found
// by a helper's audit.
func TestImportHeadIsTheBranchsBesideATagOfItsName(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "T", `{}`))
	_, err := r.CreateTag(ctx, "main", "HEAD", "t")
	require.NoError(t, err)
	res := importString(t, r, `{"stream":"b","type":"T"}`+"\n", ImportOptions{})
	head, err := r.Resolve(ctx, "refs/heads/main")
	require.NoError(t, err)
	assert.Equal(t, head, res.Head)
	res = importString(t, r, `{"stream":"c","type":"T"}`+"\n", ImportOptions{Branch: "main"})
	head, err = r.Resolve(ctx, "refs/heads/main")
	require.NoError(t, err)
	assert.Equal(t, head, res.Head)
}

// The head an import reports is its own last commit, not one another
// writer, waiting for the lock, added as the import ended: "Imported 2
// commits, head X" named the other writer's commit.
func TestImportHeadIsItsOwnBesideAWriterAfterIt(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var other object.ID
	afterImportLanded = func() {
		afterImportLanded = nil
		res, err := r.Append(ctx, []EventInput{ev("c", "T", `{}`)}, AppendOptions{})
		require.NoError(t, err)
		other = res.Commit
	}
	t.Cleanup(func() { afterImportLanded = nil })
	res := importString(t, r, `{"stream":"a","type":"T"}`+"\n"+`{"stream":"b","type":"T"}`+"\n", ImportOptions{})
	require.False(t, other.IsZero())
	info, err := r.Show(ctx, "HEAD~1")
	require.NoError(t, err)
	assert.Equal(t, info.ID, res.Head)
	assert.Equal(t, "b", info.Events[0].Stream)

	// Run again, it finds both on the branch and names its head.
	res = importString(t, r, `{"stream":"a","type":"T"}`+"\n"+`{"stream":"b","type":"T"}`+"\n", ImportOptions{})
	assert.Equal(t, 0, res.Commits)
	assert.Equal(t, other, res.Head)
}

// An input whose commit's header time was corrected since it was
// imported is an edited input: the commit with the new time is written,
// not taken for the one on the branch. A time earlier than the commit
// before it is the one the commit took (times never go back). Found by a
// helper's review.
func TestImportTakesAnEditedHeaderTimeForAnotherCommit(t *testing.T) {
	hdr := func(s, tm string) string {
		return `{"stream":"` + s + `","type":"T","data":{},"commit":{"message":"` + s + `","actor":"x","time":"` + tm + `"}}` + "\n"
	}
	r := newRepo(t)
	appendOne(t, r, ev("other", "T", `{}`)) // so the headers' IDs name no commit here
	importString(t, r, hdr("a", "2027-01-01T00:00:00Z")+hdr("b", "2027-01-02T00:00:00Z"), ImportOptions{})
	res := importString(t, r, hdr("a", "2027-01-01T00:00:00Z")+hdr("b", "2027-01-03T00:00:00Z"), ImportOptions{})
	assert.Equal(t, 1, res.Commits, "skipped %d", res.Skipped)
	info, err := r.Show(context.Background(), "HEAD")
	require.NoError(t, err)
	assert.Equal(t, "2027-01-03", info.Time.UTC().Format("2006-01-02"))

	// Dated before the commit before it: it took that commit's time.
	s := newRepo(t)
	appendOne(t, s, ev("other", "T", `{}`))
	v := hdr("a", "2027-01-05T00:00:00Z") + hdr("b", "2027-01-02T00:00:00Z")
	importString(t, s, v, ImportOptions{})
	res = importString(t, s, v, ImportOptions{})
	assert.Equal(t, 0, res.Commits, "run again")
	res = importString(t, s, hdr("a", "2027-01-05T00:00:00Z"), ImportOptions{})
	assert.Equal(t, 0, res.Commits, "its first line")
	assert.Equal(t, 3, eventsOnHead(t, s))
}

// An import into an empty branch records its runs' keys too. Found by a
// helper's audit of docs/format.md: a batch with keyed commit headers,
// written in the transaction onto a branch with no commit yet, recorded
// none, so the same input imported again found its keyed commits (by
// their keys) and wrote the others a second time.
func TestImportIntoAnEmptyBranchRecordsItsKeys(t *testing.T) {
	keyed := `{"stream":"k","type":"T","data":{"v":1},"commit":{"message":"","actor":"test","idempotency_key":"k1"}}` + "\n"
	line := func(s string) string {
		return `{"stream":"` + s + `","type":"T","data":{},"commit":{"message":"` + s + `"}}` + "\n"
	}
	for _, src := range []string{keyed + line("a") + line("b"), line("a") + keyed + line("b")} {
		r := newRepo(t)
		res := importString(t, r, src, ImportOptions{})
		require.Equal(t, 3, res.Commits)
		res = importString(t, r, src, ImportOptions{})
		assert.Equal(t, 0, res.Commits, "%q imported again", src)
		assert.Equal(t, 3, eventsOnHead(t, r), "%q: %v", src, lineOf(t, r, "HEAD"))
	}
}

// The header's JSON is hashed into the import keys (docs/format.md §6.4):
// a change to it would make imports miss what earlier ones landed.
func TestCommitHeaderJSONIsPinned(t *testing.T) {
	h := CommitHeader{ID: "ab", Message: "a<b", Actor: "ann", Time: "2026-01-01T00:00:00Z", IdempotencyKey: "k", Reverts: []string{"cd"}}
	b, err := json.Marshal(&h)
	require.NoError(t, err)
	require.Equal(t, `{"id":"ab","message":"a\u003cb","actor":"ann","time":"2026-01-01T00:00:00Z","idempotency_key":"k","reverts":["cd"]}`, string(b))
	b, err = json.Marshal(&CommitHeader{})
	require.NoError(t, err)
	require.Equal(t, `{"message":"","actor":"","time":""}`, string(b))
}

// A batch also ends at importBatchBytes of input lines, so that lines of
// a megabyte do not make a transaction larger than a frame holds; the
// cut stays deterministic in the input, and the same input imported
// again finds every batch landed.
func TestImportBatchesEndAtTheirBytes(t *testing.T) {
	old := importBatchBytes
	importBatchBytes = 3000
	t.Cleanup(func() { importBatchBytes = old })
	r := newRepo(t)
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, `{"stream":"s%d","type":"T","data":{"pad":"%0990d"}}`+"\n", i%3, i)
	}
	syncs, _ := r.st.SyncStats()
	res := importString(t, r, b.String(), ImportOptions{})
	assert.Equal(t, 20, res.Commits)
	after, _ := r.st.SyncStats()
	assert.GreaterOrEqual(t, after-syncs, uint64(10), "two lines of about 1 KB a batch")
	res = importString(t, r, b.String(), ImportOptions{})
	assert.Equal(t, 0, res.Commits, "every batch found landed")
	assert.Equal(t, 20, eventsOnHead(t, r))
}
