package model

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/evgit/evgit/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bankModel parses testdata/bank.yaml, the model of SPEC §4 verbatim.
func bankModel(t testing.TB) *Model {
	t.Helper()
	src, err := os.ReadFile("testdata/bank.yaml")
	require.NoError(t, err)
	m, err := Parse(src)
	require.NoError(t, err)
	return m
}

func mustParse(t testing.TB, src string) *Model {
	t.Helper()
	m, err := Parse([]byte(src))
	require.NoError(t, err)
	return m
}

func ev(typ, data string) Event {
	return Event{Type: typ, Schema: 1, Data: []byte(data)}
}

func TestParseBankModel(t *testing.T) {
	src, err := os.ReadFile("testdata/bank.yaml")
	require.NoError(t, err)
	m, err := Parse(src)
	require.NoError(t, err)

	assert.Equal(t, src, m.Source(), "Source gives the bytes back as written")
	assert.Equal(t, 100, m.SnapshotEvery)
	assert.Equal(t, 100, m.SnapshotInterval())
	for _, typ := range []string{"AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountFrozen", "AccountUnfrozen", "FeeCharged"} {
		assert.True(t, m.Knows(typ), typ)
	}
	assert.False(t, m.Knows("Renamed"))
	assert.Equal(t, 2, m.LatestSchema("FeeCharged"))
	assert.Equal(t, 1, m.LatestSchema("MoneyDeposited"))
	assert.Equal(t, 1, m.LatestSchema("Unknown"))
}

// TestApplyBank runs one account's history through the bank model; each
// step starts from the state the previous successful step left.
func TestApplyBank(t *testing.T) {
	m := bankModel(t)
	steps := []struct {
		name    string
		event   Event
		want    string
		wantErr string
	}{
		{name: "open", event: ev("AccountOpened", `{"owner":"alice"}`),
			want: `{"balance":0,"frozen":false,"owner":"alice"}`},
		{name: "deposit", event: ev("MoneyDeposited", `{"amount":120}`),
			want: `{"balance":120,"frozen":false,"owner":"alice"}`},
		{name: "withdraw", event: ev("MoneyWithdrawn", `{"amount":20}`),
			want: `{"balance":100,"frozen":false,"owner":"alice"}`},
		{name: "overdraft refused", event: ev("MoneyWithdrawn", `{"amount":500}`),
			wantErr: `stream acc-1: MoneyWithdrawn: require "state.balance >= event.amount" failed`},
		{name: "freeze", event: ev("AccountFrozen", `{}`),
			want: `{"balance":100,"frozen":true,"owner":"alice"}`},
		{name: "withdraw while frozen refused", event: ev("MoneyWithdrawn", `{"amount":1}`),
			wantErr: `stream acc-1: MoneyWithdrawn: require "!state.frozen" failed`},
		{name: "unfreeze (no data)", event: Event{Type: "AccountUnfrozen", Schema: 1},
			want: `{"balance":100,"frozen":false,"owner":"alice"}`},
		{name: "fee at schema 1 is upcast", event: ev("FeeCharged", `{"value":5}`),
			want: `{"balance":95,"frozen":false,"owner":"alice"}`},
		{name: "fee at schema 2", event: Event{Type: "FeeCharged", Schema: 2, Data: []byte(`{"amount":5}`)},
			want: `{"balance":90,"frozen":false,"owner":"alice"}`},
		{name: "fee above balance refused", event: Event{Type: "FeeCharged", Schema: 2, Data: []byte(`{"amount":91}`)},
			wantErr: `stream acc-1: FeeCharged: require "state.balance >= event.amount" failed`},
		{name: "withdraw all", event: ev("MoneyWithdrawn", `{"amount":90}`),
			want: `{"balance":0,"frozen":false,"owner":"alice"}`},
		{name: "an unnamed type is a merge patch", event: ev("Renamed", `{"owner":"bob","nick":null}`),
			want: `{"balance":0,"frozen":false,"owner":"bob"}`},
	}
	var state []byte
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := m.Apply("acc-1", state, s.event)
			if s.wantErr != "" {
				require.Error(t, err)
				assert.EqualError(t, err, s.wantErr)
				assert.ErrorIs(t, err, ErrRule)
				var re *RuleError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, "acc-1", re.Stream)
				assert.Equal(t, s.event.Type, re.Type)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, s.want, string(got))
			state = got
		})
	}
}

func TestApplyRefusals(t *testing.T) {
	m := bankModel(t)
	tests := []struct {
		name     string
		state    string
		event    Event
		wantRule string
		wantErr  string
	}{
		{name: "deposit to a stream never opened", event: ev("MoneyDeposited", `{"amount":10}`),
			wantRule: "apply balance", wantErr: "cannot read field balance of null"},
		{name: "withdraw from a stream never opened", event: ev("MoneyWithdrawn", `{"amount":10}`),
			wantRule: `require "!state.frozen"`},
		{name: "deposit without amount", state: `{"balance":1}`, event: ev("MoneyDeposited", `{}`),
			wantRule: "apply balance", wantErr: "invalid operation: integer + null"},
		{name: "deposit of a string", state: `{"balance":1}`, event: ev("MoneyDeposited", `{"amount":"10"}`),
			wantRule: "apply balance", wantErr: "invalid operation: integer + string"},
		{name: "int64 overflow", state: `{"balance":9223372036854775800}`, event: ev("MoneyDeposited", `{"amount":100}`),
			wantRule: "apply balance", wantErr: "integer overflow: 9223372036854775800 + 100"},
		{name: "int64 overflow on withdrawal", state: `{"balance":9223372036854775800,"frozen":false}`, event: ev("MoneyWithdrawn", `{"amount":-100}`),
			wantRule: "apply balance", wantErr: "integer overflow: 9223372036854775800 - -100"},
		{name: "fee underflow", state: `{"balance":-9223372036854775800}`, event: Event{Type: "FeeCharged", Schema: 2, Data: []byte(`{"amount":100}`)},
			wantRule: `require "state.balance >= event.amount"`},
		{name: "arithmetic beyond int64", state: `{"balance":1}`, event: ev("MoneyDeposited", `{"amount":18446744073709551615}`),
			wantRule: "apply balance", wantErr: "beyond the signed 64-bit range"},
		{name: "state not an object", state: `[1,2]`, event: ev("MoneyDeposited", `{"amount":1}`),
			wantRule: "apply", wantErr: "the state is array, not an object"},
		{name: "upcast of data that is not an object", state: `{"balance":1}`, event: ev("FeeCharged", `7`),
			wantRule: "upcast 1->2", wantErr: "the event's data is integer, not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var state []byte
			if tt.state != "" {
				state = []byte(tt.state)
			}
			_, err := m.Apply("acc-9", state, tt.event)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrRule)
			var re *RuleError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "acc-9", re.Stream)
			assert.Equal(t, tt.event.Type, re.Type)
			assert.Equal(t, tt.wantRule, re.Rule)
			assert.Contains(t, err.Error(), "stream acc-9: "+tt.event.Type+": "+tt.wantRule)
			if tt.wantErr != "" {
				assert.Contains(t, err.Error(), tt.wantErr)
			}
		})
	}
}

