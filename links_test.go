package evgit

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// As-of through skip links gives the same commit as a walk back, for
// times before, between and after commits, across link boundaries.
func TestAsOfFollowsLinks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25000 / 50 {
		batch := make([]EventInput, 50)
		for j := range batch {
			batch[j] = EventInput{Stream: fmt.Sprintf("s-%d", j%7), Type: "T", Data: json.RawMessage(`{"n":1}`)}
		}
		// Some commits share a time, as bulk loads do.
		_, err := r.Append(ctx, batch, AppendOptions{Time: start.Add(time.Duration(i/3) * time.Minute)})
		require.NoError(t, err)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	links := 0
	for id := head; !id.IsZero(); {
		if _, ok, err := r.st.Link(id); err == nil && ok {
			links++
		}
		c, err := r.st.Commit(id)
		require.NoError(t, err)
		id = c.Parent()
	}
	assert.Equal(t, 250, links, "one link every 100 events")
	for _, minutes := range []float64{-1, 0, 0.5, 1, 7.5, 50, 100.2, 133, 166, 1000} {
		at := start.Add(time.Duration(minutes * float64(time.Minute)))
		want, werr := walk.AsOf(ctx, source{r.st}, head, at)
		got, gerr := r.asOf(ctx, head, at)
		if werr != nil {
			require.Error(t, gerr, "minute %v", minutes)
			continue
		}
		require.NoError(t, gerr, "minute %v", minutes)
		assert.Equal(t, want, got, "minute %v", minutes)
	}
}

// log --until starts at the newest commit at or before it, found along
// the skip links, where it read every newer commit first (2 s over a
// million, a helper's audit); what it yields is what the walk from the
// head gives.
func TestLogUntilJumpsAlongLinks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		_, err := r.Append(ctx, []EventInput{{Stream: fmt.Sprintf("s-%d", i%7), Type: "T", Data: json.RawMessage(`{"n":1}`)}},
			AppendOptions{Time: start.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	defer func() { testHookLineSourceCommit = nil }()
	for _, c := range []struct {
		until, since float64 // minutes from start; since < 0: none
		max          int
	}{{-1, -1, 0}, {0, -1, 0}, {10.5, -1, 3}, {150, -1, 5}, {150, 140, 0}, {2000, 1990.5, 0}, {2999, -1, 2}, {5000, -1, 2}} {
		opts := LogOptions{Until: start.Add(time.Duration(c.until * float64(time.Minute))), Max: c.max}
		wo := walk.LogOptions{Include: []object.ID{head}, Until: opts.Until, Max: c.max}
		if c.since >= 0 {
			opts.Since = start.Add(time.Duration(c.since * float64(time.Minute)))
			wo.Since = opts.Since
		}
		var want []object.ID
		for e, err := range walk.Log(ctx, source{r.st}, wo) {
			require.NoError(t, err)
			want = append(want, e.ID)
		}
		reads := 0
		testHookLineSourceCommit = func(object.ID) { reads++ }
		var got []object.ID
		for info, err := range r.Log(ctx, opts) {
			require.NoError(t, err)
			got = append(got, info.ID)
		}
		testHookLineSourceCommit = nil
		assert.Equal(t, want, got, "%+v", c)
		if c.until < 2900 {
			assert.Less(t, reads, len(want)+2*linkEvery, "%+v: commits read", c)
		}
	}
}

// A damaged skip link does not give a wrong answer (a helper's audit
// crafted links, and as-of returned a commit far too old): a link whose
// time is not its commit's sends the hops too far, and the commit they
// land on shows it; a link back to a newer commit looped until the
// context ended.
func TestAsOfSurvivesDamagedLinks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]EventInput, 1)
	for i := range 3000 {
		events[0] = EventInput{Stream: fmt.Sprintf("s-%d", i%7), Type: "T", Data: json.RawMessage(`{"n":1}`)}
		_, err := r.Append(ctx, events, AppendOptions{Time: start.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	// The linked commits from the head down: commit i has offset i+1,
	// so linked[k] is the commit of offset 3000-100k.
	var linked []object.ID
	for id := head; !id.IsZero(); {
		if _, ok, err := r.st.Link(id); err == nil && ok {
			linked = append(linked, id)
		}
		c, err := r.st.Commit(id)
		require.NoError(t, err)
		id = c.Parent()
	}
	require.Len(t, linked, 30)
	put := func(id object.ID, change func(*store.Link)) {
		l, ok, err := r.st.Link(id)
		require.NoError(t, err)
		require.True(t, ok)
		change(&l)
		require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
			tx.PutLink(id, l)
			return nil
		}))
	}
	check := func(minutes float64) {
		t.Helper()
		at := start.Add(time.Duration(minutes * float64(time.Minute)))
		want, err := walk.AsOf(ctx, source{r.st}, head, at)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got, err := r.asOf(ctx, head, at)
		require.NoError(t, err, "minute %v", minutes)
		assert.Equal(t, want, got, "minute %v", minutes)
	}

	// The head's link skips to the commit 700 events back, whose link
	// claims a time after every commit: the hops pass the answer.
	put(linked[7], func(l *store.Link) { l.Time = start.AddDate(4, 0, 0) })
	put(linked[0], func(l *store.Link) { l.Prev = linked[7] })
	check(2500.5)
	check(2150)
	// A link back to its own commit, and a coarse one to a newer one.
	put(linked[0], func(l *store.Link) { l.Prev = linked[0] })
	check(2800)
	put(linked[2], func(l *store.Link) { l.Up = linked[1] })
	put(linked[0], func(l *store.Link) { l.Up = linked[2] })
	check(1000)
	// A link to an object that is no commit, with a link of its own.
	nowhere := object.ID{1}
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		tx.PutLink(nowhere, store.Link{Time: start.AddDate(4, 0, 0), Offset: 1})
		return nil
	}))
	put(linked[0], func(l *store.Link) { l.Prev, l.Up = nowhere, object.ZeroID })
	check(2500.5)
}

// A merge of no events of its own sits at its first parent's offset: a
// skip link's walk back over it goes on to the linked commit of that
// offset, and fsck finds the repository sound (a review: the walk stopped
// at the merge and reported the link off its line).
func TestFsckSkipLinksAcrossAMergeOfNoEvents(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for i := range 100 { // the 100th commit crosses offset 100: linked
		appendOne(t, r, ev(fmt.Sprintf("a-%d", i%5), "T", `{"n":1}`))
	}
	_, err := r.CreateBranch(ctx, "side", "main~10", "t")
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("b", "T", `{"n":2}`)}, AppendOptions{Branch: "side"})
	require.NoError(t, err)
	main, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	_, linked, err := r.st.Link(main)
	require.NoError(t, err)
	require.True(t, linked, "main's head is linked")
	side, err := r.Resolve(ctx, "side")
	require.NoError(t, err)
	mc, err := r.st.Commit(main)
	require.NoError(t, err)
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		c := &object.Commit{Parents: []object.ID{main, side}, Time: mc.Time, Offset: mc.Offset, Message: "merge"}
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: main, New: tx.PutCommit(c), Time: c.Time, Message: "merge"})
	}))
	r.forgetHeads()
	for i := range 100 {
		appendOne(t, r, ev(fmt.Sprintf("c-%d", i%5), "T", `{"n":3}`))
	}
	rep, err := r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)
}
