package evgit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/store"
)

// gc keeps, with an unreachable commit still in its grace period, what
// the commit reaches (its older parents and their events), as Git keeps
// what recent unreachable objects reach, for as long as the commit is
// kept: a branch made at the commit again reads whole, and a later gc
// has nothing missing to stop on. Found by a helper's audit: the recent
// commit was kept and its parents, older, dropped; fsck found a parent
// missing, and every later gc failed once a branch named the commit.
func TestGCGraceKeepsWhatAKeptCommitReaches(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "T", `{"x":1}`))
	_, err := r.CreateBranch(ctx, "tmp", "HEAD", "t")
	require.NoError(t, err)
	for i := range 3 {
		_, err := r.Append(ctx, []EventInput{ev("b", "T", fmt.Sprintf(`{"x":%d}`, 10+i))}, AppendOptions{Branch: "tmp"})
		require.NoError(t, err)
	}
	_, err = r.GC(ctx, GCOptions{})
	require.NoError(t, err)
	// A month passes: every file is old.
	r = aged(t, r, time.Now().Add(-30*24*time.Hour))
	defer r.Close()
	recent, err := r.Append(ctx, []EventInput{ev("b", "T", `{"x":3}`)}, AppendOptions{Branch: "tmp"})
	require.NoError(t, err)
	_, err = r.DeleteBranch(ctx, "tmp", "t")
	require.NoError(t, err)

	st, err := r.GC(ctx, GCOptions{Prune: "14d"})
	require.NoError(t, err)
	assert.Zero(t, st.Dropped, "the recent commit reaches every unreachable object")
	rep, err := r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)
	_, err = r.CreateBranch(ctx, "rescue", recent.Commit.String(), "t")
	require.NoError(t, err)
	s, err := r.State(ctx, "rescue", "b", StateOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), s.Version)
	_, err = r.GC(ctx, GCOptions{})
	require.NoError(t, err)

	// Unreachable again, the whole branch goes at once when its
	// youngest commit's grace ends.
	_, err = r.DeleteBranch(ctx, "rescue", "t")
	require.NoError(t, err)
	later, err := r.Store().GC(ctx, store.GCOptions{Grace: 14 * 24 * time.Hour, Now: time.Now().Add(15 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 8, later.Dropped, "4 commits and their 4 events")
	_, err = r.Store().Commit(recent.Commit)
	assert.ErrorIs(t, err, ErrNotFound)
	rep, err = r.Fsck(ctx, FsckOptions{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)
}

// --prune=never keeps every unreachable object, however old, as in Git,
// and still repacks; a grace shorter than their age drops them.
func TestGCPruneNeverKeepsEveryUnreachableObject(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "T", `{"x":1}`))
	_, err := r.CreateBranch(ctx, "tmp", "HEAD", "t")
	require.NoError(t, err)
	gone, err := r.Append(ctx, []EventInput{ev("b", "T", `{"x":2}`)}, AppendOptions{Branch: "tmp"})
	require.NoError(t, err)
	_, err = r.DeleteBranch(ctx, "tmp", "t")
	require.NoError(t, err)
	// A century passes: every file is old.
	r = aged(t, r, time.Now().AddDate(-100, 0, 0))
	defer r.Close()

	st, err := r.GC(ctx, GCOptions{Prune: "never"})
	require.NoError(t, err)
	assert.Zero(t, st.Dropped)
	assert.Positive(t, st.Objects, "repacked")
	_, err = r.Show(ctx, gone.Commit.String())
	require.NoError(t, err, "the unreachable commit is kept")

	st, err = r.GC(ctx, GCOptions{Prune: "36500d"})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Dropped, "the commit and its event, a century old")
	_, err = r.Show(ctx, gone.Commit.String())
	assert.ErrorIs(t, err, ErrNotFound)
}

// aged closes r, dates every file of its log at old, as if that much time
// had passed since they were written, and opens the repository again.
func aged(t *testing.T, r *Repository, old time.Time) *Repository {
	t.Helper()
	logDir := filepath.Join(r.GitDir(), "log")
	ents, err := os.ReadDir(logDir)
	require.NoError(t, err)
	for _, e := range ents {
		require.NoError(t, os.Chtimes(filepath.Join(logDir, e.Name()), old, old))
	}
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(context.Background(), gitDir)
	require.NoError(t, err)
	return r
}

// ParseGrace reads periods only, and its refusals offer none of GC's
// words ("now", "never"), which it does not take (a helper's audit: it
// refused "now" saying "want now, never, ..."); GC takes them.
func TestParseGraceSaysWhatItTakes(t *testing.T) {
	d, err := ParseGrace("3d")
	require.NoError(t, err)
	assert.Equal(t, 72*time.Hour, d)
	for _, s := range []string{"now", "never", "soon"} {
		_, err := ParseGrace(s)
		require.ErrorIs(t, err, ErrInvalid, s)
		assert.Equal(t, fmt.Sprintf("invalid grace period %q: want a duration like 36h, or 3d, 2w", s), err.Error())
	}
	_, err = ParseGrace("106752d")
	assert.ErrorContains(t, err, "longer than a duration can hold")
	r := newRepo(t)
	_, err = r.GC(context.Background(), GCOptions{Prune: "soon"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, `invalid --prune value "soon": want now, never, a duration like 36h, or 3d, 2w`, err.Error())
	_, err = r.GC(context.Background(), GCOptions{Prune: "now"})
	require.NoError(t, err)
}
