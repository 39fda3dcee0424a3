package refs

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/evgit/evgit/object"
)

// TestApplyToSymbolicRef: an update of a symbolic ref is its reflog entry
// only; once the ref is detached, updates move it.
func TestApplyToSymbolicRef(t *testing.T) {
	tb := NewTable()
	a, b := object.Hash(object.KindBlob, []byte("a")), object.Hash(object.KindBlob, []byte("b"))
	tb.Set("refs/heads/main", Value{ID: a})
	tb.Set(HEAD, Value{Symbolic: "refs/heads/main"})
	tb.Apply(Update{Name: HEAD, Old: a, New: b})
	v, _ := tb.Get(HEAD)
	assert.Equal(t, Value{Symbolic: "refs/heads/main"}, v)
	id, _, ok := tb.Resolve(HEAD)
	assert.True(t, ok)
	assert.Equal(t, a, id)

	tb.Set(HEAD, Value{ID: a})
	tb.Apply(Update{Name: HEAD, Old: a, New: b})
	v, _ = tb.Get(HEAD)
	assert.Equal(t, Value{ID: b}, v)
}
