package model

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

// slow returns a copy of m whose rules never take the fast fold.
func slow(m *Model) *Model {
	c := *m
	c.types = maps.Clone(m.types)
	for k, t := range c.types {
		tc := *t
		tc.fast = nil
		c.types[k] = &tc
	}
	return &c
}

// The banking model's rules all compile for the fast fold, and folding
// the whole banking workload with it gives every state and every refusal
// that the full path gives.
func TestFastFoldsTheBankingWorkload(t *testing.T) {
	m, err := Parse([]byte(bankgen.Model))
	require.NoError(t, err)
	for typ, r := range m.types {
		require.NotNil(t, r.fast, "%s compiles for the fast fold", typ)
	}
	full := slow(m)
	states := map[string][]byte{}
	fast, refused := 0, 0
	for _, e := range bankgen.Generate(bankgen.Config{Seed: 3, Events: 20_000, Accounts: 500}) {
		data, err := object.CanonicalJSON(e.AppendData(nil))
		require.NoError(t, err)
		meta := map[string]string{"actor": e.Actor, "time": e.Time.Format(time.RFC3339)}
		ev := Event{Type: e.Type, Schema: m.LatestSchema(e.Type), Data: data, Meta: meta}
		if e.Schema != 0 {
			ev.Schema = e.Schema
		}
		want, werr := full.Apply(e.Stream, states[e.Stream], ev)
		got, gerr := m.Apply(e.Stream, states[e.Stream], ev)
		require.Equal(t, werr, gerr, "%s %s on %s", e.Type, data, states[e.Stream])
		require.Equal(t, string(want), string(got), "%s %s on %s", e.Type, data, states[e.Stream])
		if werr != nil {
			refused++
			continue
		}
		if r := m.types[e.Type]; r != nil && !m.upcastsFrom(ev.Type, ev.Schema) {
			if _, ok := r.fast.fold(states[e.Stream], data, meta, true); ok {
				fast++
			}
		}
		states[e.Stream] = got
	}
	assert.Greater(t, fast, 15_000, "most events take the fast fold")
	t.Logf("%d events folded fast, %d refused", fast, refused)

	// Refusals, which the fast fold leaves to the full path: the same
	// error, message and all.
	for _, c := range []struct{ typ, state, data string }{
		{"MoneyWithdrawn", `{"balance":5,"frozen":false,"owner":"a"}`, `{"amount":6}`},
		{"MoneyWithdrawn", `{"balance":50,"frozen":true,"owner":"a"}`, `{"amount":6}`},
		{"MoneyDeposited", ``, `{"amount":6}`},
		{"MoneyDeposited", `{"balance":9223372036854775807,"frozen":false,"owner":"a"}`, `{"amount":1}`},
		{"MoneyDeposited", `{"balance":"x","frozen":false,"owner":"a"}`, `{"amount":1}`},
		{"FeeCharged", `{"balance":1,"frozen":false,"owner":"a"}`, `{"amount":2}`},
	} {
		ev := Event{Type: c.typ, Schema: m.LatestSchema(c.typ), Data: []byte(c.data)}
		want, werr := full.Apply("acc", []byte(c.state), ev)
		got, gerr := m.Apply("acc", []byte(c.state), ev)
		require.Error(t, werr, "%v", c)
		assert.Equal(t, werr.Error(), gerr.Error(), "%v", c)
		assert.Equal(t, want, got)
	}
}

// fastTestModel has rules over every operator the fast fold takes, and
// one it does not.
const fastTestModel = `
types:
  A:
    require: ["state.n >= 0 || event.force", "!(state.s == 'x') and event.k != 3"]
    apply: { n: "state.n + event.k * 2 - -event.k", s: event.s, b: "state.n < event.k && event.s <= 'm'", who: meta.actor, c: 7, z: "'lit'" }
  B:
    apply: { n: "-state.n", q: "state.s > event.s", e: "state.n == event.k" }
  C:
    apply: { n: "state.n / 2" }
`

// FuzzFastFold: wherever the fast fold answers, its answer is the full
// path's, byte for byte; the type whose rules it cannot take never does.
func FuzzFastFold(f *testing.F) {
	m, err := Parse([]byte(fastTestModel))
	if err != nil {
		f.Fatal(err)
	}
	if m.types["A"].fast == nil || m.types["B"].fast == nil || m.types["C"].fast != nil {
		f.Fatal("A and B compile for the fast fold, C (a division) does not")
	}
	full := slow(m)
	for _, s := range [][3]string{
		{"A", `{"n":5,"s":"a"}`, `{"force":false,"k":2,"s":"b"}`},
		{"A", ``, `{"force":true,"k":1,"s":"z"}`},
		{"A", `{"n":-1,"s":"q"}`, `{"force":true,"k":9223372036854775807,"s":"c"}`},
		{"B", `{"n":3,"s":"x"}`, `{"k":3,"s":"y"}`},
		{"B", `{"n":-9223372036854775807,"s":"x"}`, `{"k":3,"s":"y"}`},
		{"C", `{"n":4}`, `{}`},
	} {
		f.Add(s[0], []byte(s[1]), []byte(s[2]))
	}
	meta := map[string]string{"actor": "ann"}
	f.Fuzz(func(t *testing.T, typ string, state, data []byte) {
		r := m.types[typ]
		if r == nil || r.fast == nil {
			return
		}
		got, ok := r.fast.fold(state, data, meta, true)
		if !ok {
			return
		}
		want, err := full.Apply("s", state, Event{Type: typ, Data: data, Meta: meta})
		if err != nil {
			t.Fatalf("%s on %s with %s: fast gave %s, the full path refuses: %v", typ, state, data, got, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s on %s with %s: fast gave %s, the full path %s", typ, state, data, got, want)
		}
	})
}

// A constant the full path refuses to write (2e19, a whole float stored
// as an integer no arithmetic accepts) was written by the fast path for
// events it took (plain data) and refused for the others (a float in the
// data sent them to the full path): the refusal depended on data the rule
// never reads (a helper's audit). Both are refused now, with the same
// message; a replay of history writes it on both.
func TestFastLeavesAnUnstorableConstantToTheFullPath(t *testing.T) {
	for _, src := range []string{"types:\n  K: { apply: { x: 2e19 } }\n", "types:\n  K: { apply: { y: { a: 5e20 } } }\n"} {
		m, err := Parse([]byte(src))
		require.NoError(t, err)
		var msgs []string
		for _, data := range []string{`{}`, `{"f":0.5}`, `{"s":"a\"b"}`} {
			_, err := m.Apply("s", nil, Event{Type: "K", Schema: 1, Data: []byte(data)})
			require.ErrorIs(t, err, ErrRule, "%s %s", src, data)
			msgs = append(msgs, err.Error())
			_, serr := slow(m).Apply("s", nil, Event{Type: "K", Schema: 1, Data: []byte(data)})
			require.Error(t, serr)
			assert.Equal(t, serr.Error(), err.Error())
			got, err := m.Replay("s", nil, Event{Type: "K", Schema: 1, Data: []byte(data)})
			require.NoError(t, err)
			want, err := slow(m).Replay("s", nil, Event{Type: "K", Schema: 1, Data: []byte(data)})
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		}
		assert.Equal(t, msgs[0], msgs[1], src)
	}
}
