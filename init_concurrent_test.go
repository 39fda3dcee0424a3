package evgit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// Inits of one new folder at once make one repository: each either opens
// it or fails cleanly, and every commit acknowledged through any of them
// is there after (a helper's audit: one in ten trials left a repository
// that no longer opened, a second init's segment having replaced the
// first one's after a commit; across processes, acknowledged commits were
// lost).
func TestConcurrentInitsMakeOneRepository(t *testing.T) {
	ctx := context.Background()
	const trials, inits = 20, 4
	for trial := range trials {
		dir := t.TempDir()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var acked []object.ID
		made := 0
		for g := range inits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, created, err := Init(ctx, dir, InitOptions{})
				if !assert.NoError(t, err, "trial %d init %d", trial, g) {
					return
				}
				defer r.Close()
				res, err := r.Append(ctx, []EventInput{ev(fmt.Sprint("s", g), "T", `{}`)}, AppendOptions{})
				if !assert.NoError(t, err, "trial %d append %d", trial, g) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				acked = append(acked, res.Commit)
				if created {
					made++
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 1, made, "trial %d: one init makes the repository", trial)
		r, err := Open(ctx, filepath.Join(dir, DirName))
		require.NoError(t, err, "trial %d", trial)
		for _, id := range acked {
			_, err := r.Show(ctx, id.String())
			assert.NoError(t, err, "trial %d: acknowledged commit %s", trial, id.Short())
		}
		n := 0
		for _, err := range r.Log(ctx, LogOptions{}) {
			require.NoError(t, err)
			n++
		}
		assert.Equal(t, inits, n, "trial %d: every commit on main", trial)
		rep, err := r.Fsck(ctx, FsckOptions{})
		require.NoError(t, err)
		assert.True(t, rep.OK, "trial %d: %v", trial, rep.Problems)
		require.NoError(t, r.Close())
	}
}