func TestApplyIntegers(t *testing.T) {
	m := mustParse(t, `
types:
  Set:   { apply: { v: event.v } }
  Add:   { apply: { v: state.v + event.v } }
  Sub:   { apply: { v: state.v - event.v } }
  Mul:   { apply: { v: state.v * event.v } }
  Neg:   { apply: { v: -state.v } }
  Abs:   { apply: { v: abs(state.v) } }
  Sum:   { apply: { v: sum(event.items) } }
  SumBy: { apply: { v: "sum(event.items, .n)" } }
  Int:   { apply: { v: int(event.v) } }
  Div:   { apply: { v: state.v / event.v } }
  Mod:   { apply: { v: state.v % event.v } }
  Pow:   { apply: { v: state.v ** event.v } }
  Caret: { apply: { v: state.v ^ event.v } }
  JSON:  { apply: { v: fromJSON(event.s) } }
  Big:   { require: ["event.v > 0", "event.v >= 1", "event.v != 1", "1 < event.v"], apply: { v: event.v } }
  Range: { require: ["event.v > 0", "event.v <= 1000", "event.v == 1000"], apply: { v: event.v } }
  Less:  { require: ["state.v < event.v"], apply: { v: event.v } }
  Eq:    { require: ["state.v == event.v"], apply: { v: event.v } }
`)
	tests := []struct {
		name    string
		state   string
		event   Event
		want    string
		wantErr string
	}{
		{name: "big integer copied exactly", event: ev("Set", `{"v":9007199254740993}`), want: `{"v":9007199254740993}`},
		{name: "big integer summed exactly", state: `{"v":9007199254740992}`, event: ev("Add", `{"v":1}`), want: `{"v":9007199254740993}`},
		{name: "max int64", state: `{"v":9223372036854775806}`, event: ev("Add", `{"v":1}`), want: `{"v":9223372036854775807}`},
		{name: "add overflow", state: `{"v":9223372036854775807}`, event: ev("Add", `{"v":1}`), wantErr: "integer overflow"},
		{name: "negative add overflow", state: `{"v":-9223372036854775808}`, event: ev("Add", `{"v":-1}`), wantErr: "integer overflow"},
		{name: "sub", state: `{"v":5}`, event: ev("Sub", `{"v":7}`), want: `{"v":-2}`},
		{name: "sub overflow", state: `{"v":-9223372036854775800}`, event: ev("Sub", `{"v":100}`), wantErr: "integer overflow"},
		{name: "sub overflow upward", state: `{"v":9223372036854775800}`, event: ev("Sub", `{"v":-100}`), wantErr: "integer overflow"},
		{name: "mul", state: `{"v":-3}`, event: ev("Mul", `{"v":4}`), want: `{"v":-12}`},
		{name: "mul overflow", state: `{"v":4294967296}`, event: ev("Mul", `{"v":4294967296}`), wantErr: "integer overflow"},
		{name: "mul overflow min by -1", state: `{"v":-9223372036854775808}`, event: ev("Mul", `{"v":-1}`), wantErr: "integer overflow"},
		{name: "mul overflow -1 by min", state: `{"v":-1}`, event: ev("Mul", `{"v":-9223372036854775808}`), wantErr: "integer overflow"},
		{name: "mul by zero", state: `{"v":0}`, event: ev("Mul", `{"v":-9223372036854775808}`), want: `{"v":0}`},
		{name: "float arithmetic stays float", state: `{"v":1.5}`, event: ev("Add", `{"v":1}`), want: `{"v":2.5}`},
		{name: "string concatenation", state: `{"v":"ab"}`, event: ev("Add", `{"v":"cd"}`), want: `{"v":"abcd"}`},
		{name: "array concatenation", state: `{"v":[1]}`, event: ev("Add", `{"v":[2]}`), want: `{"v":[1,2]}`},
		{name: "mismatched operands", state: `{"v":true}`, event: ev("Add", `{"v":1}`), wantErr: "invalid operation: boolean + integer"},
		{name: "negation", state: `{"v":5}`, event: ev("Neg", `{}`), want: `{"v":-5}`},
		{name: "negation overflow", state: `{"v":-9223372036854775808}`, event: ev("Neg", `{}`), wantErr: "integer overflow"},
		{name: "negation of null", state: `{}`, event: ev("Neg", `{}`), wantErr: "-null"},
		{name: "abs overflow", state: `{"v":-9223372036854775808}`, event: ev("Abs", `{}`), wantErr: "integer overflow"},
		{name: "abs", state: `{"v":-9}`, event: ev("Abs", `{}`), want: `{"v":9}`},
		{name: "sum", event: ev("Sum", `{"items":[1,2,3]}`), want: `{"v":6}`},
		{name: "sum overflow", event: ev("Sum", `{"items":[9223372036854775807,1]}`), wantErr: "integer overflow"},
		{name: "sum with predicate", event: ev("SumBy", `{"items":[{"n":2},{"n":40}]}`), want: `{"v":42}`},
		{name: "int of a float", event: ev("Int", `{"v":2.75}`), want: `{"v":2}`},
		{name: "int of a huge float", event: ev("Int", `{"v":1e30}`), wantErr: "integer overflow"},
		{name: "int of a big unsigned", event: ev("Int", `{"v":18446744073709551615}`), wantErr: "beyond the signed 64-bit range"},
		{name: "division yields a float", state: `{"v":7}`, event: ev("Div", `{"v":2}`), want: `{"v":3.5}`},
		{name: "division by zero is not JSON", state: `{"v":7}`, event: ev("Div", `{"v":0}`), wantErr: "not a JSON number"},
		{name: "modulo", state: `{"v":7}`, event: ev("Mod", `{"v":4}`), want: `{"v":3}`},
		{name: "power stays integer", state: `{"v":94906267}`, event: ev("Pow", `{"v":2}`), want: `{"v":9007199515875289}`},
		{name: "caret is power", state: `{"v":-2}`, event: ev("Caret", `{"v":63}`), want: `{"v":-9223372036854775808}`},
		{name: "power to zero", state: `{"v":0}`, event: ev("Pow", `{"v":0}`), want: `{"v":1}`},
		{name: "power of one to anything", state: `{"v":-1}`, event: ev("Pow", `{"v":9223372036854775807}`), want: `{"v":-1}`},
		{name: "power overflow", state: `{"v":2}`, event: ev("Pow", `{"v":63}`), wantErr: "integer overflow"},
		{name: "power overflow by squaring", state: `{"v":3037000500}`, event: ev("Pow", `{"v":2}`), wantErr: "integer overflow"},
		{name: "negative exponent is a float", state: `{"v":2}`, event: ev("Pow", `{"v":-1}`), want: `{"v":0.5}`},
		{name: "float power stays float", state: `{"v":1.5}`, event: ev("Pow", `{"v":2}`), want: `{"v":2.25}`},
		{name: "power of a big unsigned refused", state: `{"v":18446744073709551615}`, event: ev("Pow", `{"v":1}`), wantErr: "beyond the signed 64-bit range"},
		{name: "fromJSON keeps integers exact", event: ev("JSON", `{"s":"{\"a\":9007199254740993,\"b\":[1.5,-0]}"}`), want: `{"v":{"a":9007199254740993,"b":[1.5,0]}}`},
		{name: "fromJSON of bad JSON", event: ev("JSON", `{"s":"{"}`), wantErr: "JSON"},
		{name: "fromJSON of a number", event: ev("JSON", `{"s":1}`), wantErr: "want a string"},
		{name: "big unsigned compares exactly", event: ev("Big", `{"v":18446744073709551615}`), want: `{"v":18446744073709551615}`},
		{name: "int64 compares with int literals", event: ev("Range", `{"v":1000}`), want: `{"v":1000}`},
		{name: "int64 range refused", event: ev("Range", `{"v":1001}`), wantErr: `require "event.v <= 1000" failed`},
		{name: "int compares exactly with float", state: `{"v":9007199254740993}`, event: ev("Less", `{"v":9007199254740992.0}`), wantErr: "failed"},
		{name: "int and float equal", state: `{"v":2}`, event: ev("Eq", `{"v":2.0}`), want: `{"v":2}`},
		{name: "unsigned is not a negative", state: `{"v":-1}`, event: ev("Eq", `{"v":18446744073709551615}`), wantErr: "failed"},
		{name: "compare with null refused", state: `{}`, event: ev("Less", `{"v":1}`), wantErr: "invalid operation: null < integer"},
		{name: "compare strings", state: `{"v":"a"}`, event: ev("Less", `{"v":"b"}`), want: `{"v":"b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var state []byte
			if tt.state != "" {
				state = []byte(tt.state)
			}
			got, err := m.Apply("n", state, tt.event)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrRule)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestApplySeesStateBefore(t *testing.T) {
	m := mustParse(t, `
types:
  Swap: { apply: { a: state.b, b: state.a } }
  Stamp: { apply: { by: meta.actor, at: meta.time, seq: "(state?.seq ?? 0) + 1", tags: [x, 1], nested: { k: v } } }
  Nest: { apply: { prev: state } }
`)
	got, err := m.Apply("s", []byte(`{"a":1,"b":2,"c":3}`), ev("Swap", `{}`))
	require.NoError(t, err)
	assert.Equal(t, `{"a":2,"b":1,"c":3}`, string(got), "apply fields are not evaluated in sequence")

	got, err = m.Apply("s", nil, Event{Type: "Stamp", Schema: 1, Data: []byte(`{}`),
		Meta: map[string]string{"actor": "teller-7", "time": "2026-11-24T15:00:00Z"}})
	require.NoError(t, err)
	assert.Equal(t, `{"at":"2026-11-24T15:00:00Z","by":"teller-7","nested":{"k":"v"},"seq":1,"tags":["x",1]}`, string(got))

	got, err = m.Apply("s", got, Event{Type: "Stamp", Schema: 1})
	require.NoError(t, err)
	assert.Equal(t, `{"at":"","by":"","nested":{"k":"v"},"seq":2,"tags":["x",1]}`, string(got), "missing meta reads as empty")

	got, err = m.Apply("s", []byte(`{"a":1}`), ev("Nest", `{}`))
	require.NoError(t, err)
	assert.Equal(t, `{"a":1,"prev":{"a":1}}`, string(got))
}

func TestRequireMustBeBoolean(t *testing.T) {
	m := mustParse(t, `types: { T: { require: ["event.x"], apply: { ok: true } } }`)
	_, err := m.Apply("s", nil, ev("T", `{"x":1}`))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRule)
	assert.EqualError(t, err, `stream s: T: require "event.x": yielded integer, not a boolean`)

	got, err := m.Apply("s", nil, ev("T", `{"x":true}`))
	require.NoError(t, err)
	assert.Equal(t, `{"ok":true}`, string(got))
}

func TestUpcast(t *testing.T) {
	m := mustParse(t, `
upcast:
  - { type: Moved, from: 2, to: 3, data: { to: event.where + "!" } }
  - { type: Moved, from: 1, to: 2, data: { where: event.place } }
  - { type: Tagged, from: 1, to: 2 }
`)
	tests := []struct {
		name       string
		in         Event
		wantData   string
		wantSchema int
		wantErr    string
	}{
		{name: "chain 1 to 3", in: ev("Moved", `{"place":"x"}`), wantData: `{"place":"x","to":"x!","where":"x"}`, wantSchema: 3},
		{name: "from 2", in: Event{Type: "Moved", Schema: 2, Data: []byte(`{"where":"y"}`)}, wantData: `{"to":"y!","where":"y"}`, wantSchema: 3},
		{name: "newest schema unchanged", in: Event{Type: "Moved", Schema: 3, Data: []byte(`{"to":"z"}`)}, wantData: `{"to":"z"}`, wantSchema: 3},
		{name: "no data rule only raises schema", in: ev("Tagged", `{"a":1}`), wantData: `{"a":1}`, wantSchema: 2},
		{name: "other type unchanged", in: ev("Other", `{"b": 2}`), wantData: `{"b": 2}`, wantSchema: 1},
		{name: "failing expression", in: ev("Moved", `{"place":1}`), wantErr: `Moved: upcast 2->3 to: invalid operation: integer + string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Upcast(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrRule)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantData, string(got.Data))
			assert.Equal(t, tt.wantSchema, got.Schema)
			assert.Equal(t, tt.in.Type, got.Type)
		})
	}
	assert.Equal(t, 3, m.LatestSchema("Moved"))
	assert.False(t, m.Knows("Moved"), "upcast rules alone do not name a type")

	bank := bankModel(t)
	got, err := bank.Upcast(ev("FeeCharged", `{"value":5}`))
	require.NoError(t, err)
	assert.Equal(t, Event{Type: "FeeCharged", Schema: 2, Data: []byte(`{"amount":5,"value":5}`)}, got)
}

