package evgit

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/snapshot"
	"github.com/evgit/evgit/walk"
)

// TestImportBadLineWinsOverRefusedEvent: the fold refuses an early event
// while the parser has not yet reached a malformed line further on; the
// import reports the line, as it would without the refusal, and writes
// nothing.
func TestImportBadLineWinsOverRefusedEvent(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, bankgen.Model)
	var in strings.Builder
	in.WriteString(`{"stream":"acc-1","type":"MoneyWithdrawn","data":{"amount":5}}` + "\n")
	for i := range 3 * parseChunkLines {
		fmt.Fprintf(&in, `{"stream":"acc-%d","type":"AccountOpened","data":{"owner":"o"}}`+"\n", i+2)
	}
	in.WriteString("{not json\n")
	_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), fmt.Sprintf("line %d:", 3*parseChunkLines+2))
	_, err = r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, walk.ErrUnknownRevision, "nothing written")

	// Without the bad line, the refusal is what the import reports.
	_, err = r.Import(ctx, strings.NewReader(strings.TrimSuffix(in.String(), "{not json\n")), ImportOptions{})
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), "line 1:")
	_, err = r.Resolve(ctx, "HEAD")
	require.ErrorIs(t, err, walk.ErrUnknownRevision, "nothing written")
}

// TestImportOntoSnapshots imports a workload in two parts: the second
// import's snapshot builder starts from the tree the first one left,
// which it reads ahead, and every snapshot it records equals a fold of
// the events from the start.
func TestImportOntoSnapshots(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 3, Events: 6000, Accounts: 300}
	var all bytes.Buffer
	require.NoError(t, bankgen.Write(&all, cfg))
	lines := strings.SplitAfter(all.String(), "\n")
	r := modelRepo(t, bankModelEvery(20))
	for _, part := range []string{strings.Join(lines[:2500], ""), strings.Join(lines[2500:], "")} {
		_, err := r.Import(ctx, strings.NewReader(part), ImportOptions{})
		require.NoError(t, err)
	}
	checked, err := r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	assert.Greater(t, checked, 2500/20/importSnapshotStride)
	events := bankgen.Generate(cfg)
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	checkTree(t, r, head, expectAt(events, len(events)))
	mid, err := r.Resolve(ctx, "HEAD~1000")
	require.NoError(t, err)
	checkTree(t, r, mid, expectAt(events, len(events)-1000))
}

// TestImportEncodesAheadOnlyWhatItMay: an event whose meta lacks the
// actor while the import has one is completed by its commit; either way
// the commits are those an Append of the same events makes.
func TestImportEncodesAheadOnlyWhatItMay(t *testing.T) {
	ctx := context.Background()
	lines := []string{
		`{"stream":"s","type":"Set","data":{"n":1},"meta":{"time":"2026-01-01T00:00:00Z","actor":"ann"}}`,
		`{"stream":"s","type":"Set","data":{"n":2},"meta":{"time":"2026-01-01T00:00:01Z"}}`,
	}
	for _, actor := range []string{"", "importer"} {
		imp := newRepo(t)
		_, err := imp.Import(ctx, strings.NewReader(strings.Join(lines, "\n")), ImportOptions{Actor: actor})
		require.NoError(t, err)
		app := newRepo(t)
		for _, l := range lines {
			in, err := ParseLine([]byte(l), false)
			require.NoError(t, err)
			tm, err := time.Parse(time.RFC3339, in.Event.Meta["time"])
			require.NoError(t, err)
			o := AppendOptions{Actor: actor, Time: tm}
			_, err = app.Append(ctx, []EventInput{in.Event}, o)
			require.NoError(t, err)
		}
		want, err := app.Resolve(ctx, "HEAD")
		require.NoError(t, err)
		got, err := imp.Resolve(ctx, "HEAD")
		require.NoError(t, err)
		assert.Equal(t, want, got, "actor %q", actor)
	}
}

