package evgit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// A version far behind the head, in history an import wrote (snapshots
// every 1,000 events, so the walk back passes boundaries without one), is
// loaded from the snapshot nearest the commit that holds it, which the
// line index names: it was folded from the line's start, every earlier
// event of the stream read (a version in the middle of a hot stream of a
// million commits took 1.0–1.9 s, and takes 0.3 s). The fold from the
// start leaves its marks in the line index; the load from a snapshot
// leaves none.
func TestVersionLoadsFromTheNearestSnapshot(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importHot(t, r, 10_000)
	for _, v := range []uint64{2000, 2001, 1500} {
		st, err := r.State(ctx, "HEAD", "hot", StateOptions{Version: v})
		require.NoError(t, err)
		assert.Equal(t, v, st.Version)
		assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, v), string(st.State))
	}
	li := &r.derived().line
	li.mu.Lock()
	sl := li.streams["hot"]
	marks := -1
	if sl != nil {
		marks = len(sl.marks)
	}
	li.mu.Unlock() // before any require: Close saves the index under the lock
	require.NotEqual(t, -1, marks, "the line index was used")
	assert.Zero(t, marks, "nothing folded from the line's start")

	// Past the last event: the error as before.
	_, err := r.State(ctx, "HEAD", "hot", StateOptions{Version: 10_001})
	require.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "has 10000 events, not 10001")
}

// A line cache that names a stream's events at earlier commits than
// history holds them (a damaged file whose checksum still holds) is
// found out as the fold through it finds it out: the cache is removed and
// the error says so, and the next load is right. The jump to the commit
// of the version-th event read the cache unchecked and reported a
// version the stream does not have, keeping the file (a review found it).
// Moved one commit back, hot's events land on another stream's; with a
// position made up early on (and the last dropped), on hot's own earlier
// ones, whose line holds one event too few.
func TestVersionJumpChecksTheLineCache(t *testing.T) {
	for _, how := range []string{"moved back", "one made up"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			r := newRepo(t)
			var in strings.Builder
			for i := 1; i <= 3_000; i++ {
				fmt.Fprintf(&in, `{"stream":"hot","type":"Set","data":{"n":%d}}`+"\n", i)
				fmt.Fprintf(&in, `{"stream":"c1","type":"Set","data":{"n":%d}}`+"\n", i)
				fmt.Fprintf(&in, `{"stream":"c2","type":"Set","data":{"n":%d}}`+"\n", i)
			}
			_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
			require.NoError(t, err)
			_, err = r.State(ctx, "HEAD", "hot", StateOptions{Version: 500})
			require.NoError(t, err)
			gitDir := r.GitDir()
			require.NoError(t, r.Close())
			cache := filepath.Join(gitDir, lineCacheName)
			b, err := os.ReadFile(cache)
			require.NoError(t, err, "the walk saved the line")
			saved, err := decodeLineCache(b)
			require.NoError(t, err)
			refs := saved.streams["hot"].events()
			if how == "moved back" {
				for i := 1; i < len(refs); i++ {
					refs[i].pos--
				}
			} else {
				madeUp := eventRef{pos: refs[99].pos + 1} // c1's commit
				refs = append(refs[:100:100], append([]eventRef{madeUp}, refs[100:len(refs)-1]...)...)
			}
			saved.streams["hot"].refs = refs
			li := &lineIndex{ids: saved.ids, offsets: saved.offsets, times: saved.times, merges: saved.merges, streams: saved.streams}
			require.NoError(t, os.WriteFile(cache, li.encodeLocked(), 0o644))

			r, err = Open(ctx, gitDir)
			require.NoError(t, err)
			defer r.Close()
			_, err = r.State(ctx, "HEAD", "hot", StateOptions{Version: 500})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, "the line cache")
			assert.NoFileExists(t, cache)
			st, err := r.State(ctx, "HEAD", "hot", StateOptions{Version: 500})
			require.NoError(t, err)
			assert.JSONEq(t, `{"n":500}`, string(st.State))
		})
	}
}

// A load in history that gc thinned walks back to the snapshot gc kept
// below it, about 10,000 events apart at most, where it used to give up
// after 4,096 events and fold the stream from the line's start (a
// helper's scale audit: 1.1 s for a hot stream in the middle of a
// million events after gc, 0.07 s before).
func TestLoadAfterGCWalksToAKeptSnapshot(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importHot(t, r, 60_000)
	st, err := r.GC(ctx, GCOptions{Prune: "now"})
	require.NoError(t, err)
	require.Less(t, st.SnapshotsKept, 12, "thinned")
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(ctx, gitDir)
	require.NoError(t, err)
	defer r.Close()

	// Offset 35,000: the kept snapshot below lies about 5,000 events back.
	s, err := r.State(ctx, "HEAD~25000", "hot", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(35_000), s.Version)
	assert.JSONEq(t, `{"n":35000}`, string(s.State))
	li := &r.derived().line
	li.mu.Lock()
	marks := 0
	if sl := li.streams["hot"]; sl != nil {
		marks = len(sl.marks)
	}
	li.mu.Unlock()
	assert.Zero(t, marks, "nothing folded from the line's start")
}

