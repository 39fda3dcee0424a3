package evgit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// countedLineReads counts what a lineSource asks of the store.
type countedLineReads struct {
	st                 *store.Store
	reads, hinted      int
	frames             int // frames the walk went into, the first included
	prefetches, drops  int
	last               *store.LineStep
	dropped            []*store.LineStep
	readAgainAfterDrop bool
	rereads            int // frame changes into a frame left since it was last read
}

func (c *countedLineReads) ReadLineStep(id object.ID, prev *store.LineStep) (*store.LineStep, error) {
	c.reads++
	if prev != nil {
		c.hinted++
	}
	step, err := c.st.ReadLineStep(id, prev)
	if err == nil {
		if c.last == nil || !c.last.SameFrame(step) {
			c.frames++
		}
		for _, d := range c.dropped {
			c.readAgainAfterDrop = c.readAgainAfterDrop || d.SameFrame(step)
		}
		if c.last != nil && !c.last.SameFrame(step) && slices.ContainsFunc(c.dropped, step.SameFrame) {
			c.rereads++ // read again since left: no longer left
			c.dropped = slices.DeleteFunc(c.dropped, step.SameFrame)
		}
		c.last = step
	}
	return step, err
}

func (c *countedLineReads) PrefetchLine(step *store.LineStep) {
	c.prefetches++
	c.st.PrefetchLine(step)
}

func (c *countedLineReads) LeaveFrame(step *store.LineStep) {
	c.drops++
	c.dropped = append(c.dropped, step)
	c.st.LeaveFrame(step)
}

// countedLog walks the log from tip through a log's lineSource whose
// reads are counted, and returns the counts, the source and the commits
// walked.
func countedLog(t *testing.T, r *Repository, tip object.ID) (*countedLineReads, *lineSource, int) {
	t.Helper()
	c := &countedLineReads{st: r.st}
	src := newLogSource(r.st, walk.LogOptions{})
	src.lines = c
	n := 0
	for _, err := range walk.Log(context.Background(), src, walk.LogOptions{Include: []object.ID{tip}}) {
		require.NoError(t, err)
		n++
	}
	return c, src, n
}

