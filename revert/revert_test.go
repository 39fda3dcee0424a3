package revert

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
)

const bank = `types:
  AccountOpened:
    apply: { owner: event.owner, balance: 0, frozen: false }
  MoneyDeposited:
    apply: { balance: state.balance + event.amount }
    revert: { type: MoneyWithdrawn, data: { amount: event.amount } }
  MoneyWithdrawn:
    require: ["!state.frozen", "state.balance >= event.amount"]
    apply: { balance: state.balance - event.amount }
    revert: { type: MoneyDeposited, data: { amount: event.amount } }
  Broken:
    apply: { x: 1 }
    revert: { type: Fix, data: { amount: event.missing + 1 } }
`

func bankModel(t *testing.T) *model.Model {
	t.Helper()
	m, err := model.Parse([]byte(bank))
	require.NoError(t, err)
	return m
}

func target(stream, typ, data, before string) Target {
	var b []byte
	if before != "" {
		b = []byte(before)
	}
	e := object.NewEvent(stream, typ, 1, nil, []byte(data))
	return Target{Commit: object.Hash(object.KindBlob, []byte("c")), ID: object.Hash(object.KindEvent, e.Encode()), Event: e, Before: b}
}

func TestCompensate(t *testing.T) {
	tests := []struct {
		name         string
		noModel      bool
		target       Target
		wantType     string
		wantData     string
		wantRestores bool
		wantAfter    string
		wantErr      error
	}{
		{name: "domain", target: target("a", "MoneyDeposited", `{"amount":5}`, `{"balance":5}`),
			wantType: "MoneyWithdrawn", wantData: `{"amount":5}`},
		{name: "domain back", target: target("a", "MoneyWithdrawn", `{"amount":5}`, `{"balance":5}`),
			wantType: "MoneyDeposited", wantData: `{"amount":5}`},
		{name: "named type without revert", target: target("a", "AccountOpened", `{"owner":"x"}`, ""),
			wantErr: model.ErrNoCompensation},
		{name: "revert expression fails", target: target("a", "Broken", `{}`, `{}`),
			wantErr: model.ErrRule},
		{name: "merge patch", target: target("d", "Edited", `{"a":2,"b":1,"c":null}`, `{"a":1,"c":3}`),
			wantType: "Edited", wantData: `{"a":1,"b":null,"c":3}`, wantRestores: true, wantAfter: `{"a":2,"b":1}`},
		{name: "merge patch without a model", noModel: true, target: target("d", "MoneyDeposited", `{"amount":1}`, `{"amount":3}`),
			wantType: "MoneyDeposited", wantData: `{"amount":3}`, wantRestores: true, wantAfter: `{"amount":1}`},
		{name: "merge patch creating the stream", target: target("d", "Edited", `{"a":1}`, ""),
			wantErr: model.ErrNoCompensation},
		{name: "merge patch replacing a scalar state", target: target("d", "Edited", `{"a":1}`, `7`),
			wantErr: model.ErrNoCompensation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := bankModel(t)
			if tt.noModel {
				m = nil
			}
			c, err := Compensate(m, tt.target)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "cannot revert commit "+tt.target.Commit.Short())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantType, c.Event.Type)
			assert.JSONEq(t, tt.wantData, string(c.Event.Data))
			assert.Nil(t, c.Event.Meta)
			assert.Equal(t, tt.target.Event.Stream, c.Stream)
			assert.Equal(t, tt.target.ID, c.Target)
			assert.Equal(t, tt.wantRestores, c.Restores)
			if tt.wantAfter != "" {
				assert.JSONEq(t, tt.wantAfter, string(c.After))
			}
		})
	}
}