func TestCompensateBank(t *testing.T) {
	m := bankModel(t)
	before := []byte(`{"balance":100,"frozen":false,"owner":"alice"}`)
	tests := []struct {
		name    string
		before  []byte
		in      Event
		want    Event
		wantErr error
	}{
		{name: "deposit", before: before, in: ev("MoneyDeposited", `{"amount":120}`),
			want: Event{Type: "MoneyWithdrawn", Schema: 1, Data: []byte(`{"amount":120}`)}},
		{name: "withdrawal", before: before, in: ev("MoneyWithdrawn", `{"amount":20}`),
			want: Event{Type: "MoneyDeposited", Schema: 1, Data: []byte(`{"amount":20}`)}},
		{name: "freeze", before: before, in: ev("AccountFrozen", `{}`),
			want: Event{Type: "AccountUnfrozen", Schema: 1, Data: []byte(`{}`)}},
		{name: "unfreeze", before: before, in: ev("AccountUnfrozen", `{}`),
			want: Event{Type: "AccountFrozen", Schema: 1, Data: []byte(`{}`)}},
		{name: "fee at schema 1", before: before, in: ev("FeeCharged", `{"value":5}`),
			want: Event{Type: "MoneyDeposited", Schema: 1, Data: []byte(`{"amount":5}`)}},
		{name: "fee at schema 2", before: before, in: Event{Type: "FeeCharged", Schema: 2, Data: []byte(`{"amount":7}`)},
			want: Event{Type: "MoneyDeposited", Schema: 1, Data: []byte(`{"amount":7}`)}},
		{name: "open has no revert", before: nil, in: ev("AccountOpened", `{"owner":"alice"}`),
			wantErr: ErrNoCompensation},
		{name: "merge patch type", before: before, in: ev("Renamed", `{"owner":"bob","nick":"b"}`),
			want: Event{Type: "Renamed", Schema: 1, Data: []byte(`{"nick":null,"owner":"alice"}`)}},
		{name: "merge patch that created the stream", before: nil, in: ev("Renamed", `{"owner":"bob"}`),
			wantErr: ErrNoCompensation},
		{name: "invalid event data", before: before, in: ev("MoneyDeposited", `{"amount":1/0}`),
			wantErr: object.ErrJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Compensate("acc-1", tt.before, tt.in)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "stream acc-1: "+tt.in.Type+": ")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestRevertRestoresState applies an event, then its compensation, and
// expects the state from before; then reverts the revert.
func TestRevertRestoresState(t *testing.T) {
	m := bankModel(t)
	before := []byte(`{"balance":100,"frozen":false,"owner":"alice"}`)
	for _, e := range []Event{
		ev("MoneyDeposited", `{"amount":120}`),
		ev("MoneyWithdrawn", `{"amount":20}`),
		ev("AccountFrozen", `{}`),
		ev("FeeCharged", `{"value":5}`),
		ev("Renamed", `{"owner":"bob","nick":"b","extra":{"deep":[1,null]}}`),
	} {
		t.Run(e.Type, func(t *testing.T) {
			after, err := m.Apply("acc-1", before, e)
			require.NoError(t, err)
			comp, err := m.Compensate("acc-1", before, e)
			require.NoError(t, err)
			restored, err := m.Apply("acc-1", after, comp)
			require.NoError(t, err)
			assert.Equal(t, string(before), string(restored))

			again, err := m.Compensate("acc-1", after, comp)
			require.NoError(t, err)
			redone, err := m.Apply("acc-1", restored, again)
			require.NoError(t, err)
			assert.Equal(t, string(after), string(redone), "reverting the revert restores the state")
		})
	}
}

func TestCompensateRevertData(t *testing.T) {
	m := mustParse(t, `
types:
  Renamed:
    apply: { name: event.name }
    revert: { type: Renamed, data: { name: state.name, by: meta.actor, n: 2 } }
  Broken:
    apply: { x: 1 }
    revert: { type: Renamed, data: { name: state.name + 1 } }
upcast:
  - { type: Renamed, from: 1, to: 4 }
`)
	got, err := m.Compensate("s", []byte(`{"name":"old"}`), Event{Type: "Renamed", Schema: 4, Data: []byte(`{"name":"new"}`), Meta: map[string]string{"actor": "ann"}})
	require.NoError(t, err)
	assert.Equal(t, Event{Type: "Renamed", Schema: 4, Data: []byte(`{"by":"ann","n":2,"name":"old"}`)}, got)

	_, err = m.Compensate("s", []byte(`{"name":"old"}`), ev("Broken", `{}`))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRule)
	assert.EqualError(t, err, "stream s: Broken: revert name: invalid operation: string + integer")
}

func TestNilModel(t *testing.T) {
	var m *Model
	assert.Nil(t, m.Source())
	assert.Equal(t, 100, m.SnapshotInterval())
	assert.Equal(t, 1, m.LatestSchema("X"))
	assert.False(t, m.Knows("X"))

	e := ev("X", `{"a":1}`)
	up, err := m.Upcast(e)
	require.NoError(t, err)
	assert.Equal(t, e, up)

	got, err := m.Apply("s", nil, e)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(got), "the first event of a stream patches null")

	got, err = m.Apply("s", got, ev("X", `{"b":{"c":2},"a":null}`))
	require.NoError(t, err)
	assert.Equal(t, `{"b":{"c":2}}`, string(got))

	got, err = m.Apply("s", got, Event{Type: "X", Schema: 1})
	require.NoError(t, err)
	assert.Equal(t, `{"b":{"c":2}}`, string(got), "no data is {}")

	got, err = m.Apply("s", got, ev("X", `[1,2]`))
	require.NoError(t, err)
	assert.Equal(t, `[1,2]`, string(got), "a patch that is not an object replaces the state")

	comp, err := m.Compensate("s", []byte(`{"b":{"c":2}}`), ev("X", `{"b":{"c":3,"d":4},"e":5}`))
	require.NoError(t, err)
	assert.Equal(t, Event{Type: "X", Schema: 1, Data: []byte(`{"b":{"c":2,"d":null},"e":null}`)}, comp)

	_, err = m.Compensate("s", nil, e)
	assert.ErrorIs(t, err, ErrNoCompensation)

	_, err = m.Apply("s", nil, ev("X", `{bad`))
	assert.ErrorIs(t, err, object.ErrJSON)
	_, err = m.Apply("s", []byte(`{bad`), e)
	assert.ErrorIs(t, err, object.ErrJSON)
}

