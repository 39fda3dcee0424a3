package evgit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// lockCheckingReader reads through the store and records whether the
// repository's mutex was held during a read.
type lockCheckingReader struct {
	r    *Repository
	held bool
}

func (l *lockCheckingReader) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	if l.r.mu.TryLock() {
		l.r.mu.Unlock()
	} else {
		l.held = true
	}
	return l.r.st.Get(id)
}

func (l *lockCheckingReader) Snapshot(commit, model object.ID) (object.ID, bool, error) {
	return l.r.st.Snapshot(commit, model)
}

// modelFor must not hold the repository's mutex while it reads the model
// blob: the read takes the store's lock, and a commit's transaction holds
// the store's lock while it takes the mutex in modelFor, so an import and
// a commit that started together on a model not parsed yet (after Open,
// SetModel, or another process's model set) could deadlock. Found by a
// helper's audit.
func TestModelForReadsWithoutTheRepositoryMutex(t *testing.T) {
	r := modelRepo(t, bankModelEvery(5))
	v, ok := r.st.Ref(refs.Model)
	require.True(t, ok)
	r.mu.Lock()
	r.mdlSet = false // not parsed yet
	r.mu.Unlock()
	rd := &lockCheckingReader{r: r}
	m, id, err := r.modelFor(rd, v.ID, true)
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Equal(t, v.ID, id)
	assert.False(t, rd.held, "the mutex was held while the blob was read")
	_, _, err = r.Model(context.Background())
	require.NoError(t, err)
}
