package evgit

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/model"
)

// liveModel names one typed event, so that a large state folds both merge
// patches (kept decoded) and rules (on the bytes) in one run; its require
// refuses a Mark of a stream marked already.
const liveModel = `snapshot_every: 7
types:
  Mark:
    require: ["state.marked != true"]
    apply: { marked: true }
  Unmark:
    apply: { marked: false }
`

// livePatches returns n events for stream big, merge patches that add,
// change, delete and nest fields, with a Mark and an Unmark among them,
// and the state after each, folded by model.MergePatch and the rules by
// hand: the answer a writer that keeps the state decoded must give.
func livePatches(t *testing.T, n int, start []byte) ([]EventInput, [][]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 9))
	var events []EventInput
	var states [][]byte
	state := start
	for i := range n {
		var patch string
		switch k := rng.IntN(10); {
		case i%25 == 12:
			events = append(events, ev("big", "Mark", `{}`))
			patch = `{"marked":true}`
		case i%25 == 20:
			events = append(events, ev("big", "Unmark", `{}`))
			patch = `{"marked":false}`
		case k < 4:
			patch = fmt.Sprintf(`{"k%04d":"%s"}`, rng.IntN(400), strings.Repeat("v", rng.IntN(40)))
		case k < 6:
			patch = fmt.Sprintf(`{"k%04d":null}`, rng.IntN(400))
		case k < 8:
			patch = fmt.Sprintf(`{"nest":{"n%d":%d,"m%d":null}}`, rng.IntN(20), i, rng.IntN(20))
		default:
			patch = fmt.Sprintf(`{"new%d":[%d,{"x":%d}]}`, i, i, rng.IntN(9))
		}
		if i%25 != 12 && i%25 != 20 {
			events = append(events, ev("big", "Put", patch))
		}
		next, err := model.MergePatch(state, []byte(patch))
		require.NoError(t, err)
		state = next
		states = append(states, state)
	}
	return events, states
}

// A writer folding many merge patches onto a large state keeps it
// decoded: what it writes (states at every commit, snapshots, what the
// next writer reads) is what folding the bytes gives, and the fold no
// longer copies the whole state for every event.
func TestWriterKeepsALargeStateDecoded(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, liveModel)
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 400 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%04d":"%s"`, i, strings.Repeat("s", 30))
	}
	b.WriteString(`}`)
	first := []byte(b.String()) // about 16 KB: a large state
	require.True(t, model.LargeState(first))
	appendOne(t, r, ev("big", "Put", string(first)), ev("other", "Put", `{"a":1}`))
	base, err := model.MergePatch(nil, first)
	require.NoError(t, err)

	events, states := livePatches(t, 300, base)
	var in bytes.Buffer
	for _, e := range events[:200] {
		fmt.Fprintf(&in, `{"stream":%q,"type":%q,"data":%s}`+"\n", e.Stream, e.Type, e.Data)
	}
	_, err = r.Import(ctx, &in, ImportOptions{})
	require.NoError(t, err)
	at := map[int]string{} // event → the commit it ends
	var line []string
	for c, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		line = append(line, c.ID.String())
	}
	require.Len(t, line, 201)
	for i := range 200 {
		at[i] = line[199-i]
	}
	// The rest as commits of several events, through Append.
	for i := 200; i < len(events); i += 10 {
		end := min(i+10, len(events))
		at[end-1] = appendOne(t, r, events[i:end]...).String()
	}
	check := func(r *Repository) {
		for i, rev := range at {
			if i < len(events)-100 && i%17 != 0 {
				continue
			}
			st, err := r.State(ctx, rev, "big", StateOptions{})
			require.NoError(t, err, rev)
			require.Equal(t, string(states[i]), string(st.State), "after event %d", i)
			assert.Equal(t, uint64(i+2), st.Version, "after event %d", i)
		}
		n, err := r.VerifySnapshots(ctx, "HEAD")
		require.NoError(t, err)
		assert.Greater(t, n, 10, "snapshots checked against the events")
	}
	check(r)
	// A kept head holds bytes: a Folder lives only while its writer folds.
	r.mu.Lock()
	kept := r.heads["refs/heads/main"]
	r.mu.Unlock()
	require.NotNil(t, kept)
	require.NotNil(t, kept.streams["big"].state)
	for s := kept; s != nil; s = s.base {
		for name, st := range s.streams {
			assert.Nil(t, st.live, "kept head's %s", name)
		}
	}
	dir := r.GitDir()
	require.NoError(t, r.Close())
	r, err = Open(ctx, dir)
	require.NoError(t, err)
	defer r.Close()
	check(r)

	// A Mark of a marked stream is refused by its require, with the
	// state decoded, and nothing lands.
	appendOne(t, r, ev("big", "Put", `{"z":1}`), ev("big", "Mark", `{}`))
	_, err = r.Append(ctx, []EventInput{ev("big", "Put", `{"z":2}`), ev("big", "Mark", `{}`)}, AppendOptions{})
	require.ErrorIs(t, err, ErrRule)
	st, err := r.State(ctx, "HEAD", "big", StateOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(st.State), `"z":1`)

	// The fold keeps the state decoded: 2,000 patches onto a state of
	// 200 KB allocated 2,000 copies of it, 400 MB and more; decoded, a
	// copy at each snapshot and at the end.
	var big bytes.Buffer
	big.WriteString(`{"stream":"doc","type":"Put","data":{`)
	for i := range 4000 {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `"f%05d":"%s"`, i, strings.Repeat("d", 40))
	}
	big.WriteString("}}\n")
	for i := range 2000 {
		fmt.Fprintf(&big, `{"stream":"doc","type":"Put","data":{"f%05d":%d}}`+"\n", i*2, i)
	}
	r2 := newRepo(t)
	_, err = r2.SetModel(ctx, []byte("snapshot_every: 500\n"), "test")
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = r2.Import(ctx, &big, ImportOptions{})
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(100<<20), "bytes allocated by an import of 2,000 patches onto 200 KB")
	st, err = r2.State(ctx, "HEAD", "doc", StateOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(st.State), `"f03998":1999`)
}
