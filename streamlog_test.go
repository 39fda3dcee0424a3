package evgit

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// streamLogRepo builds a history of commits of one to three events over
// streams a, b and c, with times that repeat, and a branch side forked
// half way with commits of its own.
func streamLogRepo(t *testing.T, n int) *Repository {
	t.Helper()
	ctx := context.Background()
	r := newRepo(t)
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(branch string, i int) {
		var events []EventInput
		for range 1 + rng.IntN(3) {
			stream := []string{"a", "b", "b", "c"}[rng.IntN(4)]
			typ := []string{"Opened", "Moved"}[rng.IntN(2)]
			events = append(events, ev(stream, typ, fmt.Sprintf(`{"i":%d}`, i)))
		}
		_, err := r.Append(ctx, events, AppendOptions{Branch: branch, Message: fmt.Sprint(i), Time: base.Add(time.Duration(i/3) * time.Minute)})
		require.NoError(t, err)
	}
	for i := range n {
		add("main", i)
		if i == n/2 {
			_, err := r.CreateBranch(ctx, "side", "main", "")
			require.NoError(t, err)
		}
	}
	for i := range n / 4 {
		add("side", n+i)
	}
	return r
}

// walkedLog is what walk.Log yields for wo, the answer the line index must
// give.
func walkedLog(t *testing.T, r *Repository, wo walk.LogOptions) []walk.Entry {
	t.Helper()
	var out []walk.Entry
	for e, err := range walk.Log(context.Background(), source{r.st}, wo) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// indexedLog is what streamLog yields for wo; it must take the log.
func indexedLog(t *testing.T, r *Repository, wo walk.LogOptions) []walk.Entry {
	t.Helper()
	var out []walk.Entry
	done, err := r.streamLog(context.Background(), wo, func(e walk.Entry, err error) bool {
		require.NoError(t, err)
		out = append(out, e)
		return true
	})
	require.NoError(t, err)
	require.True(t, done, "the line index takes a log of one stream of a line")
	return out
}

func sameEntries(t *testing.T, want, got []walk.Entry, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for i := range want {
		assert.Equal(t, want[i].ID, got[i].ID, "%s: entry %d", msg, i)
		assert.Equal(t, want[i].Parents, got[i].Parents, "%s: entry %d", msg, i)
		require.Equal(t, len(want[i].Events), len(got[i].Events), msg)
		for j := range want[i].Events {
			assert.Equal(t, want[i].Events[j].ID(), got[i].Events[j].ID(), "%s: entry %d event %d", msg, i, j)
		}
	}
}

// A log of one stream from the line index yields what the walk yields,
// whatever the filters, tips, limits and order.
func TestStreamLogMatchesTheWalk(t *testing.T) {
	ctx := context.Background()
	r := streamLogRepo(t, 240)
	main, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	side, err := r.Resolve(ctx, "side")
	require.NoError(t, err)
	mid, err := r.Resolve(ctx, "main~37")
	require.NoError(t, err)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checked := 0
	for _, tip := range []object.ID{main, side, mid} {
		for _, stream := range []string{"a", "b", "c", "none"} {
			for _, typ := range []string{"", "Opened", "Nope"} {
				for _, since := range []time.Time{{}, base.Add(20 * time.Minute), base.Add(-time.Hour), base.Add(1000 * time.Hour)} {
					for _, until := range []time.Time{{}, base.Add(50 * time.Minute), base.Add(-time.Hour)} {
						for _, mx := range []int{0, 1, 7} {
							for _, rev := range []bool{false, true} {
								wo := walk.LogOptions{Include: []object.ID{tip}, Stream: stream, Type: typ, Since: since, Until: until, Max: mx, Reverse: rev, FirstParent: checked%2 == 0}
								msg := fmt.Sprintf("tip %s %+v", tip.Short(), wo)
								sameEntries(t, walkedLog(t, r, wo), indexedLog(t, r, wo), msg)
								checked++
							}
						}
					}
				}
			}
		}
	}
	// Versions through Log: each event's is its count of its stream's
	// events up to it on the line.
	count := map[string]uint64{}
	want := map[object.ID]map[int]uint64{}
	for e, err := range walk.Log(ctx, source{r.st}, walk.LogOptions{Include: []object.ID{side}, Reverse: true}) {
		require.NoError(t, err)
		want[e.ID] = map[int]uint64{}
		for j, eid := range e.Commit.Events {
			evt, err := r.st.Event(eid)
			require.NoError(t, err)
			count[evt.Stream]++
			want[e.ID][j] = count[evt.Stream]
		}
	}
	n := 0
	for info, err := range r.Log(ctx, LogOptions{Range: "side", Stream: "b", Versions: true}) {
		require.NoError(t, err)
		for j, e := range info.Events {
			assert.Equal(t, want[info.ID][j], e.Version, "commit %s event %d", info.ID.Short(), j)
		}
		n++
	}
	assert.Greater(t, n, 50)
}

// appendMerge makes main's head a merge of main and side, through the
// store (no command makes merges yet).
func appendMerge(t *testing.T, r *Repository) object.ID {
	t.Helper()
	ctx := context.Background()
	main, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	side, err := r.Resolve(ctx, "side")
	require.NoError(t, err)
	mc, err := r.st.Commit(main)
	require.NoError(t, err)
	e := object.NewEvent("a", "Merged", 1, nil, []byte(`{}`))
	var id object.ID
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		c := &object.Commit{Parents: []object.ID{main, side}, Events: []object.ID{tx.PutEvent(e)}, Time: mc.Time, Offset: mc.Offset + 1, Message: "merge"}
		id = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: main, New: id, Time: c.Time, Message: "merge"})
	}))
	return id
}

