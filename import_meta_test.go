package evgit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An import folds each event with the meta its commit fills in (actor,
// time), as the commit path does: its snapshots, built from that fold,
// match the events, and a state reads as it would after an append.
func TestImportFoldsTheMetaItsCommitsFillIn(t *testing.T) {
	ctx := context.Background()
	for _, rule := range []string{"{ by: meta.actor }", "{ at: meta.time }"} {
		mdl := "snapshot_every: 1\ntypes:\n  Touched:\n    apply: " + rule + "\n"
		r := modelRepo(t, mdl)
		in := strings.Repeat(`{"stream":"s","type":"Touched","data":{}}`+"\n", 3)
		_, err := r.Import(ctx, strings.NewReader(in), ImportOptions{Actor: "alice"})
		require.NoError(t, err)
		n, err := r.VerifySnapshots(ctx, "HEAD")
		require.NoError(t, err, "%s: snapshots hold what the events give", rule)
		require.Positive(t, n)
		st, err := r.State(ctx, "HEAD", "s", StateOptions{})
		require.NoError(t, err)
		head, err := r.Show(ctx, "HEAD")
		require.NoError(t, err)
		want := map[string]string{"{ by: meta.actor }": `{"by":"alice"}`, "{ at: meta.time }": `{"at":"` + head.Time.UTC().Format(time.RFC3339Nano) + `"}`}[rule]
		require.JSONEq(t, want, string(st.State), rule)
	}
}