// patchComp is the compensation of patch applied to before.
func patchComp(t *testing.T, stream, before, patch string) Compensation {
	t.Helper()
	c, err := Compensate(nil, target(stream, "E", patch, before))
	require.NoError(t, err)
	return c
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		before  string   // the state before the reverted event
		patch   string   // the reverted event
		current string   // the state at the head
		want    []string // the fields of later changes set back; "": the whole state
	}{
		{name: "nothing since", before: `{"a":1}`, patch: `{"a":2}`, current: `{"a":2}`},
		{name: "other field since", before: `{"a":1}`, patch: `{"a":2}`, current: `{"a":2,"b":9}`},
		{name: "same field since", before: `{"a":1}`, patch: `{"a":2}`, current: `{"a":3}`, want: []string{"a"}},
		{name: "set back to the same value", before: `{"a":1}`, patch: `{"a":2}`, current: `{"a":2}`},
		{name: "added field removed since: the patch removes it too", before: `{"a":1}`, patch: `{"b":2}`, current: `{"a":1}`},
		{name: "removed field added back since", before: `{"a":1,"b":1}`, patch: `{"b":null}`, current: `{"a":1,"b":5}`, want: []string{"b"}},
		{name: "nested field since", before: `{"m":{"x":1,"y":1}}`, patch: `{"m":{"x":2}}`, current: `{"m":{"x":3,"y":1}}`, want: []string{"m.x"}},
		{name: "nested sibling since", before: `{"m":{"x":1,"y":1}}`, patch: `{"m":{"x":2}}`, current: `{"m":{"x":2,"y":7}}`},
		{name: "nested object replaced since", before: `{"m":{"x":1}}`, patch: `{"m":{"x":2}}`, current: `{"m":5}`, want: []string{"m"}},
		{name: "object replaced by scalar, scalar still there", before: `{"m":{"x":1}}`, patch: `{"m":5}`, current: `{"m":5}`},
		{name: "object replaced by scalar, changed since", before: `{"m":{"x":1}}`, patch: `{"m":5}`, current: `{"m":6}`, want: []string{"m"}},
		{name: "state no longer an object", before: `{"a":1}`, patch: `{"a":2}`, current: `[1]`, want: []string{""}},
		{name: "no-op patch", before: `{"a":1}`, patch: `{"a":1}`, current: `{"a":5}`},
		{name: "several fields since", before: `{"a":1,"b":1,"m":{"x":1,"y":1},"z":1}`, patch: `{"a":2,"b":2,"m":{"x":2,"y":2},"z":2}`, current: `{"a":3,"b":3,"m":{"x":3,"y":2},"z":2}`, want: []string{"a", "b", "m.x"}},
		{name: "object replaced by scalar, an object since that the patch leaves as it is", before: `{"m":{"x":1}}`, patch: `{"m":5}`, current: `{"m":{"x":1,"z":2}}`},
		{name: "object replaced by scalar, an object since that the patch changes", before: `{"m":{"x":1}}`, patch: `{"m":5}`, current: `{"m":{"x":3}}`, want: []string{"m"}},
		{name: "put back since", before: `{"a":1,"b":1}`, patch: `{"a":2,"b":2}`, current: `{"a":1,"b":3}`, want: []string{"b"}},
		{name: "no-op patch on a state no longer an object", before: `{"a":1}`, patch: `{"a":1}`, current: `"x"`, want: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := patchComp(t, "s", tt.before, tt.patch)
			over, err := Check(nil, []Compensation{c}, func(stream string) ([]byte, bool, error) {
				assert.Equal(t, "s", stream)
				return []byte(tt.current), true, nil
			})
			require.NoError(t, err, "taken, as SPEC §4 says")
			var fields []string
			for _, o := range over {
				assert.Equal(t, Overwrite{Stream: "s", Field: o.Field, Path: o.Path, Event: c.Target, Commit: c.Commit}, o)
				assert.Equal(t, o.Field, strings.Join(o.Path, "."))
				fields = append(fields, o.Field)
			}
			assert.Equal(t, tt.want, fields)
		})
	}
}

// TestCheckPathsKeyByKey: a key holding a dot and a nested field print
// alike as a dotted Field; their Paths tell them apart.
func TestCheckPathsKeyByKey(t *testing.T) {
	c := patchComp(t, "s", `{"a":{"b":1},"a.b":1}`, `{"a":{"b":2},"a.b":2}`)
	over, err := Check(nil, []Compensation{c}, func(string) ([]byte, bool, error) {
		return []byte(`{"a":{"b":3},"a.b":3}`), true, nil
	})
	require.NoError(t, err)
	require.Len(t, over, 2)
	assert.Equal(t, []string{"a", "b"}, over[0].Path)
	assert.Equal(t, []string{"a.b"}, over[1].Path)
	assert.Equal(t, "a.b", over[0].Field)
	assert.Equal(t, "a.b", over[1].Field)

	c = patchComp(t, "s", `{"a":1}`, `{"a":2}`)
	over, err = Check(nil, []Compensation{c}, func(string) ([]byte, bool, error) { return []byte(`[1]`), true, nil })
	require.NoError(t, err)
	require.Len(t, over, 1)
	assert.Empty(t, over[0].Path, "the whole state")
}