func TestSnapshotEvery(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{name: "absent", src: `types: {}`, want: 100},
		{name: "empty file", src: ``, want: 100},
		{name: "off", src: `snapshot_every: 0`, want: 0},
		{name: "set", src: `{"snapshot_every": 25}`, want: 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.src)
			assert.Equal(t, tt.want, m.SnapshotEvery)
			assert.Equal(t, tt.want, m.SnapshotInterval())
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{name: "not YAML", src: "types: [", wantErr: "invalid model"},
		{name: "two documents", src: "types: {}\n---\ntypes: {}\n", wantErr: "more than one YAML document (a line ---)"},
		// Not a second document: no --- to look for (a helper's audit).
		{name: "two JSON objects", src: "{\"a\":1}\n{\"b\":2}\n", wantErr: "invalid model: after the first document: yaml: "},
		{name: "upcast to a schema an event cannot carry", src: "upcast:\n  - {type: T, from: 1, to: 3000000000}", wantErr: "to must be a schema version of at most 2147483647, not 3000000000"},
		{name: "not a mapping", src: "- a\n- b", wantErr: "the model: must be a mapping"},
		{name: "unknown top-level key", src: "typs: {}", wantErr: "line 1: typs: unknown key"},
		{name: "unknown key in a type", src: "types:\n  A: { aply: { x: 1 } }", wantErr: "line 2: types.A.aply: unknown key"},
		{name: "bad type name", src: "types:\n  9A: { apply: { x: 1 } }", wantErr: `types.9A: "9A" is not an event type name`},
		{name: "type name with a space", src: "types:\n  'A B': {}", wantErr: `"A B" is not an event type name`},
		{name: "expression syntax", src: "types:\n  A:\n    apply: { x: 'state.x +' }", wantErr: `line 3: types.A.apply.x: expression "state.x +"`},
		{name: "unknown variable", src: "types:\n  A: { apply: { x: stat.x } }", wantErr: `types.A.apply.x: expression "stat.x": unknown name stat`},
		{name: "clock refused", src: "types:\n  A: { apply: { x: now() } }", wantErr: `types.A.apply.x: expression "now()"`},
		{name: "require not a list", src: "types:\n  A: { require: 'x' }", wantErr: "types.A.require: must be a list of expressions"},
		{name: "require not boolean", src: "types:\n  A: { require: ['\"yes\"'] }", wantErr: `types.A.require[0]: expression "\"yes\"": yields string, not a boolean`},
		{name: "require of arithmetic", src: "types:\n  A: { require: ['1 + 2'] }", wantErr: `types.A.require[0]: expression "1 + 2": yields int, not a boolean`},
		{name: "require bad expression", src: "types:\n  A: { require: ['state.x >'] }", wantErr: `types.A.require[0]: expression "state.x >"`},
		{name: "revert without type", src: "types:\n  A: { revert: { data: { x: 1 } } }", wantErr: "types.A.revert: needs the type"},
		{name: "revert bad type", src: "types:\n  A: { revert: { type: '-x' } }", wantErr: `types.A.revert.type: "-x" is not an event type name`},
		{name: "revert unknown key", src: "types:\n  A: { revert: { type: B, dat: {} } }", wantErr: "types.A.revert.dat: unknown key"},
		{name: "revert bad expression", src: "types:\n  A: { revert: { type: B, data: { x: '(' } } }", wantErr: `types.A.revert.data.x: expression "("`},
		{name: "apply not a mapping", src: "types:\n  A: { apply: [1] }", wantErr: "types.A.apply: must be a mapping"},
		{name: "snapshot_every negative", src: "snapshot_every: -1", wantErr: "snapshot_every: must be 0"},
		{name: "snapshot_every not an integer", src: "snapshot_every: often", wantErr: "snapshot_every: must be an integer"},
		{name: "upcast from >= to", src: "upcast:\n  - { type: A, from: 2, to: 2 }", wantErr: "upcast[0]: from (2) must be lower than to (2)"},
		{name: "upcast downward", src: "upcast:\n  - { type: A, from: 3, to: 1 }", wantErr: "from (3) must be lower than to (1)"},
		{name: "upcast from 0", src: "upcast:\n  - { type: A, from: 0, to: 1 }", wantErr: "from must be a schema version of 1 or more"},
		{name: "upcast twice from one schema", src: "upcast:\n  - { type: A, from: 1, to: 2 }\n  - { type: A, from: 1, to: 3 }", wantErr: "upcast[1]: a second rule for A from schema 1"},
		{name: "upcast without type", src: "upcast:\n  - { from: 1, to: 2 }", wantErr: "upcast[0]: needs a type"},
		{name: "upcast without to", src: "upcast:\n  - { type: A, from: 1 }", wantErr: "needs from and to"},
		{name: "upcast unknown key", src: "upcast:\n  - { type: A, from: 1, to: 2, date: {} }", wantErr: "upcast[0].date: unknown key"},
		{name: "upcast bad expression", src: "upcast:\n  - { type: A, from: 1, to: 2, data: { x: 'event.' } }", wantErr: `upcast[0].data.x: expression "event."`},
		{name: "upcast not a list", src: "upcast: { type: A }", wantErr: "upcast: must be a list"},
		{name: "duplicate type", src: "types:\n  A: {}\n  A: {}", wantErr: `duplicate key "A"`},
		{name: "duplicate field", src: "types:\n  A: { apply: { x: 1, x: 2 } }", wantErr: `duplicate key "x"`},
		{name: "timestamp constant", src: "types:\n  A: { apply: { x: 2026-01-01 } }", wantErr: "types.A.apply.x: a timestamp value is not JSON"},
		{name: "infinite constant", src: "types:\n  A: { apply: { x: .inf } }", wantErr: "is not a JSON number"},
		{name: "huge integer constant", src: "types:\n  A: { apply: { x: 99999999999999999999 } }", wantErr: "types.A.apply.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.src))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, ErrModel)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{name: "JSON", src: `{"types":{"A":{"apply":{"x":"event.x","n":1.0}}},"upcast":[{"type":"A","from":1,"to":2,"data":{"x":"event.y"}}]}`},
		{name: "type with no rules", src: "types:\n  A:\n"},
		{name: "alias", src: "types:\n  A: &r { apply: { x: event.x } }\n  B: *r\n"},
		{name: "type names of every allowed character", src: "types:\n  _a.B:c-9: {}\n"},
		{name: "require comparing sums", src: "types:\n  A: { require: ['1 + event.x > state.n * 2', 'event.x % 2 == 0'] }\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			assert.NoError(t, err)
		})
	}
	m := mustParse(t, tests[0].src)
	got, err := m.Apply("s", nil, ev("A", `{"y":3}`))
	require.NoError(t, err)
	assert.Equal(t, `{"n":1,"x":3}`, string(got), "1.0 is stored as the integer 1, as canonical JSON does")
}