// A line with a merge is not all of its tip's history: the walk takes
// that log, unless it follows first parents only.
func TestStreamLogLeavesMergesToTheWalk(t *testing.T) {
	ctx := context.Background()
	r := streamLogRepo(t, 60)
	merge := appendMerge(t, r)
	wo := walk.LogOptions{Include: []object.ID{merge}, Stream: "b"}
	done, err := r.streamLog(ctx, wo, func(walk.Entry, error) bool { return true })
	require.NoError(t, err)
	assert.False(t, done)
	var got []object.ID
	for info, err := range r.Log(ctx, LogOptions{Stream: "b"}) {
		require.NoError(t, err)
		got = append(got, info.ID)
	}
	var want []object.ID
	for _, e := range walkedLog(t, r, wo) {
		want = append(want, e.ID)
	}
	assert.Equal(t, want, got)
	wo.FirstParent = true
	sameEntries(t, walkedLog(t, r, wo), indexedLog(t, r, wo), "first parent")
}

// bulkRepo imports n one-event commits over a few streams and closes the
// repository; it returns its folder.
func bulkRepo(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	r := newRepo(t)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"stream":"s%d","type":"T","data":{"i":%d}}`+"\n", i%5, i)
	}
	_, err := r.Import(ctx, strings.NewReader(b.String()), ImportOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return r.GitDir()
}

func streamLogIDs(t *testing.T, r *Repository, stream string) []object.ID {
	t.Helper()
	var ids []object.ID
	for info, err := range r.Log(context.Background(), LogOptions{Stream: stream}) {
		require.NoError(t, err)
		ids = append(ids, info.ID)
	}
	return ids
}

// cachedRepo imports n one-event commits, logs one stream in a process
// of its own so that Close saves the line cache, and returns the folder,
// that log, and the cache file's path and bytes.
func cachedRepo(t *testing.T, n int, stream string) (dir string, want []object.ID, cache string, saved []byte) {
	t.Helper()
	dir = bulkRepo(t, n)
	r, err := Open(context.Background(), dir)
	require.NoError(t, err)
	want = streamLogIDs(t, r, stream)
	require.NoError(t, r.Close())
	cache = filepath.Join(dir, lineCacheName)
	saved, err = os.ReadFile(cache)
	require.NoError(t, err, "Close saves the index")
	return dir, want, cache, saved
}

func walkedSince(r *Repository) int {
	li := &r.derived().line
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.walked
}

// A process that walked a long line saves its index at Close; the next
// one reads it instead of walking, and walks only what was added since.
func TestLineIndexSavedBetweenProcesses(t *testing.T) {
	ctx := context.Background()
	n := lineCacheMin + 100
	dir := bulkRepo(t, n)
	cache := filepath.Join(dir, lineCacheName)

	r, err := Open(ctx, dir)
	require.NoError(t, err)
	want := streamLogIDs(t, r, "s3")
	require.Equal(t, (n+1)/5, len(want)) // i%5 == 3 for i < n
	assert.Equal(t, n, walkedSince(r))
	require.NoError(t, r.Close())
	info, err := os.Stat(cache)
	require.NoError(t, err, "Close saves the index")

	r, err = Open(ctx, dir)
	require.NoError(t, err)
	assert.Equal(t, want, streamLogIDs(t, r, "s3"))
	assert.Equal(t, 0, walkedSince(r), "the saved index is read, not walked")
	_, err = r.Append(ctx, []EventInput{ev("s3", "T", `{}`), ev("s1", "T", `{}`)}, AppendOptions{})
	require.NoError(t, err)
	got := streamLogIDs(t, r, "s3")
	assert.Equal(t, want, got[1:])
	assert.Equal(t, 1, walkedSince(r))
	require.NoError(t, r.Close())
	again, err := os.Stat(cache)
	require.NoError(t, err)
	assert.Equal(t, info.ModTime(), again.ModTime(), "a short walk is not saved")

	// A stream's fold and its typed aggregate read its events through the
	// saved index too.
	r, err = Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	var v *lineView
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	require.NoError(t, r.onLine(context.Background(), r.st, head, func(lv *lineView) error { v = lv; return nil }))
	assert.Equal(t, 1, walkedSince(r), "only the commit the saved index lacks")
	refs, _, err := v.streamRefs("s3", object.ZeroID)
	require.NoError(t, err)
	require.Equal(t, len(want)+1, len(refs))
	for i, ref := range refs {
		eid, err := v.eventID(r.st, ref, "s3")
		require.NoError(t, err)
		e, err := r.st.Event(eid)
		require.NoError(t, err)
		require.Equal(t, "s3", e.Stream, "event %d", i)
	}
}

// A saved index that is damaged, cut short, or from another repository is
// not read: the line is walked again and the log is the same.
func TestLineIndexDamagedIsWalkedAgain(t *testing.T) {
	ctx := context.Background()
	n := lineCacheMin + 10
	dir, want, cache, good := cachedRepo(t, n, "s0")
	_, _, _, foreign := cachedRepo(t, lineCacheMin+20, "s0")

	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x10
	for name, b := range map[string][]byte{"flipped": flipped, "cut": good[:len(good)-9], "foreign": foreign, "empty": nil} {
		require.NoError(t, os.WriteFile(cache, b, 0o644))
		r, err := Open(ctx, dir)
		require.NoError(t, err)
		assert.Equal(t, want, streamLogIDs(t, r, "s0"), name)
		assert.Equal(t, n, walkedSince(r), "%s: walked again", name)
		require.NoError(t, r.Close())
		b, err := os.ReadFile(cache)
		require.NoError(t, err)
		assert.Equal(t, good, b, "%s: saved again whole", name)
	}
}

// Every file the encoder writes decodes to the same index, and what
// decodes is written back byte for byte.
func FuzzDecodeLineCache(f *testing.F) {
	li := &lineIndex{}
	var walked walkedLine
	for _, w := range []walkedCommit{
		{id: object.ID{3}, parent: object.ID{2}, offset: 5, time: 30, events: []object.ID{{30}, {31}}, streams: []string{"b", "a"}},
		{id: object.ID{2}, parent: object.ID{1}, offset: 3, time: 20, merge: true, events: []object.ID{{20}, {21}}, streams: []string{"a", "a"}},
		{id: object.ID{1}, offset: 1, time: 20, events: []object.ID{{10}}, streams: []string{"b"}},
	} {
		walked.add(w)
	}
	li.splice(&walked, -1)
	f.Add(li.encodeLocked())
	f.Add([]byte(lineCacheMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Most inputs would fail the checksum: give them a right one, so
		// the fuzzer reaches the checks behind it.
		if len(b) >= 4 {
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		s, err := decodeLineCache(b)
		if err != nil {
			return
		}
		back := &lineIndex{ids: s.ids, offsets: s.offsets, times: s.times, merges: s.merges, streams: s.streams}
		assert.Equal(t, b, back.encodeLocked())
		// What the index relies on: positions inside the line, in order.
		for k, p := range s.merges {
			require.Less(t, int(p), len(s.ids))
			require.True(t, k == 0 || s.merges[k-1] < p)
		}
		for _, sl := range s.streams {
			for k, r := range sl.events() {
				require.Less(t, int(r.pos), len(s.ids))
				require.True(t, k == 0 || sl.refs[k-1].pos < r.pos || sl.refs[k-1].pos == r.pos && sl.refs[k-1].idx < r.idx)
			}
		}
	})
}

// A filtered log with versions indexes the line at its first lookup: its
// commits lie apart, so none hands its versions down to the next.
func TestFilteredLogVersionsTakeTheLineIndex(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for i := range 40 {
		typ := "T"
		if i%13 == 5 {
			typ = "Rare"
		}
		_, err := r.Append(ctx, []EventInput{ev("a", typ, `{}`), ev(fmt.Sprint("b", i%3), "T", `{}`)}, AppendOptions{})
		require.NoError(t, err)
	}
	var got []uint64
	for info, err := range r.Log(ctx, LogOptions{Type: "Rare", Versions: true, Range: "main"}) {
		require.NoError(t, err)
		for _, e := range info.Events {
			got = append(got, e.Version)
		}
	}
	require.NotEmpty(t, got)
	li := &r.derived().line
	li.mu.Lock()
	n := len(li.ids)
	li.mu.Unlock()
	assert.NotZero(t, n, "the line of main is indexed, up to the newest match")
	var want []uint64
	for info, err := range r.Log(ctx, LogOptions{Type: "Rare", Versions: true, Range: "main", Max: 1000}) {
		require.NoError(t, err)
		for _, e := range info.Events {
			want = append(want, e.Version)
		}
	}
	assert.Equal(t, want, got)
}

// A file whose checksum holds but whose positions go back, or past the
// line, is refused whole: the index would cut its views wrongly.
func TestLineCacheRefusesPositionsOutOfOrder(t *testing.T) {
	base := func() *lineIndex {
		return &lineIndex{ids: []object.ID{{1}, {2}, {3}}, offsets: []uint64{1, 2, 3}, times: []int64{1, 2, 3}, streams: map[string]*streamLine{}}
	}
	li := base()
	li.streams["a"] = &streamLine{refs: []eventRef{{pos: 0}, {pos: 2}}}
	_, err := decodeLineCache(li.encodeLocked())
	require.NoError(t, err)
	// A delta that wraps around 2^64 back to an earlier position.
	b := []byte(lineCacheMagic)
	b = binary.AppendUvarint(b, 3)
	for i := range 3 {
		id := object.ID{byte(i + 1)}
		b = append(b, id[:]...)
	}
	for range 3 {
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendVarint(b, 1)
	}
	b = binary.AppendUvarint(b, 0) // no merges
	b = binary.AppendUvarint(b, 1)
	b = append(b, 1, 'a', 2, 2, 0)
	b = binary.AppendUvarint(b, 1<<64-1)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	_, err = decodeLineCache(b)
	assert.ErrorIs(t, err, errLineCache, "wrapped delta")
	for name, mod := range map[string]func(li *lineIndex){
		"backwards":       func(li *lineIndex) { li.streams["a"] = &streamLine{refs: []eventRef{{pos: 2}, {pos: 1}}} },
		"past the line":   func(li *lineIndex) { li.streams["a"] = &streamLine{refs: []eventRef{{pos: 3}}} },
		"same event":      func(li *lineIndex) { li.streams["a"] = &streamLine{refs: []eventRef{{pos: 1}, {pos: 1}}} },
		"merge backwards": func(li *lineIndex) { li.merges = []uint32{2, 1} },
		"merge past":      func(li *lineIndex) { li.merges = []uint32{3} },
		"offset repeated": func(li *lineIndex) { li.offsets[2] = 2 },
	} {
		li := base()
		mod(li)
		_, err := decodeLineCache(li.encodeLocked())
		assert.ErrorIs(t, err, errLineCache, name)
	}
}

// A cancelled context ends a log of one stream with its error, as it
// ends the walk.
func TestStreamLogCancelled(t *testing.T) {
	r := streamLogRepo(t, 30)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var err error
	for _, err = range r.Log(ctx, LogOptions{Stream: "a", Since: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}) {
	}
	assert.ErrorIs(t, err, context.Canceled)
}

// A short log (-n, --since) of a long line with no index walks the log,
// not the whole line into an index.
func TestShortStreamLogWalksWithoutAnIndex(t *testing.T) {
	ctx := context.Background()
	dir := bulkRepo(t, streamLogProbe+200)
	r, err := Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	for _, wo := range []walk.LogOptions{
		{Include: []object.ID{head}, Stream: "s2", Max: 3},
		{Include: []object.ID{head}, Stream: "s2", Since: time.Now().Add(-time.Hour)},
	} {
		done, err := r.streamLog(ctx, wo, func(walk.Entry, error) bool { return true })
		require.NoError(t, err)
		assert.False(t, done)
		assert.Equal(t, 0, walkedSince(r), "no index built")
		var got []object.ID
		for e, err := range r.logWalk(ctx, wo) {
			require.NoError(t, err)
			got = append(got, e.ID)
		}
		want := walkedLog(t, r, wo)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, want[i].ID, got[i])
		}
	}
}

// A short log of a stream rare on a long line walks until the walk has
// passed streamLogBudget commits, then takes the rest from the index,
// built once: it yields what the walk yields, the walk's entries once. It
// used to walk the budget towards the index, give up, and walk the whole
// line: each run of `log --stream S -n 5` on a 1M-event repository cost
// a second before its first commit, and the index was never built.
func TestShortLogOfARareStreamBuildsTheIndex(t *testing.T) {
	ctx := context.Background()
	defer func(p, b int) { streamLogProbe, streamLogBudget = p, b }(streamLogProbe, streamLogBudget)
	streamLogProbe, streamLogBudget = 4, 40
	var b strings.Builder
	line := func(stream string, i int) {
		fmt.Fprintf(&b, `{"stream":%q,"type":"T","data":{"i":%d}}`+"\n", stream, i)
	}
	for i := range 300 {
		switch {
		case i < 30 && i%3 == 0, i >= 297: // rare: old commits and the newest three
			line("rare", i)
		default:
			line(fmt.Sprintf("s%d", i%5), i)
		}
	}
	r := newRepo(t)
	_, err := r.Import(ctx, strings.NewReader(b.String()), ImportOptions{})
	require.NoError(t, err)
	dir := r.GitDir()
	require.NoError(t, r.Close())
	head := func(r *Repository) []object.ID {
		id, err := r.Resolve(ctx, "HEAD")
		require.NoError(t, err)
		return []object.ID{id}
	}
	for _, wo := range []walk.LogOptions{
		{Stream: "rare", Max: 6},
		{Stream: "rare", Max: 6, Reverse: true},
		{Stream: "rare", Since: time.Unix(0, 0)},
		{Stream: "rare", Max: 2},  // the walk ends first
		{Stream: "rare", Max: 40}, // more than there are
	} {
		r, err := Open(ctx, dir)
		require.NoError(t, err)
		wo.Include = head(r)
		want := walkedLog(t, r, wo)
		var got []walk.Entry
		for e, err := range r.logWalk(ctx, wo) {
			require.NoError(t, err)
			got = append(got, e)
		}
		sameEntries(t, want, got, fmt.Sprintf("%+v", wo))
		if wo.Max == 2 {
			assert.Zero(t, walkedSince(r), "a walk that ends soon builds no index")
		} else {
			assert.Equal(t, 300, walkedSince(r), "past the budget, the index takes the log")
		}
		require.NoError(t, r.Close())
	}

	// A caller that stops after the walk's entries stops the log.
	r, err = Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	n := 0
	for _, err := range r.logWalk(ctx, walk.LogOptions{Include: head(r), Stream: "rare", Max: 6}) {
		require.NoError(t, err)
		if n++; n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)
}

// A process that indexed another branch's line does not replace the saved
// line of HEAD's; with no file yet, it saves its own.
func TestLineCacheKeepsHeadsLine(t *testing.T) {
	ctx := context.Background()
	dir := bulkRepo(t, 2*lineCacheMin+100)
	r, err := Open(ctx, dir)
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "side", fmt.Sprintf("HEAD~%d", lineCacheMin+50), "")
	require.NoError(t, err)
	var b strings.Builder
	for i := range lineCacheMin + 10 {
		fmt.Fprintf(&b, `{"stream":"s%d","type":"T","data":{"side":%d}}`+"\n", i%5, i)
	}
	_, err = r.Import(ctx, strings.NewReader(b.String()), ImportOptions{Branch: "side"})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	cache := filepath.Join(dir, lineCacheName)

	logOf := func(rev string) {
		r, err := Open(ctx, dir)
		require.NoError(t, err)
		for _, err := range r.Log(ctx, LogOptions{Range: rev, Stream: "s1"}) {
			require.NoError(t, err)
		}
		require.NoError(t, r.Close())
	}
	logOf("side") // no file yet: side's line is saved
	first, err := os.ReadFile(cache)
	require.NoError(t, err)
	logOf("main") // walks main's 1,074 commits past the fork: HEAD's line replaces it
	mainLine, err := os.ReadFile(cache)
	require.NoError(t, err)
	assert.False(t, bytes.Equal(first, mainLine))
	logOf("side") // walks side's 1,034 commits, but HEAD's line stays
	again, err := os.ReadFile(cache)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(mainLine, again))
}

// A line cache whose checksum holds but which names a commit of another
// stream is found out when read, reported as corrupt and removed; the
// next log walks and answers right.
func TestLineCacheWrongStreamIsRemoved(t *testing.T) {
	ctx := context.Background()
	dir, want, cache, b := cachedRepo(t, lineCacheMin+10, "s1")
	s, err := decodeLineCache(b)
	require.NoError(t, err)
	s.streams["s1"], s.streams["s2"] = s.streams["s2"], s.streams["s1"]
	li := &lineIndex{ids: s.ids, offsets: s.offsets, times: s.times, merges: s.merges, streams: s.streams}
	require.NoError(t, os.WriteFile(cache, li.encodeLocked(), 0o644))

	r, err := Open(ctx, dir)
	require.NoError(t, err)
	var lerr error
	for _, lerr = range r.Log(ctx, LogOptions{Stream: "s1"}) {
		if lerr != nil {
			break
		}
	}
	assert.ErrorIs(t, lerr, ErrCorrupt)
	assert.Contains(t, lerr.Error(), "line cache")
	_, err = os.Stat(cache)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, want, streamLogIDs(t, r, "s1"))
	// A fold through such a file is refused the same way.
	require.NoError(t, r.Close())
	require.NoError(t, os.WriteFile(cache, li.encodeLocked(), 0o644))
	r, err = Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	err = r.onLine(context.Background(), r.st, head, func(v *lineView) error {
		refs, _, err := v.streamRefs("s1", object.ZeroID)
		require.NoError(t, err)
		_, err = v.eventID(r.st, refs[0], "s1")
		return err
	})
	assert.ErrorIs(t, err, ErrCorrupt)
}

// fsck compares the saved line index with a walk of its line: a file that
// reads but leaves an event out would answer wrongly without failing.
func TestFsckChecksTheLineCache(t *testing.T) {
	ctx := context.Background()
	dir, _, cache, good := cachedRepo(t, lineCacheMin+10, "s1")

	fsckCache := func() []FsckProblem {
		t.Helper()
		r, err := Open(ctx, dir)
		require.NoError(t, err)
		defer r.Close()
		rep, err := r.Fsck(ctx, FsckOptions{})
		require.NoError(t, err)
		var out []FsckProblem
		for _, p := range rep.Problems {
			require.Equal(t, "cache", p.Kind, "%s", p)
			out = append(out, p)
		}
		assert.Equal(t, len(out) == 0, rep.OK)
		return out
	}
	assert.Empty(t, fsckCache())

	s, err := decodeLineCache(good)
	require.NoError(t, err)
	s.streams["s1"].refs = s.streams["s1"].events()[1:] // one event left out
	li := &lineIndex{ids: s.ids, offsets: s.offsets, times: s.times, merges: s.merges, streams: s.streams}
	require.NoError(t, os.WriteFile(cache, li.encodeLocked(), 0o644))
	probs := fsckCache()
	require.Len(t, probs, 1)
	assert.Contains(t, probs[0].Message, "the events of s1")

	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	require.NoError(t, os.WriteFile(cache, flipped, 0o644))
	probs = fsckCache()
	require.Len(t, probs, 1)
	assert.Contains(t, probs[0].Message, "checksum")
}

// A process that reads the saved index decodes the events of the streams
// it reads only (a line of a million commits holds a hundred thousand
// streams), and answers as one that walked the line.
func TestLineCacheDecodesOnlyTheStreamsRead(t *testing.T) {
	ctx := context.Background()
	dir, want, _, _ := cachedRepo(t, lineCacheMin+100, "s2")
	r, err := Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, want, streamLogIDs(t, r, "s2"))
	assert.Zero(t, walkedSince(r), "read from the file")
	li := &r.derived().line
	li.mu.Lock()
	coded := 0
	for name, sl := range li.streams {
		if sl.coded != nil {
			coded++
		} else {
			assert.Equal(t, "s2", name, "decoded though not read")
		}
	}
	n := len(li.streams)
	li.mu.Unlock()
	assert.Equal(t, n-1, coded)
}

// A log of one stream that reads on reads its commits on two
// goroutines: the first read waits for one of the second chunk to start.
// A log cut short reads on one.
func TestStreamLogReadsOnTwoGoroutines(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one processor: the log reads on one goroutine")
	}
	ctx := context.Background()
	r := streamLogRepo(t, 400)
	tip, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	want := walkedLog(t, r, walk.LogOptions{Include: []object.ID{tip}, Stream: "b"})
	require.Greater(t, len(want), 2*streamLogChunk)

	started := make(chan struct{})
	var once atomic.Bool
	var concurrent atomic.Bool
	streamLogReading = func(k int) {
		switch {
		case k == 0:
			select {
			case <-started:
				concurrent.Store(true)
			case <-time.After(30 * time.Second):
			}
		case k >= streamLogChunk && once.CompareAndSwap(false, true):
			close(started)
		}
	}
	defer func() { streamLogReading = nil }()
	got := indexedLog(t, r, walk.LogOptions{Include: []object.ID{tip}, Stream: "b"})
	sameEntries(t, want, got, "two goroutines")
	assert.True(t, concurrent.Load(), "the second chunk was read while the first was")

	var reads atomic.Int64
	streamLogReading = func(k int) {
		reads.Add(1)
		if k == 0 {
			time.Sleep(10 * time.Millisecond) // a second goroutine would read on meanwhile
		}
	}
	got = indexedLog(t, r, walk.LogOptions{Include: []object.ID{tip}, Stream: "b", Max: 3})
	sameEntries(t, want[:3], got, "cut short")
	assert.LessOrEqual(t, reads.Load(), int64(3+streamLogChunk), "one goroutine, reading as the log yields")
}

// What a log of one stream read ahead on its second goroutine is not
// yielded once the caller's context ends or the repository closes, as
// the reads it stands for would not have been made; and a line cache
// naming a commit past where the log stops, read ahead, is left alone,
// as the log never got there (a review found 82 entries yielded after a
// cancel, 191 after Close, and the cache removed).
func TestStreamLogReadAheadStopsAsTheReadsWould(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one processor: the log reads on one goroutine")
	}
	r := streamLogRepo(t, 600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	after, n := 0, 0
	var lerr error
	for _, err := range r.Log(ctx, LogOptions{Stream: "b"}) {
		if err != nil {
			lerr = err
			break
		}
		if n++; n == 1 {
			cancel()
		} else {
			after++
		}
	}
	assert.ErrorIs(t, lerr, context.Canceled)
	assert.Zero(t, after, "entries yielded after the cancel")

	after, n, lerr = 0, 0, nil
	for _, err := range r.Log(context.Background(), LogOptions{Stream: "b"}) {
		if err != nil {
			lerr = err
			break
		}
		if n++; n == 1 {
			require.NoError(t, r.Close())
		} else {
			after++
		}
	}
	assert.ErrorIs(t, lerr, ErrClosed)
	assert.Zero(t, after, "entries yielded after Close")
}

func TestStreamLogReadAheadLeavesDamageItDoesNotReach(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one processor: the log reads on one goroutine")
	}
	ctx := context.Background()
	dir, want, cache, b := cachedRepo(t, lineCacheMin+600, "s1")
	s, err := decodeLineCache(b)
	require.NoError(t, err)
	sl := s.streams["s1"]
	refs := sl.events()
	refs[len(refs)-1-160].pos++ // s1's 161st newest event named at the next commit, of another stream
	sl.refs = refs
	li := &lineIndex{ids: s.ids, offsets: s.offsets, times: s.times, merges: s.merges, streams: s.streams}
	damaged := li.encodeLocked()
	require.NoError(t, os.WriteFile(cache, damaged, 0o644))

	r, err := Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	var got []object.ID
	for info, err := range r.Log(ctx, LogOptions{Stream: "s1", Max: 150}) {
		require.NoError(t, err)
		got = append(got, info.ID)
	}
	assert.Equal(t, want[:150], got)
	_, err = os.Stat(cache)
	assert.NoError(t, err, "the cache is left: the log stopped before the damage")

	// A log that gets there says so, and removes it.
	var lerr error
	n := 0
	for _, lerr = range r.Log(ctx, LogOptions{Stream: "s1"}) {
		if lerr != nil {
			break
		}
		n++
	}
	assert.ErrorIs(t, lerr, ErrCorrupt)
	assert.Equal(t, 160, n, "the entries before the damage")
	_, err = os.Stat(cache)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// A log of one stream, the walk that builds the line index for it, and a
// log of the whole line each leave the frames they pass: opened with
// DropScanned (as the command line opens), those frames are gone after,
// and a long history read once leaves the cache nearly empty.
func TestLogsLetGoOfFramesBehind(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"stream", "line", "all"} {
		w := streamLogRepo(t, 400) // a frame a commit, and 100 more on a side branch
		dir := w.gitDir
		require.NoError(t, w.Close())
		r, err := OpenWith(ctx, dir, OpenOptions{DropScanned: true})
		require.NoError(t, err)
		n := 0
		switch name {
		case "stream":
			// The index first, walked here, then the stream's commits.
			for _, err := range r.Log(ctx, LogOptions{Stream: "b"}) {
				require.NoError(t, err)
				n++
			}
		case "line":
			head, err := r.Resolve(ctx, "HEAD")
			require.NoError(t, err)
			_, err = r.derived().line.cover(r.st, head)
			require.NoError(t, err)
			n = 1
		case "all":
			for _, err := range r.Log(ctx, LogOptions{}) {
				require.NoError(t, err)
				n++
			}
		}
		require.Positive(t, n, name)
		// The index's walk keeps the frames of its first coverAheadAfter
		// commits; without letting go, all 400 would stay.
		frames, _ := r.st.CacheUse()
		assert.Less(t, frames, coverAheadAfter+30, "%s: frames left in the cache of the 400 read", name)
		require.NoError(t, r.Close())
	}
}

// The walk that covers a line leaves no frame while it catches up with a
// few new commits (fewer than coverAheadAfter): those frames are the ones
// its command reads next (a review found a log -n 3 after one append
// decoding the head's frame again).
func TestLineIndexCatchingUpLeavesNoFrame(t *testing.T) {
	ctx := context.Background()
	w := streamLogRepo(t, 100)
	dir := w.gitDir
	require.NoError(t, w.Close())
	r, err := OpenWith(ctx, dir, OpenOptions{DropScanned: true})
	require.NoError(t, err)
	defer r.Close()
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	_, err = r.derived().line.cover(r.st, head)
	require.NoError(t, err)
	for i := range 10 {
		appendOne(t, r, ev("a", "T", fmt.Sprintf(`{"late":%d}`, i)))
	}
	before, _ := r.st.CacheUse()
	head, err = r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	_, err = r.derived().line.cover(r.st, head)
	require.NoError(t, err)
	after, _ := r.st.CacheUse()
	assert.Equal(t, before, after, "frames left by a walk of 10 commits")
}