// TestSnapshotJobsOfConcurrentCommits: large commits from two writers,
// each a snapshot boundary, share group writes; a snapshot tree built
// beside its commit must find the previous tree even when that tree is
// only in the group (not yet durable), which the build then does in the
// transaction. A tiny node cache makes the builds read nodes back.
func TestSnapshotJobsOfConcurrentCommits(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, "snapshot_every: 50\n")
	r.derivedState.nodes = snapshot.NewCache(16)
	errs := make(chan error, 2)
	for w := range 2 {
		go func() {
			for c := range 20 {
				events := make([]EventInput, 100)
				for i := range events {
					events[i] = ev(fmt.Sprintf("w%d-s%04d", w, (i*37+c*101)%1500), "Set", fmt.Sprintf(`{"n":%d}`, c*100+i))
				}
				if _, err := r.Append(ctx, events, AppendOptions{Actor: "test"}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	// The last commit's snapshot is still building, not recorded: the
	// next commit on the branch, Flush or Close records it.
	checked, err := r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, 39, checked)
	require.NoError(t, r.Flush(ctx))
	checked, err = r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, 40, checked)
}

// TestCloseRecordsSnapshotsStillBuilding: a large commit's snapshot,
// built after its transaction, is recorded by Close, and a load in the
// next process starts from it.
func TestCloseRecordsSnapshotsStillBuilding(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, "snapshot_every: 50\n")
	events := make([]EventInput, 200)
	for i := range events {
		events[i] = ev(fmt.Sprintf("s%03d", i), "Set", fmt.Sprintf(`{"n":%d}`, i))
	}
	res, err := r.Append(ctx, events, AppendOptions{Actor: "test"})
	require.NoError(t, err)
	_, mdlID, err := r.Model(context.Background())
	require.NoError(t, err)
	require.NoError(t, r.Close())
	again, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer again.Close()
	_, ok, err := again.st.Snapshot(res.Commit, mdlID)
	require.NoError(t, err)
	assert.True(t, ok, "Close recorded the snapshot")
	require.NoError(t, again.VerifySnapshot(ctx, res.Commit))
}

// TestImportWhileAnotherWriterCommits: a commit lands on the branch
// between two batches of an import (from its progress callback). The
// batch prepared on the old head is refused, and that batch and the
// rest are written on the new head through the transaction; every event
// is there once and every snapshot is right.
func TestImportWhileAnotherWriterCommits(t *testing.T) {
	importWhileAnotherWriterCommits(t)
	// The batches after the other writer's commit are built again from
	// their lines, read back from the spill file.
	st := withImportHold(t, 4096, 1, func() { importWhileAnotherWriterCommits(t) })
	assert.Greater(t, st.lines, 0, "lines set aside")
}

func importWhileAnotherWriterCommits(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 5, Events: 5000, Accounts: 200}
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, cfg))
	r := modelRepo(t, bankModelEvery(20))
	var side object.ID
	res, err := r.Import(ctx, &in, ImportOptions{Progress: func(done, total int) {
		if side.IsZero() {
			out, err := r.Append(ctx, []EventInput{ev("side-1", "AccountOpened", `{"owner":"s"}`)}, AppendOptions{Actor: "side"})
			require.NoError(t, err)
			side = out.Commit
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, 5000, res.Events)
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, res.Head, head)
	n := 0
	sawSide := false
	for info, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		n += len(info.Events)
		sawSide = sawSide || info.ID == side
	}
	assert.Equal(t, 5001, n)
	assert.True(t, sawSide, "the other writer's commit is on the branch")
	_, err = r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	events := bankgen.Generate(cfg)
	want := expectAt(events, len(events))
	st, err := r.State(ctx, "HEAD", "acc-000000", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(want["acc-000000"].Version), st.Version)
	assert.Equal(t, want["acc-000000"].Balance, decodeAccount(t, st.State).Balance)
}

// TestLargeCommitsFoldInShares: commits large enough to fold on several
// goroutines give the states of the reference fold, and a refused
// commit reports its first refused event, whichever share it is in.
func TestLargeCommitsFoldInShares(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 9, Events: 3 * parallelFoldMin * 2, Accounts: 97}
	events := bankgen.Generate(cfg)
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, cfg))
	lines, err := ReadLines(&in, false)
	require.NoError(t, err)
	r := modelRepo(t, bankModelEvery(50))
	const size = 2 * parallelFoldMin
	for i := 0; i < len(lines); i += size {
		batch := make([]EventInput, 0, size)
		for _, l := range lines[i:min(i+size, len(lines))] {
			batch = append(batch, l.Event)
		}
		_, err := r.Append(ctx, batch, AppendOptions{Actor: "test"})
		require.NoError(t, err)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	checkTree(t, r, head, expectAt(events, len(events)))

	// Two refusals, in streams of different shares: the first is named.
	var batch []EventInput
	for i := range size {
		batch = append(batch, ev(fmt.Sprintf("new-%03d", i), "AccountOpened", `{"owner":"o"}`))
	}
	batch[size-10] = ev("new-001", "MoneyWithdrawn", `{"amount":5}`) // overdraft: late
	batch[100] = ev("new-000", "MoneyWithdrawn", `{"amount":5}`)     // overdraft: first
	_, err = r.Append(ctx, batch, AppendOptions{Actor: "test"})
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), "new-000")
	now, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, head, now, "nothing written")
}

