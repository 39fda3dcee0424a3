package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fsck beside a gc of another process reports nothing that is not there:
// the gc removes the segments and indexes fsck listed, which used to read
// as "segment …: no such file". Found by a helper's audit (19 of 20 runs).
func TestFsckBesideAGC(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for i := range 5 {
		_, err := r.Append(ctx, nEvents(fmt.Sprintf("s%d", i), 200), AppendOptions{})
		require.NoError(t, err)
		_, err = r.Store().Seal(1) // more segments and indexes for gc to remove
		require.NoError(t, err)
	}
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	ran := false
	rep, err := r.Fsck(ctx, FsckOptions{Progress: func(done, total int) {
		if !ran {
			ran = true
			_, err := other.GC(ctx, GCOptions{Prune: "now"})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	require.True(t, ran, "the gc ran during the check")
	require.True(t, rep.OK, "%v", rep.Problems)
}

// fsck does not take a saved line index for damaged because another
// process saved it at a commit fsck had not read yet. Found by a
// helper's audit ("cache/line: its last commit …: not found").
func TestFsckLineCacheSavedMeanwhile(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var src strings.Builder
	for i := range lineCacheMin + 100 {
		fmt.Fprintf(&src, `{"stream":"s-%d","type":"T","data":{}}`+"\n", i%7)
	}
	importString(t, r, src.String(), ImportOptions{})
	ran := false
	rep, err := r.Fsck(ctx, FsckOptions{Progress: func(done, total int) {
		if ran {
			return
		}
		ran = true
		other, err := Open(ctx, r.GitDir())
		require.NoError(t, err)
		appendOne(t, other, ev("s-1", "T", `{}`))
		for _, err := range other.Log(ctx, LogOptions{Range: "HEAD", Stream: "s-1"}) {
			require.NoError(t, err)
		}
		require.NoError(t, other.Close()) // saves cache/line at its new commit
	}})
	require.NoError(t, err)
	require.True(t, ran)
	require.FileExists(t, r.GitDir()+"/"+lineCacheName)
	require.True(t, rep.OK, "%v", rep.Problems)
}
