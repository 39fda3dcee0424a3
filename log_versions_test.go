package evgit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/walk"
)

// A log with versions looks each stream up once, where it first meets
// it, whatever lies between two of its events: what it learns at a commit
// goes down the first-parent line with it. Versions are each stream's
// count of events up to and including the event, on that line, also for a
// branch that forked from it.
func TestLogVersionsLookEachStreamUpOnce(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	streams := []string{"a", "b", "c", "d"}
	for i := range 40 {
		// Stream a every commit, the others in turn, two events now and then.
		events := []EventInput{ev("a", "X", `{}`), ev(streams[1+i%3], "X", fmt.Sprintf(`{"i":%d}`, i))}
		if i%5 == 0 {
			events = append(events, ev(streams[1+i%3], "X", `{}`))
		}
		_, err := r.Append(ctx, events, AppendOptions{})
		require.NoError(t, err)
	}
	_, err := r.CreateBranch(ctx, "side", "HEAD~10", "t")
	require.NoError(t, err)
	for range 5 {
		_, err := r.Append(ctx, []EventInput{ev("d", "Y", `{}`)}, AppendOptions{Branch: "side"})
		require.NoError(t, err)
	}

	for _, tip := range []string{"main", "side"} {
		wo, err := r.logOptions(ctx, LogOptions{Range: tip})
		require.NoError(t, err)
		vs := r.newVersioner(context.Background(), true)
		var infos []*CommitInfo
		for e, err := range walk.Log(ctx, source{r.st}, wo) {
			require.NoError(t, err)
			info, err := r.info(e.ID, e.Commit, e.Events, vs)
			require.NoError(t, err)
			infos = append(infos, info)
		}
		assert.Equal(t, 4, vs.misses, "%s: one lookup a stream", tip)
		// Count from the root.
		count := map[string]uint64{}
		for i := len(infos) - 1; i >= 0; i-- {
			for _, e := range infos[i].Events {
				count[e.Stream]++
				require.Equal(t, count[e.Stream], e.Version, "%s: %s's event in %s", tip, e.Stream, infos[i].ID.Short())
			}
		}
		assert.Len(t, vs.known, 0, "%s: nothing left over at the root", tip)
	}
}

// A long log with versions reads the saved line index once its lookups
// pass versionerLoadAfter, and counts versions there: before, it loaded
// streams until it would have built the index (offset/256 lookups, a
// third of `log --json` over 100,000 commits).
func TestLogVersionsReadTheSavedLineIndexEarly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, _, err := Init(ctx, dir, InitOptions{})
	require.NoError(t, err)
	var in strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&in, `{"stream":"s-%d","type":"T"}`+"\n", i%5000)
	}
	importString(t, r, in.String(), ImportOptions{})
	for _, err := range r.Log(ctx, LogOptions{Stream: "s-1"}) { // builds the line index
		require.NoError(t, err)
	}
	require.NoError(t, r.Close()) // and saves it
	require.FileExists(t, filepath.Join(r.GitDir(), lineCacheName))

	r, err = Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer r.Close()
	loaded := 0
	versionLoaded = func() { loaded++ }
	defer func() { versionLoaded = nil }()
	count := map[string]uint64{}
	var events []EventInfo
	for e, err := range r.Log(ctx, LogOptions{Versions: true}) {
		require.NoError(t, err)
		events = append(events, e.Events...)
	}
	assert.Equal(t, versionerLoadAfter(20_000)-1, loaded, "streams loaded before the saved index was read, at the versionerLoadAfter-th lookup")
	for i := len(events) - 1; i >= 0; i-- {
		count[events[i].Stream]++
		require.Equal(t, count[events[i].Stream], events[i].Version, "the %d-th event", i)
	}
}

// The versions of a large commit of many streams are counted in the line
// index, not found by loading each stream, every load of which reads the
// whole commit (a helper's audit: log --json of one commit of 640,000
// events over 1,000 streams was killed after 170 s; now 3.3 s).
func TestLogVersionsOfALargeCommitCountedInTheIndex(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var in strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&in, `{"stream":"s-%d","type":"T","data":{"n":%d}}`+"\n", i%100, i)
	}
	importString(t, r, in.String(), ImportOptions{Batch: 2000}) // two commits of 2,000 events
	loaded := 0
	versionLoaded = func() { loaded++ }
	defer func() { versionLoaded = nil }()
	var commits [][]EventInfo // newest first
	for e, err := range r.Log(ctx, LogOptions{Versions: true}) {
		require.NoError(t, err)
		commits = append(commits, e.Events)
	}
	assert.Zero(t, loaded, "streams loaded")
	require.Len(t, commits, 2)
	count := map[string]uint64{}
	for _, events := range slices.Backward(commits) {
		require.Len(t, events, 2000)
		for i, e := range events {
			count[e.Stream]++
			require.Equal(t, count[e.Stream], e.Version, "the %d-th event", i)
		}
	}
}