func TestRuleErrorFormat(t *testing.T) {
	err := &RuleError{Stream: "acc-1", Type: "MoneyWithdrawn", Rule: `require "state.balance >= event.amount"`, Err: errRequireFalse}
	assert.Equal(t, `stream acc-1: MoneyWithdrawn: require "state.balance >= event.amount" failed`, err.Error())
	assert.ErrorIs(t, err, ErrRule)

	inner := errors.New("boom")
	err = &RuleError{Type: "T", Rule: "apply x", Err: inner}
	assert.Equal(t, "T: apply x: boom", err.Error())
	assert.ErrorIs(t, err, inner)
	assert.ErrorIs(t, err, ErrRule)
	assert.NotErrorIs(t, err, ErrModel)
}

// TestConcurrentApply checks (under -race) that a model is safe to share.
func TestConcurrentApply(t *testing.T) {
	m := bankModel(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			state, err := m.Apply("s", nil, ev("AccountOpened", `{"owner":"x"}`))
			assert.NoError(t, err)
			for range 200 {
				state, err = m.Apply("s", state, ev("MoneyDeposited", `{"amount":1}`))
				if !assert.NoError(t, err) {
					return
				}
			}
			_, err = m.Apply("s", nil, ev("MoneyDeposited", `{"amount":1}`))
			assert.ErrorIs(t, err, ErrRule, "goroutine %d", g)
			assert.Equal(t, `{"balance":200,"frozen":false,"owner":"x"}`, string(state))
		})
	}
	wg.Wait()
}