// taggedLines returns n import lines whose events no other tag's lines
// hold.
func taggedLines(tag string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"stream":"s%d","type":"T","data":{"tag":%q,"i":%d}}`+"\n", i%7, tag, i)
	}
	return b.String()
}

// A log down a line of several frames reads each commit but the tip with
// the hint of where the one before it left its parent, asks for the next frame
// ahead as it goes into each frame after the first, and lets each frame
// it leaves go, never to read it again. A log cut short by -n reads
// nothing ahead.
func TestLineSourceReadsByFramesAndLetsThemGo(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for k := range 4 {
		importString(t, r, taggedLines(fmt.Sprint(k), 150), ImportOptions{})
	}
	for i := range 5 {
		appendOne(t, r, ev("a", "T", fmt.Sprintf(`{"n":%d}`, i)))
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	for _, gc := range []bool{false, true} {
		if gc {
			_, err := r.GC(ctx, GCOptions{})
			require.NoError(t, err)
		}
		c, src, n := countedLog(t, r, head)
		require.Equal(t, 4*150+5, n)
		require.Equal(t, n, c.reads)
		require.Greater(t, c.frames, 4, "gc %v", gc)
		assert.Equal(t, 1, c.reads-c.hinted, "gc %v: the tip's read alone without a hint", gc)
		assert.Equal(t, c.frames-1, c.prefetches, "gc %v", gc)
		assert.Equal(t, c.frames-1, c.drops, "gc %v", gc)
		assert.False(t, c.readAgainAfterDrop, "gc %v", gc)

		// A log cut short reads no frame ahead.
		c = &countedLineReads{st: r.st}
		wo := walk.LogOptions{Include: []object.ID{head}, Max: logPrefetchAfter}
		src = newLogSource(r.st, wo)
		src.lines = c
		for _, err := range walk.Log(ctx, src, wo) {
			require.NoError(t, err)
		}
		require.Greater(t, c.frames, 1, "gc %v", gc)
		assert.Zero(t, c.prefetches, "gc %v", gc)
	}
}

// A walk through a lineSource yields what one through the store's
// objects does: logs whole, by first parents, reversed, cut short and
// over ranges, and revisions walking back, over imported batches,
// appends, a side branch merged, a revert, and packed history after gc.
func TestLineSourceWalksAsTheStore(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importString(t, r, taggedLines("a", 120), ImportOptions{})
	for i := range 6 {
		appendOne(t, r, ev("a", "T", fmt.Sprintf(`{"n":%d}`, i)))
	}
	_, err := r.CreateBranch(ctx, "side", "HEAD~40", "t")
	require.NoError(t, err)
	for i := range 3 {
		_, err = r.Append(ctx, []EventInput{ev("c", "T", fmt.Sprintf(`{"side":%d}`, i))}, AppendOptions{Branch: "side"})
		require.NoError(t, err)
	}
	importString(t, r, taggedLines("b", 80), ImportOptions{})
	merge := appendMerge(t, r)
	_, err = r.Revert(ctx, "HEAD~2", RevertOptions{})
	require.NoError(t, err)
	importString(t, r, taggedLines("c", 50), ImportOptions{})
	ids := func(rev string) object.ID {
		id, err := r.Resolve(ctx, rev)
		require.NoError(t, err)
		return id
	}
	check := func(name string) {
		head, side := ids("HEAD"), ids("side")
		for _, wo := range []walk.LogOptions{
			{Include: []object.ID{head}},
			{Include: []object.ID{head}, FirstParent: true},
			{Include: []object.ID{head}, Reverse: true},
			{Include: []object.ID{head}, Max: 7},
			{Include: []object.ID{head}, Exclude: []object.ID{side}},
			{Include: []object.ID{side}, Exclude: []object.ID{ids("HEAD~60")}},
			{Include: []object.ID{merge}, Exclude: []object.ID{ids("HEAD~100")}},
			{Include: []object.ID{head, side}},
		} {
			var want, got []walk.Entry
			for e, err := range walk.Log(ctx, source{r.st}, wo) {
				require.NoError(t, err)
				want = append(want, e)
			}
			for e, err := range walk.Log(ctx, newLogSource(r.st, wo), wo) {
				require.NoError(t, err)
				got = append(got, e)
			}
			require.NotEmpty(t, want, "%s: %+v", name, wo)
			require.Equal(t, want, got, "%s: %+v", name, wo)
		}
		for _, rev := range []string{"HEAD~1", "HEAD~60", "HEAD~200", "HEAD^2", "HEAD~3^2~2", "side~2", "HEAD^{/merge}"} {
			want, werr := walk.Resolve(ctx, source{r.st}, rev)
			got, gerr := walk.Resolve(ctx, newLineSource(r.st), rev)
			require.Equal(t, werr, gerr, "%s: %s", name, rev)
			require.Equal(t, want, got, "%s: %s", name, rev)
		}
	}
	check("segments")
	_, err = r.GC(ctx, GCOptions{})
	require.NoError(t, err)
	check("after gc")
}

// timedLines returns import lines, one commit each, at the given
// seconds of a day.
func timedLines(tag string, secs ...int) string {
	var b strings.Builder
	for _, s := range secs {
		fmt.Fprintf(&b, `{"stream":"%s","type":"T","data":{"s":%d},"meta":{"time":"2026-01-02T00:00:%02dZ"}}`+"\n", tag, s, s)
	}
	return b.String()
}

// A walk that goes back and forth between two lines, each in a frame of
// its own (two imports whose commit times interleave, merged), keeps the
// frame of the line it steps away from: no frame it lets go is read
// again.
func TestLineSourceKeepsFramesALineStillGoesThrough(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Append(ctx, []EventInput{ev("base", "T", `{}`)}, AppendOptions{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "side", "HEAD", "t")
	require.NoError(t, err)
	importString(t, r, timedLines("side", 10, 12, 14, 16, 18), ImportOptions{Branch: "side"})
	importString(t, r, timedLines("main", 11, 13, 15, 17, 19), ImportOptions{})
	merge := appendMerge(t, r)

	c := &countedLineReads{st: r.st}
	src := newLogSource(r.st, walk.LogOptions{})
	src.lines = c
	var secs []int
	for e, err := range walk.Log(ctx, src, walk.LogOptions{Include: []object.ID{merge}}) {
		require.NoError(t, err)
		secs = append(secs, e.Commit.Time.Day()*100+e.Commit.Time.Second())
	}
	require.Equal(t, []int{219, 219, 218, 217, 216, 215, 214, 213, 212, 211, 210, 100}, secs, "the lines interleave")
	assert.False(t, c.readAgainAfterDrop)
	assert.Positive(t, c.drops, "the frames left for good")
}

// Hints whose parent the walk read already, through another child, pile
// up one a fork and are never used: past lineSourceHints of them, the
// oldest go, and the lines the walk is on are still remembered, so it
// lets go of no frame a line still goes through (a review found the
// source remembering nothing more once full, then dropping and decoding
// two interleaved lines' frames again for each commit).
func TestLineSourceForgetsHintsOfForksFirst(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	seq := 0
	put := func(tx *store.Tx, sec int64, parents ...object.ID) object.ID {
		seq++
		e := object.NewEvent("s", "T", 1, nil, fmt.Appendf(nil, `{"n":%d}`, seq))
		return tx.PutCommit(&object.Commit{Parents: parents, Events: []object.ID{tx.PutEvent(e)}, Time: time.Unix(sec, 0).UTC(), Offset: uint64(seq), Message: "m"})
	}
	update := func(fn func(tx *store.Tx)) {
		require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error { fn(tx); return nil }))
	}
	// Two lines of a frame each whose times interleave, merged; then
	// forks, each a branch whose first commit is older than the main
	// line's next, merged.
	const n, forks = 200, lineSourceHints + 100
	var base, a, b, tip object.ID
	update(func(tx *store.Tx) { base = put(tx, 1) })
	update(func(tx *store.Tx) {
		a = base
		for i := range n {
			a = put(tx, int64(10+2*i), a)
		}
	})
	update(func(tx *store.Tx) {
		b = base
		for i := range n {
			b = put(tx, int64(11+2*i), b)
		}
	})
	update(func(tx *store.Tx) {
		tip = put(tx, 100000, a, b)
		for k := range forks {
			at := int64(200000 + 10*k)
			side := put(tx, at+2, put(tx, at+1, tip))
			tip = put(tx, at+4, put(tx, at+3, tip), side)
		}
	})
	c, src, k := countedLog(t, r, tip)
	require.Equal(t, 1+2*n+1+4*forks, k)
	assert.LessOrEqual(t, len(src.next), lineSourceHints)
	assert.False(t, c.readAgainAfterDrop, "a frame let go was read again")
}

// A line that goes back and forth between frames (some commits written
// again in one later frame, which the store then reads them from) would
// have its walk leave that frame at each return and decode it again at
// the next; the walk leaves no frame it came back to, and goes on leaving
// the others (a review found a log of 4,000 such commits decoding 4,082
// frames, 16 times slower; and the first fix leaving no frame at all
// after one return).
func TestLineSourceLeavesNoFrameItCameBackTo(t *testing.T) {
	ctx := context.Background()
	for _, layout := range []string{"every third", "the tip's four"} {
		r := newRepo(t)
		var ids []object.ID
		for i := range 300 {
			ids = append(ids, appendOne(t, r, ev("s1", "T", fmt.Sprintf(`{"i":%d}`, i))))
		}
		again := 0
		require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
			for k := len(ids) - 1; k >= 0; k-- {
				if layout == "every third" && (len(ids)-1-k)%3 != 0 || layout != "every third" && k < len(ids)-7 {
					continue
				}
				if layout != "every third" && (len(ids)-1-k)%2 != 0 {
					continue
				}
				kind, body, _, err := tx.Get(ids[k])
				if err != nil {
					return err
				}
				tx.PutObject(kind, body)
				again++
			}
			return nil
		}))
		c, _, n := countedLog(t, r, ids[len(ids)-1])
		require.Equal(t, len(ids), n)
		assert.Equal(t, 1, c.rereads, "%s: the frame written again, left once", layout)
		assert.GreaterOrEqual(t, c.drops, len(ids)-again, "%s: every other frame left", layout)
	}
}