// TestBulkImportSealsItsSegment: a bulk import ends with the newest
// segment indexed, so the next open scans nothing.
func TestBulkImportSealsItsSegment(t *testing.T) {
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, bankgen.Config{Seed: 2, Events: importSealMin, Accounts: 50}))
	r := modelRepo(t, bankgen.Model)
	_, err := r.Import(context.Background(), &in, ImportOptions{})
	require.NoError(t, err)
	sealed, err := r.st.Seal(1)
	require.NoError(t, err)
	assert.False(t, sealed, "the import sealed it already")
}

// TestImportHandsOffAtAnIdempotencyKey: exported commits carry headers;
// one in the second batch has an idempotency key, which the batches
// built ahead cannot check. The batches before it are built ahead, that
// one and the rest in the transaction, read again from their lines: every
// commit lands once, in order, with the right states and snapshots.
func TestImportHandsOffAtAnIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	cfg := bankgen.Config{Seed: 11, Events: 2500, Accounts: 60}
	var gen bytes.Buffer
	require.NoError(t, bankgen.Write(&gen, cfg))
	var in bytes.Buffer
	for i, line := range bytes.Split(bytes.TrimSpace(gen.Bytes()), []byte("\n")) {
		key := ""
		if i == 1500 {
			key = `,"idempotency_key":"k-1500"`
		}
		header := fmt.Sprintf(`,"commit":{"message":"m%d","actor":"a","time":"2026-03-01T00:00:00Z"%s}}`, i, key)
		in.Write(line[:len(line)-1])
		in.WriteString(header + "\n")
	}
	r := modelRepo(t, bankModelEvery(20))
	res, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2500, res.Commits)
	_, err = r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	n := 0
	for info, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("m%d", 2499-n), info.Message)
		n++
	}
	assert.Equal(t, 2500, n)
	want := expectAt(bankgen.Generate(cfg), 2500)
	for _, s := range []string{"acc-000000", "acc-000007"} {
		st, err := r.State(ctx, "HEAD", s, StateOptions{})
		require.NoError(t, err)
		assert.Equal(t, want[s].Balance, decodeAccount(t, st.State).Balance, s)
	}
	// Run again: nothing lands twice.
	again, err := r.Import(ctx, bytes.NewReader(in.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Commits)
	assert.Equal(t, res.Head, again.Head)
}

// The lines an import keeps, to read a batch again, cost about their own
// size however long they are: the parser never grows a buffer it has put
// lines in, which would keep the old array alive beside the new for the
// lines already there.
func TestImportKeepsLinesAtTheirSize(t *testing.T) {
	for _, size := range []int{150, 1000, 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var in bytes.Buffer
			pad := strings.Repeat("x", size)
			for i := 0; in.Len() < 16<<20; i++ {
				fmt.Fprintf(&in, `{"stream":"s-%d","type":"Noted","data":{"note":"%s"}}`+"\n", i%500, pad)
			}
			before := heapInUse()
			chunks, stop := parseAhead(context.Background(), bytes.NewReader(in.Bytes()), nil, "")
			defer stop()
			var kept [][]byte
			for c := range chunks {
				require.NoError(t, c.err)
				for _, l := range c.lines {
					kept = append(kept, l.raw)
				}
			}
			held := heapInUse() - before
			runtime.KeepAlive(kept)
			assert.Less(t, held, uint64(in.Len())*3/2, "%d MB of lines held in %d MB", in.Len()>>20, held>>20)
		})
	}
}

// heapInUse returns the bytes the heap holds after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestImportRefusalNamesItsLine: an event a rule refuses is named by its
// input line, blank lines counted, as a bad line is.
func TestImportRefusalNamesItsLine(t *testing.T) {
	r := modelRepo(t, bankgen.Model)
	in := "\n\n" + `{"stream":"x","type":"AccountOpened","data":{"owner":"o"}}` + "\n\n" + `{"stream":"x","type":"MoneyWithdrawn","data":{"amount":5}}` + "\n"
	_, err := r.Import(context.Background(), strings.NewReader(in), ImportOptions{})
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), "line 5: stream x: MoneyWithdrawn: require")
}
