package evgit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// An input that a build before session 10 imported in part (killed after
// its second batch) is finished by this build, not written again: those
// builds recorded a marker per batch, naming the batch's digest alone,
// and no prefix keys (a helper's audit of old builds' repositories: the
// rerun wrote every commit a second time). Made here as those builds
// made it: each batch's commits, then its marker under the branch.
func TestImportFinishesAnOldBuildsImport(t *testing.T) {
	ctx := context.Background()
	// repeat: the input's third batch holds what its second does; the
	// second's marker names it too, but it landed at the second's place.
	// apart: another writer's commit came between the old import's
	// first and second batches, so the second's marker is not this
	// input's second cut (it may be another file's of the same events,
	// imported later): from there on the input is written.
	for _, c := range []struct{ repeat, apart bool }{{false, false}, {true, false}, {false, true}} {
		repeat := c.repeat
		r := newRepo(t)
		total := 2500
		if repeat {
			total = 3000
		}
		var in strings.Builder
		for i := range total {
			n := i
			if repeat && i >= 2000 {
				n = i - 1000
			}
			fmt.Fprintf(&in, `{"stream":"acc-%d","type":"Deposited","data":{"n":%d}}`+"\n", n%40, n)
		}
		lines, err := ReadLines(strings.NewReader(in.String()), true)
		require.NoError(t, err)
		var groups []importGroup
		var slab []preparedEvent
		for _, l := range lines {
			groups = addToGroups(groups, l, 1, &slab)
		}
		require.Len(t, groups, total)
		for i, cut := range [][]importGroup{groups[:1000], groups[1000:2000]} {
			if i == 1 && c.apart {
				_, err := r.Append(ctx, []EventInput{ev("other", "T", `{}`)}, AppendOptions{})
				require.NoError(t, err)
			}
			var last object.ID
			var d digester
			for _, g := range cut {
				d.addGroup(g)
				res, err := r.Append(ctx, []EventInput{g.events[0].in}, AppendOptions{})
				require.NoError(t, err)
				last = res.Commit
			}
			dig := d.sum()
			require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
				tx.PutIdempotency("refs/heads/main", "\x00import\x00"+hex.EncodeToString(dig[:]), last, dig)
				return nil
			}))
		}
		r.forgetHeads()

		landed, written := 2000, total-2000
		if c.apart {
			landed, written = 1000, total-1000
		}
		res, err := r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
		require.NoError(t, err)
		assert.Equal(t, written, res.Commits, "%+v", c)
		assert.Equal(t, landed, res.Skipped, "%+v", c)
		res, err = r.Import(ctx, strings.NewReader(in.String()), ImportOptions{})
		require.NoError(t, err)
		assert.Zero(t, res.Commits, "run again: nothing")
		var out bytes.Buffer
		require.NoError(t, r.Export(ctx, &out, ExportOptions{}))
		want := total // every event once
		if c.apart {
			want = 1 + 2000 + written // the other's, the old build's, this build's
		}
		assert.Equal(t, want, strings.Count(out.String(), "\n"), "%+v", c)
	}
}
