package walk

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// warnRepo is a fakeRepo that collects warnings (Warner).
type warnRepo struct {
	*fakeRepo
	said []string
}

func (w *warnRepo) Warn(msg string) { w.said = append(w.said, msg) }

// A name that a tag and a branch both have resolves to the tag, as in
// Git, and a Warner hears Git's warning; a name one ref has, HEAD and a
// full ref name are not ambiguous.
func TestAmbiguousNameWarns(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	a := f.add("a", 1, nil)
	b := f.add("b", 2, []string{"a"})
	f.refs["refs/heads/main"] = b
	f.refs["HEAD"] = b
	f.refs["refs/heads/x"] = a
	f.refs["refs/tags/x"] = b
	f.refs["refs/tags/only"] = a
	w := &warnRepo{fakeRepo: f}

	id, err := Resolve(ctx, w, "x~1")
	require.NoError(t, err)
	require.Equal(t, a, id, "x is the tag, at b; one back is a")
	require.Equal(t, []string{"refname 'x' is ambiguous."}, w.said)

	w.said = nil
	for _, rev := range []string{"only", "main", "HEAD", "refs/heads/x", "refs/tags/x"} {
		_, err := Resolve(ctx, w, rev)
		require.NoError(t, err, rev)
	}
	require.Empty(t, w.said)

	// A branch named like a commit's abbreviated ID: the branch, and
	// Git's warning (a review: the user likely meant the commit).
	short := a.String()[:7]
	f.refs["refs/heads/"+short] = b
	id, err = Resolve(ctx, w, short)
	require.NoError(t, err)
	require.Equal(t, b, id)
	require.Equal(t, []string{"refname '" + short + "' is ambiguous."}, w.said)
}
