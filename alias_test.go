package evgit

import (
	"context"
	"encoding/json"
	"iter"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scribble overwrites every byte a caller can reach through v's exported
// fields, slices, maps and pointers, as a careless caller might: bytes
// become 'X', IDs 0xff, map entries change and grow. Strings stay, as Go
// keeps them.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := v.Bytes()
			for i := range b {
				b[i] = 'X'
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			scribble(v.Index(i))
		}
	case reflect.Array:
		if v.CanSet() && v.Type().Elem().Kind() == reflect.Uint8 {
			for i := 0; i < v.Len(); i++ {
				v.Index(i).SetUint(0xff)
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			scribble(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		if v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String {
			for _, k := range v.MapKeys() {
				v.SetMapIndex(k, reflect.ValueOf("scribbled").Convert(v.Type().Elem()))
			}
			v.SetMapIndex(reflect.ValueOf("scribbled").Convert(v.Type().Key()), reflect.ValueOf("x").Convert(v.Type().Elem()))
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scribble(e)
		}
	}
}

// TestResultsAreTheCallers: what the library returns belongs to the
// caller, who may change it; nothing read later, in this process or
// after a snapshot is written, sees the change. Event data used to be a
// slice of the frame cache (a helper's audit): a caller that edited a
// Show's data changed what Log, State and the next snapshot read.
func TestResultsAreTheCallers(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(t *testing.T, r *Repository) any{
		"Show": func(t *testing.T, r *Repository) any {
			c, err := r.Show(ctx, "HEAD~1")
			require.NoError(t, err)
			return c
		},
		"Log": func(t *testing.T, r *Repository) any {
			return collect(t, r.Log(ctx, LogOptions{}))
		},
		"LogScribbledInTheLoop": func(t *testing.T, r *Repository) any {
			// A loop body that changes each commit as it gets it: the
			// walk reads the parents after the body returns.
			var ids []string
			for c, err := range r.Log(ctx, LogOptions{}) {
				require.NoError(t, err)
				ids = append(ids, c.ID.String())
				scribble(reflect.ValueOf(c))
			}
			require.Len(t, ids, 5)
			return ids
		},
		"Events": func(t *testing.T, r *Repository) any {
			return collect(t, r.Events(ctx, "HEAD", "acct", EventsOptions{}))
		},
		"State": func(t *testing.T, r *Repository) any {
			st, err := r.State(ctx, "HEAD", "acct", StateOptions{})
			require.NoError(t, err)
			return st
		},
		"StreamAt": func(t *testing.T, r *Repository) any {
			id, err := r.Resolve(ctx, "HEAD")
			require.NoError(t, err)
			st, err := r.StreamAt(ctx, id, "acct")
			require.NoError(t, err)
			return st
		},
		"StateRaw": func(t *testing.T, r *Repository) any {
			st, err := r.State(ctx, "HEAD~1", "blob", StateOptions{})
			require.NoError(t, err)
			return st
		},
		"States": func(t *testing.T, r *Repository) any {
			return collect(t, r.States(ctx, "HEAD"))
		},
		"Tree": func(t *testing.T, r *Repository) any {
			return collect(t, r.Tree(ctx, "HEAD"))
		},
		"Diff": func(t *testing.T, r *Repository) any {
			all := collect(t, r.Diff(ctx, "HEAD~3", "HEAD"))
			require.NotEmpty(t, all)
			return all
		},
		"ReadObjectCommit": func(t *testing.T, r *Repository) any {
			o, err := r.ReadObject(ctx, "HEAD~1")
			require.NoError(t, err)
			return o
		},
		"ReadObjectEvent": func(t *testing.T, r *Repository) any {
			c, err := r.Show(ctx, "HEAD~1")
			require.NoError(t, err)
			o, err := r.ReadObject(ctx, c.Events[0].ID.String())
			require.NoError(t, err)
			return o
		},
		"ReadObjectTree": func(t *testing.T, r *Repository) any {
			// The snapshot of the first commit: its acct leaf holds
			// the state inline.
			_, mdl, err := r.Model(ctx)
			require.NoError(t, err)
			first, err := r.Resolve(ctx, "HEAD~4")
			require.NoError(t, err)
			root, ok, err := r.Store().Snapshot(first, mdl)
			require.NoError(t, err)
			require.True(t, ok)
			o, err := r.ReadObject(ctx, root.String())
			require.NoError(t, err)
			require.NotNil(t, o.Tree)
			return o
		},
		"ReadObjectModel": func(t *testing.T, r *Repository) any {
			_, id, err := r.Model(ctx)
			require.NoError(t, err)
			o, err := r.ReadObject(ctx, id.String())
			require.NoError(t, err)
			return o
		},
		"Model": func(t *testing.T, r *Repository) any {
			m, _, err := r.Model(ctx)
			require.NoError(t, err)
			return struct {
				Source        []byte
				SnapshotEvery *int
			}{m.Source(), &m.SnapshotEvery}
		},
		"Branches": func(t *testing.T, r *Repository) any {
			return collect(t, r.Branches(ctx))
		},
		"Aggregate": func(t *testing.T, r *Repository) any {
			var seen []*RecordedEvent
			agg := Aggregate[map[string]any]{Default: func(s map[string]any, e *RecordedEvent) (map[string]any, error) {
				seen = append(seen, e)
				return s, nil
			}, SnapshotEvery: -1}
			_, err := agg.Load(ctx, r, "HEAD", "acct", StateOptions{})
			require.NoError(t, err)
			return seen
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			r := aliasRepo(t)
			defer func() { r.Close() }()
			for _, reopen := range []bool{false, true} {
				if reopen {
					require.NoError(t, r.Close())
					var err error
					r, err = Open(ctx, r.GitDir())
					require.NoError(t, err)
				}
				want := dump(t, call(t, r))
				scribble(reflect.ValueOf(call(t, r)))
				require.Equal(t, want, dump(t, call(t, r)), "a result changed by its caller changed a later read")
			}
			// What was scribbled on reached no snapshot either.
			checkAfterScribbling(t, r)
		})
	}
}

// checkAfterScribbling appends, so that a snapshot is written, opens the
// repository again and checks every snapshot and acct's state.
func checkAfterScribbling(t *testing.T, r *Repository) {
	ctx := context.Background()
	_, err := r.Append(ctx, []EventInput{{Stream: "other", Type: "Set"}, {Stream: "other", Type: "Set"}}, AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	r, err = Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer r.Close()
	n, err := r.VerifySnapshots(ctx, "HEAD")
	require.NoError(t, err)
	require.Positive(t, n)
	st, err := r.State(ctx, "HEAD", "acct", StateOptions{})
	require.NoError(t, err)
	require.JSONEq(t, `{"balance":120,"note":{"a":[1,2]},"owner":"ann"}`, string(st.State))
}

// dump is v as the test compares it: its JSON, byte slices included.
func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// aliasRepo is a repository of three commits on two streams, one whose
// state is a blob, under a model that snapshots every second event.
func aliasRepo(t *testing.T) *Repository {
	ctx := context.Background()
	r, _, err := Init(ctx, t.TempDir(), InitOptions{})
	require.NoError(t, err)
	_, err = r.SetModel(ctx, []byte("snapshot_every: 2\ntypes:\n  Opened:\n    apply: { owner: event.owner, balance: 0 }\n"), "")
	require.NoError(t, err)
	for i, d := range []string{`{"owner":"ann"}`, `{"balance":100,"note":{"a":[1,2]}}`, `{"balance":120}`} {
		typ := "Set"
		if i == 0 {
			typ = "Opened"
		}
		_, err := r.Append(ctx, []EventInput{
			{Stream: "acct", Type: typ, Data: json.RawMessage(d), Meta: map[string]string{"actor": "t"}},
			{Stream: "blob", Type: "Set", Data: json.RawMessage(`{"big":"` + strings.Repeat("y", 300) + `"}`)},
		}, AppendOptions{Message: "m"})
		require.NoError(t, err)
	}
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	_, err = r.CreateTag(ctx, "v1", "HEAD~1", "")
	require.NoError(t, err)

	return r
}

// collect gathers what an iterator yields, failing the test at an error.
func collect[T any](t *testing.T, seq iter.Seq2[T, error]) []T {
	t.Helper()
	var all []T
	for v, err := range seq {
		require.NoError(t, err)
		all = append(all, v)
	}
	return all
}