// A load that finds no snapshot of its model back there (a model set
// since) leaves its walk for the line index once the skip links show
// none within the long budget, not after walking all of it: that walk
// made such loads 0.1 s slower for nothing (a review).
func TestLoadWithoutSnapshotsBackThereStopsEarly(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importHot(t, r, 40_000)
	_, err := r.SetModel(ctx, []byte("snapshot_every: 100 # another model, no snapshots back there\n"), "")
	require.NoError(t, err)
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(ctx, gitDir)
	require.NoError(t, err)
	defer r.Close()

	left := -1
	walkLeft = func(n int) { left = n }
	t.Cleanup(func() { walkLeft = nil })
	// Offset 30,000: neither a snapshot nor the line's start lies
	// within the long budget below it.
	s, err := r.State(ctx, "HEAD~10000", "hot", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(30_000), s.Version)
	assert.JSONEq(t, `{"n":30000}`, string(s.State))
	require.Positive(t, left, "the walk left for the line index")
	assert.Less(t, left, 4096+1000, "it left at the probe, not after the long budget")
}

// importHot imports n one-event commits setting stream hot's n, 1 to n:
// snapshots every 1,000 events under no model.
func importHot(t *testing.T, r *Repository, n int) {
	t.Helper()
	var in strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, `{"stream":"hot","type":"Set","data":{"n":%d}}`+"\n", i)
	}
	_, err := r.Import(context.Background(), strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
}

// gc keeps snapshots along each branch's line, not only per slice of a
// model's history: two branches of one length shared the slices, and one
// of them could be left with gaps of several, where loads folded the
// stream from the line's start (a review found a gap of 41,000 events).
func TestGCKeepsSnapshotsAlongEachBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importHot(t, r, 30_000)
	_, err := r.CreateBranch(ctx, "dev", "", "")
	require.NoError(t, err)
	for _, branch := range []string{"main", "dev"} {
		var in strings.Builder
		for i := 30_001; i <= 70_000; i++ {
			fmt.Fprintf(&in, `{"stream":"hot","type":"Set","data":{"n":%d,"on":"%s"}}`+"\n", i, branch)
		}
		_, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{Branch: branch})
		require.NoError(t, err)
	}
	_, err = r.GC(ctx, GCOptions{Prune: "now"})
	require.NoError(t, err)
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(ctx, gitDir)
	require.NoError(t, err)
	defer r.Close()

	left := 0
	var at string
	walkLeft = func(int) { left++; t.Log("the walk left for the index at", at) }
	t.Cleanup(func() { walkLeft = nil })
	for _, branch := range []string{"main", "dev"} {
		for back := 1_000; back < 70_000; back += 4_000 {
			at = fmt.Sprintf("%s~%d", branch, back)
			s, err := r.State(ctx, at, "hot", StateOptions{})
			require.NoError(t, err)
			n := 70_000 - back
			require.Equal(t, uint64(n), s.Version)
			if n > 30_000 {
				require.JSONEq(t, fmt.Sprintf(`{"n":%d,"on":%q}`, n, branch), string(s.State))
			}
		}
	}
	assert.Zero(t, left, "every load walked back to a kept snapshot")
}

// A skip link that does not go back (a damaged record, well formed: fsck
// does not check links) ends gc's walk along the line, and a load's probe,
// where gc spun for good (a review).
func TestLinkThatDoesNotGoBackEndsTheWalks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	importHot(t, r, 3_000)
	st := r.Store()
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	// The newest linked commit without a snapshot, its link made a loop.
	var x object.ID
	var xl store.Link
	for id := head; !id.IsZero(); {
		c, err := st.Commit(id)
		require.NoError(t, err)
		if l, ok, _ := st.Link(id); ok && c.Offset%1000 != 0 {
			x, xl = id, l
			break
		}
		id = c.Parent()
	}
	require.False(t, x.IsZero())
	xl.Prev = x
	require.NoError(t, st.Update(ctx, func(tx *store.Tx) error { tx.PutLink(x, xl); return nil }))
	done := make(chan error, 1)
	go func() { _, err := st.GC(ctx, store.GCOptions{PruneNow: true}); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("gc still walking the line a minute in")
	}
	s, err := r.State(ctx, "HEAD", "hot", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(3_000), s.Version)
}
