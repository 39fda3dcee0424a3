package evgit

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// A model set before model set folded history strictly could leave a
// stream's last state deeper than any read accepts. Such a repository
// reads and takes commits as before; model set of that model now is
// refused (exit 4), and so is a model whose upcast does the same. Found
// by a helper's review: the first version of the check, on every replay,
// made such a repository refuse every read.
func TestModelSetFoldsHistoryStrictly(t *testing.T) {
	ctx := context.Background()
	deep := strings.Repeat(`{"a":`, object.MaxJSONDepth) + "1" + strings.Repeat("}", object.MaxJSONDepth)
	nest := []byte("types:\n  T:\n    apply: { x: event }\n")
	upcast := []byte("upcast:\n  - { type: T, from: 1, to: 2, data: { w: event } }\n")

	r := newRepo(t)
	appendOne(t, r, ev("s", "T", deep))
	for _, src := range [][]byte{nest, upcast} {
		_, err := r.SetModel(ctx, src, "t")
		require.ErrorIs(t, err, ErrRule, "%s", src)
		assert.ErrorContains(t, err, "does not fold the history at HEAD")
	}

	// As an earlier model set left it: stored without the strict fold.
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		id := tx.PutObject(object.KindBlob, nest)
		return tx.UpdateRef(refs.Update{Name: refs.Model, New: id, Time: now(), Actor: "t", Message: "model set"})
	}))
	st, err := r.State(ctx, "HEAD", "s", StateOptions{})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(st.State), `{"x":{"a":{"a":`))
	for _, err := range r.States(ctx, "HEAD") {
		require.NoError(t, err)
	}
	appendOne(t, r, ev("s2", "U", `{}`))
	_, err = r.Append(ctx, []EventInput{ev("s", "T", `{}`)}, AppendOptions{})
	assert.ErrorContains(t, err, "nested deeper than 512", "the deep state cannot be folded onto")
}

// Setting again the model already stored is a no-op, also when Check
// would refuse it now (a helper's review: a script that sets its model
// on every run broke on a model stored before Check refused 010).
func TestSetModelAgainSkipsCheck(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := []byte("types:\n  T: { apply: { n: 010 } }\n")
	_, err := r.SetModel(ctx, src, "t")
	require.ErrorIs(t, err, ErrInvalid)
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		id := tx.PutObject(object.KindBlob, src)
		return tx.UpdateRef(refs.Update{Name: refs.Model, New: id, Time: now(), Actor: "t", Message: "model set"})
	}))
	id, err := r.SetModel(ctx, src, "t")
	require.NoError(t, err)
	assert.Equal(t, object.Hash(object.KindBlob, src), id)
}
