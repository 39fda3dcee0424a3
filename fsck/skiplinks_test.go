package fsck_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// skipLinkRepository imports 25,000 one-event commits (a skip link every
// 100 events, a coarse one every 10,000) onto main and 300 onto a branch
// from main~5000, and returns the bare repository's folder.
func skipLinkRepository(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	r, _, err := evgit.Init(ctx, t.TempDir(), evgit.InitOptions{Bare: true})
	require.NoError(t, err)
	defer r.Close()
	var in bytes.Buffer
	require.NoError(t, bankgen.Write(&in, bankgen.Config{Seed: 3, Events: 25_300, Accounts: 50}))
	lines := bytes.SplitAfter(in.Bytes(), []byte("\n"))
	_, err = r.Import(ctx, bytes.NewReader(bytes.Join(lines[:25_000], nil)), evgit.ImportOptions{})
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "side", "main~5000", "")
	require.NoError(t, err)
	_, err = r.Import(ctx, bytes.NewReader(bytes.Join(lines[25_000:], nil)), evgit.ImportOptions{Branch: "side"})
	require.NoError(t, err)
	return r.GitDir()
}

// A skip link is checked against its commit and its commit's line: a
// wrong one sends `--as-of` to a wrong commit, and fsck said ok (a
// helper's audit crafted them).
func TestSkipLinksAreChecked(t *testing.T) {
	ctx := context.Background()
	pristine := skipLinkRepository(t)
	rep := runFsck(t, pristine)
	require.True(t, rep.OK, "%v", rep.Problems)

	// The links as written, of main's head's nearest linked commit and of
	// the side branch's.
	st, err := store.Open(pristine, store.Options{})
	require.NoError(t, err)
	linked := func(rev string) (object.ID, store.Link) {
		v, ok := st.Ref("refs/heads/" + rev)
		require.True(t, ok)
		id := v.ID
		for {
			l, ok, err := st.Link(id)
			require.NoError(t, err)
			if ok {
				return id, l
			}
			c, err := st.Commit(id)
			require.NoError(t, err)
			id = c.Parent()
		}
	}
	head, hl := linked("main")
	side, _ := linked("side")
	require.False(t, hl.Prev.IsZero())
	require.False(t, hl.Up.IsZero(), "main's links have a coarse one behind them")
	st.Close()

	for _, c := range []struct {
		name string
		link func(store.Link) store.Link
		want string
	}{
		{"a time not its commit's", func(l store.Link) store.Link {
			l.Time = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			return l
		}, "says time 2030-01-01T00:00:00Z and offset "},
		{"an offset not its commit's", func(l store.Link) store.Link { l.Offset++; return l }, "but its commit has time"},
		{"a previous commit off its line", func(l store.Link) store.Link { l.Prev = side; return l }, "names " + side.String() + " as the linked commit before it, which "},
		{"a previous commit that is no commit", func(l store.Link) store.Link { l.Prev = object.ID{1}; return l }, "is missing or not a commit"},
		{"a coarse commit off its line", func(l store.Link) store.Link { l.Up = side; return l }, "names " + side.String() + " as the coarse-linked commit before it, which "},
		{"a coarse commit after it", func(l store.Link) store.Link { l.Up = head; return l }, "not less than its"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRepository(t, pristine)
			st, err := store.Open(dir, store.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Update(ctx, func(tx *store.Tx) error {
				tx.PutLink(head, c.link(hl))
				return nil
			}))
			rep, err := fsck.Run(ctx, st, fsck.Options{})
			require.NoError(t, err)
			st.Close()
			require.Len(t, rep.Problems, 1, "%v", rep.Problems)
			p := rep.Problems[0]
			assert.Equal(t, fsck.KindLink, p.Kind)
			assert.Equal(t, head.String(), p.Name)
			assert.True(t, strings.Contains(p.Message, c.want), "%s", p.Message)
		})
	}
}

// A skip link beside an object that is not a commit is reported: the
// object pass knows nothing of links (a review).
func TestSkipLinkBesideANonCommit(t *testing.T) {
	ctx := context.Background()
	dir := skipLinkRepository(t)
	st, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	v, _ := st.Ref("refs/heads/main")
	c, err := st.Commit(v.ID)
	require.NoError(t, err)
	event := c.Events[0]
	require.NoError(t, st.Update(ctx, func(tx *store.Tx) error {
		tx.PutLink(event, store.Link{Prev: c.Parent(), Time: c.Time, Offset: c.Offset})
		return nil
	}))
	rep, err := fsck.Run(ctx, st, fsck.Options{})
	require.NoError(t, err)
	st.Close()
	require.Len(t, rep.Problems, 1, "%v", rep.Problems)
	assert.Equal(t, fsck.Problem{Kind: fsck.KindLink, Name: event.String(), File: rep.Problems[0].File, Offset: rep.Problems[0].Offset,
		Message: "is beside " + event.String() + ", which is not a commit"}, rep.Problems[0])
}