// TestExpressions evaluates single expressions the way Apply does, through
// a one-field model.
func TestExpressions(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		state   string
		data    string
		want    string
		wantErr string
	}{
		{name: "field of null state", expr: "state.a", wantErr: "cannot read field a of null"},
		{name: "index of null state", expr: `state["a"]`, wantErr: "cannot read field a of null"},
		{name: "absent field is null", expr: "state.zz", state: `{}`, want: `null`},
		{name: "nested field", expr: "state.a.b", state: `{"a":{"b":[1,2]}}`, want: `[1,2]`},
		{name: "nested field of absent object", expr: "state.a.b", state: `{}`, wantErr: "cannot read field b of null"},
		{name: "field of a number", expr: "state.a.b", state: `{"a":1}`, wantErr: "cannot read field b of integer"},
		{name: "optional chain on null state", expr: "state?.a.b", want: `null`},
		{name: "optional chain", expr: "state?.a.b", state: `{"a":{"b":3}}`, want: `3`},
		{name: "optional chain with default", expr: "(state?.n ?? 0) + 1", want: `1`},
		{name: "array index", expr: "event.xs[1] + event.xs[-1]", data: `{"xs":[1,2,3]}`, want: `5`},
		{name: "predicate member", expr: "map(event.xs, .n * 2)", data: `{"xs":[{"n":1},{"n":2}]}`, want: `[2,4]`},
		{name: "reduce with checked add", expr: "reduce(event.xs, #acc + #, 0)", data: `{"xs":[9223372036854775807,1]}`, wantErr: "integer overflow"},
		{name: "filter and len", expr: "len(filter(event.xs, # > 1))", data: `{"xs":[1,2,3]}`, want: `2`},
		{name: "ternary", expr: "event.x > 1 ? 'big' : 'small'", data: `{"x":2}`, want: `"big"`},
		{name: "in", expr: "event.x in [1, 2]", data: `{"x":2}`, want: `true`},
		{name: "string method", expr: "upper(event.s) + lower('B')", data: `{"s":"a"}`, want: `"Ab"`},
		{name: "date in UTC", expr: "date('2026-11-24').Year()", want: `2026`},
		{name: "time is not JSON", expr: "date('2026-11-24')", wantErr: "cannot encode a time.Time"},
		{name: "dates compare", expr: "date('2026-01-01') < date(meta.time)", want: `true`},
		{name: "durations add", expr: "string(duration('1h') + duration('30m'))", want: `"1h30m0s"`},
		{name: "date difference", expr: "(date(meta.time) - date('2026-01-01')).Hours()", want: `24`},
		{name: "mixed equality is false", expr: "event.x == '1'", data: `{"x":1}`, want: `false`},
		{name: "null equality", expr: "state.nope == nil", state: `{}`, want: `true`},
		{name: "order of mismatched kinds", expr: "event.x < 'a'", data: `{"x":1}`, wantErr: "invalid operation: integer < string"},
		{name: "negative literal", expr: "-5 + event.x", data: `{"x":2}`, want: `-3`},
		{name: "float result that is whole", expr: "event.x * 1.0", data: `{"x":2}`, want: `2`},
		{name: "float times int", expr: "event.x * 0.5", data: `{"x":3}`, want: `1.5`},
		{name: "uint64 copy", expr: "event.x", data: `{"x":18446744073709551615}`, want: `18446744073709551615`},
		{name: "uint64 negated", expr: "-event.x", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		// Builtins that read an unsigned integer above 2^63-1 as negative
		// refuse it; % is checked like + - *.
		{name: "uint64 modulo", expr: "event.x % 2", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		{name: "modulo by uint64", expr: "7 % event.x", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		{name: "modulo", expr: "event.x % 3", data: `{"x":-7}`, want: `-1`},
		{name: "modulo by zero", expr: "event.x % 0", data: `{"x":7}`, wantErr: "divide by zero"},
		{name: "uint64 max", expr: "max(1, event.x)", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		{name: "uint64 min", expr: "min(1, event.x)", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		{name: "max", expr: "max(1, event.x, 3)", data: `{"x":5}`, want: `5`},
		{name: "uint64 bitshr", expr: "bitshr(event.x, 1)", data: `{"x":18446744073709551615}`, wantErr: "beyond the signed 64-bit range"},
		{name: "bitshl overflow", expr: "bitshl(event.x, 1)", data: `{"x":4611686018427387904}`, wantErr: "integer overflow"},
		{name: "bitshl", expr: "bitshl(event.x, 2)", data: `{"x":3}`, want: `12`},
		{name: "bitshl of a negative", expr: "bitshl(event.x, 2)", data: `{"x":-3}`, want: `-12`},
		{name: "range", expr: "1..3", want: `[1,2,3]`},
		{name: "meta lookup", expr: "meta['actor']", want: `"ann"`},
		{name: "object literal", expr: "{a: event.x, b: [1, 'x']}", data: `{"x":true}`, want: `{"a":true,"b":[1,"x"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, "types:\n  T:\n    apply:\n      v: "+quoteYAML(tt.expr)+"\n")
			var state []byte
			if tt.state != "" {
				state = []byte(tt.state)
			}
			data := tt.data
			if data == "" {
				data = `{}`
			}
			got, err := m.Apply("s", state, Event{Type: "T", Schema: 1, Data: []byte(data), Meta: map[string]string{"actor": "ann", "time": "2026-01-02T00:00:00Z"}})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrRule)
				assert.Contains(t, err.Error(), "stream s: T: apply v: ")
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			v, err := object.DecodeJSON(got)
			require.NoError(t, err)
			raw, err := object.EncodeJSON(v.(map[string]any)["v"])
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(raw))
		})
	}
}

// quoteYAML quotes s as a single-quoted YAML scalar.
func quoteYAML(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// TestReplaySkipsRequires: Replay folds an event from history without
// its requires, on the fast path and the full one (an upcast event takes
// the full path), and still refuses an apply that fails.
func TestReplaySkipsRequires(t *testing.T) {
	m := bankModel(t)
	open := []byte(`{"balance":0,"frozen":true,"owner":"a"}`)
	for _, e := range []Event{ev("MoneyWithdrawn", `{"amount":5}`), {Type: "FeeCharged", Schema: 1, Data: []byte(`{"value":5}`)}} {
		_, err := m.Apply("acc-1", open, e)
		require.ErrorIs(t, err, ErrRule, e.Type)
		got, err := m.Replay("acc-1", open, e)
		require.NoError(t, err, e.Type)
		assert.Equal(t, `{"balance":-5,"frozen":true,"owner":"a"}`, string(got), e.Type)
	}
	_, err := m.Replay("acc-1", nil, ev("MoneyDeposited", `{"amount":5}`))
	require.ErrorIs(t, err, ErrRule, "a deposit to no account: the apply fails")
}

// TestApplyRefusesAFloatThatReadsBackAsAnInteger: a deposit of 1.5 onto
// a balance near 2^63 gives a whole float past the integer range, which
// would be stored as an integer literal no arithmetic accepts: refused,
// where a float with a fraction, or past 10^21 (written with an
// exponent), is stored.
func TestApplyRefusesAFloatThatReadsBackAsAnInteger(t *testing.T) {
	m := bankModel(t)
	big := []byte(`{"balance":9223372036854775807,"frozen":false,"owner":"a"}`)
	_, err := m.Apply("acc-1", big, ev("MoneyDeposited", `{"amount":1.5}`))
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), "past the 64-bit integer range")
	got, err := m.Apply("acc-1", []byte(`{"balance":1,"frozen":false,"owner":"a"}`), ev("MoneyDeposited", `{"amount":1.5}`))
	require.NoError(t, err)
	assert.Equal(t, `{"balance":2.5,"frozen":false,"owner":"a"}`, string(got))
	_, err = m.Apply("acc-1", []byte(`{"balance":1e22,"frozen":false,"owner":"a"}`), ev("MoneyDeposited", `{"amount":1.5}`))
	require.NoError(t, err)
	// -2^63 as a float is written -9223372036854776000, past the range
	// as an integer: refused too.
	_, err = m.Apply("acc-1", []byte(`{"balance":-9223372036854775807,"frozen":false,"owner":"a"}`), ev("MoneyDeposited", `{"amount":-0.5}`))
	require.ErrorIs(t, err, ErrRule)
	// History written before the check still folds.
	_, err = m.Replay("acc-1", big, ev("MoneyDeposited", `{"amount":1.5}`))
	require.NoError(t, err)
}

// keys, values and toPairs listed a map in Go's random order, so the
// same events folded to another state on each replay (and a snapshot
// read differently from a rebuild): they list it sorted by key now (a
// helper's audit of time travel).
func TestMapListsAreSorted(t *testing.T) {
	m := mustParse(t, `
types:
  T: { apply: { k: keys(event), v: values(event), p: toPairs(event), f: first(keys(event.o)), n: "len(keys(state ?? {}))" } }
`)
	data := `{"o":{"z":1,"y":2,"x":3},"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}`
	want := `{"f":"x","k":["a","b","c","d","e","f","g","h","o"],"n":0,` +
		`"p":[["a",1],["b",2],["c",3],["d",4],["e",5],["f",6],["g",7],["h",8],["o",{"x":3,"y":2,"z":1}]],` +
		`"v":[1,2,3,4,5,6,7,8,{"x":3,"y":2,"z":1}]}`
	for range 50 {
		got, err := m.Apply("s", nil, ev("T", data))
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	_, err := m.Apply("s", nil, ev("T", `[1]`))
	assert.ErrorContains(t, err, "keys of array, want an object")
}

// A model could nest a state deeper than any read accepts: the commit
// was taken, and from then on its stream could be neither read nor
// written (a helper's audit). The event that would do it is refused.
func TestApplyRefusesAStateTooDeep(t *testing.T) {
	m := mustParse(t, `
types:
  T: { apply: { a: "[state?.a]" } }
`)
	var st []byte
	for i := range object.MaxJSONDepth - 1 {
		next, err := m.Apply("s", st, ev("T", `{}`))
		require.NoError(t, err, "event %d", i+1)
		st = next
	}
	_, err := object.DecodeJSON(st)
	require.NoError(t, err, "the deepest state reads back")
	_, err = m.Apply("s", st, ev("T", `{}`))
	require.ErrorIs(t, err, ErrRule)
	assert.ErrorContains(t, err, "nest deeper than 512")
	// A strict replay too (model set folding history under a new model):
	// it made the state, and the next event then failed to read it, not
	// as a rule (a helper's audit: model set exited 1, not 4). A plain
	// replay takes what history holds (a model set before this check
	// may have made it), or the history would stop reading.
	_, err = m.Strict().Replay("s", st, ev("T", `{}`))
	require.ErrorIs(t, err, ErrRule)
	assert.ErrorContains(t, err, "nest deeper than 512")
	_, err = m.Replay("s", st, ev("T", `{}`))
	require.NoError(t, err)
}

// An upcast can nest an event's data a level deeper than the input
// allows, and a merge patch of it the state (a helper's review): refused
// as a rule by Apply and by a strict replay, taken by a plain one.
func TestUpcastRefusesDataTooDeep(t *testing.T) {
	m := mustParse(t, "upcast:\n  - { type: T, from: 1, to: 2, data: { w: event } }\n")
	deep := strings.Repeat(`{"a":`, object.MaxJSONDepth) + "1" + strings.Repeat("}", object.MaxJSONDepth)
	e := Event{Type: "T", Schema: 1, Data: []byte(deep)}
	_, err := m.Apply("s", nil, e)
	require.ErrorIs(t, err, ErrRule)
	assert.ErrorContains(t, err, "upcast")
	_, err = m.Strict().Replay("s", nil, e)
	require.ErrorIs(t, err, ErrRule)
	_, err = m.Replay("s", nil, e)
	require.NoError(t, err)
	shallow := Event{Type: "T", Schema: 1, Data: []byte(`{"a":{"b":1}}`)}
	st, err := m.Apply("s", nil, shallow)
	require.NoError(t, err)
	assert.Equal(t, `{"a":{"b":1},"w":{"a":{"b":1}}}`, string(st))
}

// keys, values and toPairs of what cannot be an object are refused when
// the model is parsed, as before they were sorted (a helper's review).
func TestMapListsOfNonObjectsRefusedAtParse(t *testing.T) {
	for _, src := range []string{"keys(1)", "values('x')", "toPairs(nil)", "keys([1])"} {
		_, err := Parse([]byte("types:\n  T: { apply: { k: \"" + src + "\" } }\n"))
		assert.Error(t, err, src)
	}
	mustParse(t, "types:\n  T: { apply: { k: \"keys(event)\", v: \"values({a: 1})\", p: \"toPairs(state ?? {})\" } }\n")
}

// The message for a bad expression quotes at most its first 60 bytes, so
// the reason after it survives a line cut at 2,000 bytes (a helper's
// audit: a generated model's error showed only the expression).
func TestLongExpressionErrorKeepsTheReason(t *testing.T) {
	_, err := Parse([]byte(`types: {T: {apply: {a: "` + strings.Repeat("1+", 1200) + `nosuch"}}}`))
	require.ErrorIs(t, err, ErrModel)
	assert.Contains(t, err.Error(), "unknown name nosuch")
	assert.Contains(t, err.Error(), "… (2406 bytes)")
	assert.Less(t, len(err.Error()), 300)
}

// model set refuses what parses but reads otherwise than meant (Check),
// and warns of what is likely a typo (Warnings); a model stored before
// still parses as it did (a helper's audit: 010 folded to 8, "010" to 10).
func TestCheckAndWarnings(t *testing.T) {
	m := mustParse(t, "types:\n  T: { apply: { n: 010, m: \"010\", k: 0o10, z: 0, f: 0.5 } }\n")
	require.ErrorIs(t, m.Check(), ErrModel)
	assert.ErrorContains(t, m.Check(), "types.T.apply.n: 010 has a leading zero")
	st, err := m.Apply("s", nil, ev("T", `{}`))
	require.NoError(t, err)
	assert.Equal(t, `{"f":0.5,"k":8,"m":10,"n":8,"z":0}`, string(st))
	m = mustParse(t, "types:\n  T: { apply: { n: 10, neg: -7 }, revert: { type: U } }\n  V: { apply: { x: 1 }, revert: { type: T } }\n")
	assert.NoError(t, m.Check())
	assert.Equal(t, []string{"line 2: types.T.revert.type: U is a type the model does not name: its compensating event is applied as a merge patch of its data"}, m.Warnings())
}

// snapshot_every: 010 is 8 to YAML: refused by Check as in apply.
func TestCheckSnapshotEveryOctal(t *testing.T) {
	m := mustParse(t, "snapshot_every: 010\n")
	assert.ErrorContains(t, m.Check(), "snapshot_every: 010 has a leading zero")
}

// What Check says of a leading zero keeps the sign, and offers a form
// that parses (a helper's review: -010 was told 0o10, 00 was told 0o).
func TestLeadingZeroMessages(t *testing.T) {
	for in, want := range map[string]string{
		"010":  "write 10, 0o10 for octal",
		"-010": "write -10, -0o10 for octal",
		"+010": "write 10, 0o10 for octal",
		"00":   "write 0, or quote it",
		"-00":  "write 0, or quote it",
	} {
		m := mustParse(t, "types:\n  T: { apply: { n: "+in+" } }\n")
		assert.ErrorContains(t, m.Check(), want, in)
	}
	for _, in := range []string{"08", "-09"} {
		_, err := Parse([]byte("types:\n  T: { apply: { n: " + in + " } }\n"))
		assert.ErrorContains(t, err, "it is no octal number", in)
	}
	for _, in := range []string{"0", "10", "-1", "0o10", "0x1f"} {
		m := mustParse(t, "types:\n  T: { apply: { n: "+in+" } }\n")
		assert.NoError(t, m.Check(), in)
	}
}

// A nil model is no model: every event a merge patch, on the fast path
// or not (the strict replay's check once read a field of a nil model).
func TestNilModelReplays(t *testing.T) {
	var m *Model
	for _, data := range []string{`{"a":1}`, `{"a":1.5,"b":"\u00e9"}`} {
		st, err := m.Replay("s", []byte(`{"c":true}`), ev("T", data))
		require.NoError(t, err, data)
		assert.Contains(t, string(st), `"c":true`)
		_, err = m.Apply("s", nil, ev("T", data))
		require.NoError(t, err, data)
	}
}