// TestCheckReplaysInOrder checks each compensation against the state the
// ones before it leave, and runs the model's rules on them.
func TestCheckReplaysInOrder(t *testing.T) {
	// n: 1 → 2 → 3, reverted newest first: the second compensation must
	// see n=2, which only the first one's replay gives.
	c3 := patchComp(t, "s", `{"n":2}`, `{"n":3}`)
	c2 := patchComp(t, "s", `{"n":1}`, `{"n":2}`)
	calls := 0
	current := func(string) ([]byte, bool, error) { calls++; return []byte(`{"n":3}`), true, nil }
	over, err := Check(nil, []Compensation{c3, c2}, current)
	require.NoError(t, err)
	assert.Empty(t, over)
	assert.Equal(t, 1, calls, "a stream's head state is read once")
	over, err = Check(nil, []Compensation{c2, c3}, current)
	require.NoError(t, err)
	assert.Len(t, over, 2, "c2's compensation sets back c3's change, then c3's sees n=1")

	// Domain compensations go through require rules.
	m := bankModel(t)
	dep, err := Compensate(m, target("a", "MoneyDeposited", `{"amount":5}`, `{"balance":0,"frozen":false}`))
	require.NoError(t, err)
	over, err = Check(m, []Compensation{dep}, func(string) ([]byte, bool, error) { return []byte(`{"balance":4,"frozen":false}`), true, nil })
	require.ErrorIs(t, err, model.ErrRule)
	assert.Empty(t, over)
	over, err = Check(m, []Compensation{dep}, func(string) ([]byte, bool, error) { return []byte(`{"balance":5,"frozen":false}`), true, nil })
	require.NoError(t, err)
	assert.Empty(t, over, "a domain compensation is relative: nothing set back")

	boom := errors.New("boom")
	_, err = Check(m, []Compensation{dep}, func(string) ([]byte, bool, error) { return nil, false, boom })
	require.ErrorIs(t, err, boom)

	// A stream the branch lacks has nothing to undo (a revert of a
	// commit of another branch made it there, found by a helper's audit).
	c1 := patchComp(t, "s", `{"n":1}`, `{"n":2}`)
	_, err = Check(nil, []Compensation{c1}, func(string) ([]byte, bool, error) { return nil, false, nil })
	require.ErrorIs(t, err, model.ErrNoCompensation)
	assert.ErrorContains(t, err, "stream s has no events on this branch")
}

// FuzzCompensateRestores: whenever a merge patch has a compensation, Check
// accepts it right after the event, and applying it gives the state before
// the event back.
func FuzzCompensateRestores(f *testing.F) {
	f.Add([]byte(`{"a":1,"m":{"x":1}}`), []byte(`{"a":2,"b":3,"m":{"x":null,"y":[1]}}`))
	f.Add([]byte(`{"a":{"b":{"c":1}}}`), []byte(`{"a":{"b":5}}`))
	f.Add([]byte(`{"a":1}`), []byte(`{"a":null}`))
	f.Add([]byte(`{"a":null}`), []byte(`{"a":1}`))
	f.Add([]byte(`{}`), []byte(`{}`))
	f.Add([]byte(`[1]`), []byte(`{"a":1}`))
	f.Add([]byte(`{"a":1}`), []byte(`{"a"`))
	f.Fuzz(func(t *testing.T, before, patch []byte) {
		b, err := object.CanonicalJSON(before)
		if err != nil {
			return
		}
		p, err := object.CanonicalJSON(patch)
		if err != nil {
			return
		}
		c, err := Compensate(nil, target("s", "E", string(p), string(b)))
		if err != nil {
			if !errors.Is(err, model.ErrNoCompensation) {
				t.Fatalf("Compensate: %v", err)
			}
			return
		}
		over, err := Check(nil, []Compensation{c}, func(string) ([]byte, bool, error) { return c.After, true, nil })
		if err != nil || len(over) > 0 {
			t.Fatalf("Check right after the event: %v, %v", over, err)
		}
		back, err := model.MergePatch(c.After, c.Event.Data)
		if err != nil {
			t.Fatal(err)
		}
		if string(back) != string(b) {
			t.Fatalf("before %s, patch %s: compensation %s gives %s", b, p, c.Event.Data, back)
		}
	})
}
