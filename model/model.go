package model

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/evgit/evgit/object"
	"github.com/expr-lang/expr/vm"
)

// defaultSnapshotEvery is the snapshot interval of a model file that does
// not set snapshot_every, and of no model at all.
const defaultSnapshotEvery = 100

// Event is an event as the model sees it: its type, the schema version its
// data is written in, its data as canonical JSON (empty means {}) and its
// meta (actor, time, correlation, ...).
type Event struct {
	Type   string            // the event's type
	Schema int               // the schema version Data is written in
	Data   []byte            // canonical JSON; empty means {}
	Meta   map[string]string // actor, time, correlation, ...
}

// Model is a parsed model file: the rules that fold events into state. A
// nil *Model is no model at all: every event is a JSON Merge Patch. A
// Model is immutable once parsed and safe for concurrent use.
type Model struct {
	// SnapshotEvery is the number of events between snapshots; 0 turns
	// snapshots off. Parse sets it to 100 when the file does not say.
	SnapshotEvery int

	src      []byte
	blank    bool     // the source holds no document, or null
	unclear  []string // what Check refuses, each naming its line
	warnings []string // what Warnings returns
	strict   bool     // Replay refuses a state too deep (Strict)
	types    map[string]*typeRules
	upcasts  map[string]map[int]*upcastRule // type → from → rule
	latest   map[string]int                 // type → highest upcast "to"
}

// Blank reports whether the model's source held no YAML document, or
// only null: an empty file, which names no types, as `{}` does on
// purpose. Setting such a model drops every rule; Repository.SetModel
// refuses it.
func (m *Model) Blank() bool { return m.blank }

// Check returns an error matching ErrModel that names what in the source
// parses but reads otherwise than its author likely meant, and that model
// set refuses: an unquoted integer with a leading zero (010), which YAML
// reads as octal (8) and an expression as decimal (10). A model stored
// before it was refused still parses as it did.
func (m *Model) Check() error {
	if len(m.unclear) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrModel, m.unclear[0])
}

// Strict returns a copy of m whose Replay also refuses, as a *RuleError,
// an event that would nest its stream's state deeper than any read
// accepts (by an apply or an upcast), as Apply does. Model set folds the
// history with it, so that a model that would leave a stream unreadable
// is refused; history already folded by a model is replayed with m,
// which takes what that history holds.
func (m *Model) Strict() *Model {
	if m == nil {
		return nil
	}
	c := *m
	c.strict = true
	return &c
}

// Warnings returns what in the source is allowed but likely a mistake,
// one line each naming its line in the source: a revert rule whose type
// the model does not name, so its compensating event is a merge patch of
// its data.
func (m *Model) Warnings() []string { return m.warnings }

// typeRules are the rules of one event type the model names.
type typeRules struct {
	require []requireRule
	apply   []field
	revert  *revertRule // nil: no compensation
	fast    *fastRules  // the rules for plain state and data, nil if they do not compile so
}

type requireRule struct {
	src  string
	prog *vm.Program
}

// field is one entry of an apply or data mapping: a compiled expression,
// or (prog nil) a constant.
type field struct {
	name     string
	src      string
	prog     *vm.Program
	constant any
}

func (f *field) eval(e *evaluator) (any, error) {
	if f.prog == nil {
		return f.constant, nil
	}
	return e.run(f.prog)
}

type revertRule struct {
	typ  string
	data []field
}

type upcastRule struct {
	name     string // "upcast 1->2"
	from, to int
	data     []field
}

// Source returns the bytes the model was parsed from, as they were given
// (`model show` prints them). The caller must not modify them (a copy
// made by Clone may be). A nil model has no source.
func (m *Model) Source() []byte {
	if m == nil {
		return nil
	}
	return m.src
}

// Clone returns a copy of m that its caller may change (SnapshotEvery,
// the bytes of Source, what Warnings returns) without changing m; its rules are shared, as
// nothing changes them. A nil model clones to nil.
func (m *Model) Clone() *Model {
	if m == nil {
		return nil
	}
	c := *m
	c.src = bytes.Clone(m.src)
	c.warnings, c.unclear = slices.Clone(m.warnings), slices.Clone(m.unclear)
	return &c
}

// SnapshotInterval returns the number of events between snapshots (0: no
// snapshots); for a nil model, the default of 100.
func (m *Model) SnapshotInterval() int {
	if m == nil {
		return defaultSnapshotEvery
	}
	return m.SnapshotEvery
}

// Knows reports whether the model names the event type under types (and so
// folds it by its rules rather than as a merge patch).
func (m *Model) Knows(typ string) bool {
	return m.rules(typ) != nil
}

func (m *Model) rules(typ string) *typeRules {
	if m == nil {
		return nil
	}
	return m.types[typ]
}

// LatestSchema returns the newest schema version of an event type: the
// highest `to` of its upcast rules, else 1 (SPEC §2's default schema).
func (m *Model) LatestSchema(typ string) int {
	if m != nil {
		if v, ok := m.latest[typ]; ok {
			return v
		}
	}
	return 1
}

// Upcast raises an event to the newest schema of its type: while an upcast
// rule's `from` is the event's schema, the rule sets the fields it names on
// the data (the other fields stay) and the schema becomes its `to`. An
// event with no matching rule (schema 0 included) is returned unchanged. A
// failing expression gives a *RuleError with an empty Stream.
func (m *Model) Upcast(ev Event) (Event, error) {
	if !m.upcastsFrom(ev.Type, ev.Schema) {
		return ev, nil
	}
	data, err := decodeData("", ev)
	if err != nil {
		return Event{}, err
	}
	v, schema, err := m.upcast("", ev, data)
	if err != nil {
		return Event{}, err
	}
	if ev.Data, err = object.EncodeJSON(v); err != nil {
		return Event{}, err
	}
	ev.Schema = schema
	return ev, nil
}

// upcastsFrom reports whether an upcast rule takes events of this type
// and schema.
func (m *Model) upcastsFrom(typ string, schema int) bool {
	return m != nil && m.upcasts[typ][schema] != nil
}

// upcast is Upcast on decoded data; it returns the data and schema after
// every rule that matched.
func (m *Model) upcast(stream string, ev Event, data any) (any, int, error) {
	if m == nil {
		return data, ev.Schema, nil
	}
	rules := m.upcasts[ev.Type]
	schema := ev.Schema
	r := rules[schema]
	if r == nil {
		return data, schema, nil
	}
	e := getEvaluator(nil, nil, ev.Meta)
	defer e.release()
	for r != nil {
		var obj map[string]any
		switch d := data.(type) {
		case nil:
		case map[string]any:
			obj = d
		default:
			return nil, 0, &RuleError{Stream: stream, Type: ev.Type, Rule: r.name,
				Err: fmt.Errorf("the event's data is %s, not an object", typeName(data))}
		}
		e.env["event"] = data
		next := make(map[string]any, len(obj)+len(r.data))
		for k, v := range obj {
			next[k] = v
		}
		for i := range r.data {
			f := &r.data[i]
			v, err := f.eval(e)
			if err == nil && f.prog != nil {
				_, err = object.EncodeJSON(v) // refuse NaN, Inf, times here, not later
			}
			if err != nil {
				return nil, 0, &RuleError{Stream: stream, Type: ev.Type, Rule: r.name + " " + f.name, Err: err}
			}
			next[f.name] = v
		}
		data, schema, r = next, r.to, rules[r.to]
	}
	return data, schema, nil
}

// decodeData decodes an event's data; empty data is {} (SPEC §2).
func decodeData(stream string, ev Event) (any, error) {
	if len(ev.Data) == 0 {
		return map[string]any{}, nil
	}
	v, err := object.DecodeJSON(ev.Data)
	if err != nil {
		return nil, eventError(stream, ev.Type, fmt.Errorf("event data: %w", err))
	}
	return v, nil
}

// eventError prefixes err with the stream and type it concerns.
func eventError(stream, typ string, err error) error {
	if stream == "" {
		return fmt.Errorf("%s: %w", typ, err)
	}
	return fmt.Errorf("stream %s: %s: %w", stream, typ, err)
}

// Apply folds one event into a stream's state and returns the new state as
// canonical JSON (state nil or empty is null: the stream does not exist
// yet). The event is upcast first. For a type the model does not name, its
// data is a JSON Merge Patch onto the state. For a named type every
// require must be true, then every apply field is evaluated against the
// state before the event and sets that top-level field (a null state
// starts as {}). A refusal — a false require, a failing expression, an
// integer overflow, a state that is not an object — is a *RuleError.
func (m *Model) Apply(stream string, state []byte, ev Event) ([]byte, error) {
	return m.fold(stream, state, ev, true)
}

// Replay folds one event already in history into a stream's state, as
// Apply does but without its requires: they are checked when an event is
// written (commit, import, revert), under the model of that moment, and
// a model set since may hold others, which must not make history
// unreadable (SPEC §4: state is rebuilt from events). An apply expression
// that fails is still an error: there is no state to give then. Model set
// replays with Strict, which also refuses a state too deep to read.
func (m *Model) Replay(stream string, state []byte, ev Event) ([]byte, error) {
	return m.fold(stream, state, ev, false)
}

// fold is Apply, with the requires checked when check is set.
func (m *Model) fold(stream string, state []byte, ev Event, check bool) ([]byte, error) {
	if t := m.rules(ev.Type); !m.upcastsFrom(ev.Type, ev.Schema) {
		// On the bytes, when they are plain: a merge patch, or the rules.
		if t == nil {
			if next, ok := mergeCanonical(state, ev.Data); ok {
				return next, nil
			}
		} else if t.fast != nil {
			if next, ok := t.fast.fold(state, ev.Data, ev.Meta, check); ok {
				return next, nil
			}
		}
	}
	data, err := decodeData(stream, ev)
	if err != nil {
		return nil, err
	}
	data, _, err = m.upcast(stream, ev, data)
	if err == nil && m.upcastsFrom(ev.Type, ev.Schema) && (check || m.strict) {
		// Input data is never too deep; what an upcast made of it may
		// be, and a merge patch of it too.
		if err = storableAt(data, 1, false); err != nil {
			err = &RuleError{Stream: stream, Type: ev.Type, Rule: "upcast", Err: err}
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := decodeState(state)
	if err != nil {
		return nil, eventError(stream, ev.Type, fmt.Errorf("state: %w", err))
	}
	t := m.rules(ev.Type)
	if t == nil {
		return object.AppendJSON(make([]byte, 0, len(state)+len(ev.Data)), mergePatch(st, data))
	}

	var obj map[string]any
	switch s := st.(type) {
	case nil:
	case map[string]any:
		obj = s
	default:
		return nil, &RuleError{Stream: stream, Type: ev.Type, Rule: "apply",
			Err: fmt.Errorf("the state is %s, not an object", typeName(st))}
	}

	e := getEvaluator(st, data, ev.Meta)
	defer e.release()
	for i := range t.require {
		if !check {
			break
		}
		r := &t.require[i]
		out, err := e.run(r.prog)
		if err == nil {
			switch b, ok := out.(bool); {
			case !ok:
				err = fmt.Errorf("yielded %s, not a boolean", typeName(out))
			case !b:
				err = errRequireFalse
			}
		}
		if err != nil {
			return nil, &RuleError{Stream: stream, Type: ev.Type, Rule: fmt.Sprintf("require %q", r.src), Err: err}
		}
	}

	// Every apply expression sees the state before the event, so the
	// results are gathered first and set afterwards.
	var buf [8]any
	results := buf[:0]
	for i := range t.apply {
		f := &t.apply[i]
		v, err := f.eval(e)
		if err == nil && (check || m.strict) {
			// A strict replay (model set) takes a whole number past
			// 2^63 as history has it, but not a state no read accepts.
			err = storableAt(v, 2, check)
		}
		if err != nil {
			return nil, &RuleError{Stream: stream, Type: ev.Type, Rule: "apply " + f.name, Err: err}
		}
		results = append(results, v)
	}
	next := make(map[string]any, len(obj)+len(t.apply))
	for k, v := range obj {
		next[k] = v
	}
	for i := range t.apply {
		next[t.apply[i].name] = results[i]
	}
	out, err := object.AppendJSON(make([]byte, 0, len(state)+16*len(t.apply)), next)
	if err != nil {
		for i := range t.apply {
			if _, ferr := object.EncodeJSON(results[i]); ferr != nil {
				return nil, &RuleError{Stream: stream, Type: ev.Type, Rule: "apply " + t.apply[i].name, Err: ferr}
			}
		}
		return nil, eventError(stream, ev.Type, err)
	}
	return out, nil
}

// Compensate returns the compensating event of ev, given the stream's
// state before ev. For a type the model names, its revert rule gives the
// type and the data (expressions over event = ev's upcast data, state =
// before, meta = ev's meta), at the newest schema of that type; a named
// type without a revert rule has no compensation. For any other type the
// compensation keeps the type and schema and carries the merge patch that
// restores the fields ev changed (see MergePatchInverse). Where there is
// none, the error wraps ErrNoCompensation; a failing expression is a
// *RuleError. The compensating event has no meta: the caller gives it its
// own.
func (m *Model) Compensate(stream string, before []byte, ev Event) (Event, error) {
	data, err := decodeData(stream, ev)
	if err != nil {
		return Event{}, err
	}
	data, schema, err := m.upcast(stream, ev, data)
	if err != nil {
		return Event{}, err
	}
	st, err := decodeState(before)
	if err != nil {
		return Event{}, eventError(stream, ev.Type, fmt.Errorf("state: %w", err))
	}
	t := m.rules(ev.Type)
	if t == nil {
		inv, err := mergePatchInverse(st, data)
		if err != nil {
			return Event{}, eventError(stream, ev.Type, err)
		}
		raw, err := object.EncodeJSON(inv)
		if err != nil {
			return Event{}, eventError(stream, ev.Type, err)
		}
		return Event{Type: ev.Type, Schema: schema, Data: raw}, nil
	}
	if t.revert == nil {
		return Event{}, eventError(stream, ev.Type, fmt.Errorf("%w: the model gives the type no revert rule", ErrNoCompensation))
	}
	e := getEvaluator(st, data, ev.Meta)
	defer e.release()
	out := make(map[string]any, len(t.revert.data))
	for i := range t.revert.data {
		f := &t.revert.data[i]
		v, err := f.eval(e)
		if err == nil {
			_, err = object.EncodeJSON(v)
		}
		if err != nil {
			return Event{}, &RuleError{Stream: stream, Type: ev.Type, Rule: "revert " + f.name, Err: err}
		}
		out[f.name] = v
	}
	raw, err := object.EncodeJSON(out)
	if err != nil {
		return Event{}, eventError(stream, ev.Type, err)
	}
	return Event{Type: t.revert.typ, Schema: m.LatestSchema(t.revert.typ), Data: raw}, nil
}

// storableAt refuses a result, at nesting level level (the state is the
// object at level 1), that would not read back as the value it is. A
// container past object.MaxJSONDepth would make a state no read accepts,
// and its stream unreadable from then on. With floats set, so is a float
// with no fraction, at or past 2^63 in size and below 10^21: it is
// written as an integer literal (canonical JSON has one number type),
// which reads back as an integer past the 64-bit range that no
// arithmetic accepts, and every later event on the stream would be
// refused. Refused here, the event that made it is.
func storableAt(v any, level int, floats bool) error {
	switch x := v.(type) {
	case float64:
		if !floats {
			break
		}
		// -2^63 too: its shortest form, -9223372036854776000, is past
		// the range as an integer literal.
		if a := math.Abs(x); a >= 1<<63 && a < 1e21 && a == math.Trunc(a) {
			return fmt.Errorf("result %g is a whole number past the 64-bit integer range, which would be stored as an integer no arithmetic accepts", x)
		}
	case map[string]any:
		if level > object.MaxJSONDepth {
			return errTooDeep
		}
		for _, e := range x {
			if err := storableAt(e, level+1, floats); err != nil {
				return err
			}
		}
	case []any:
		if level > object.MaxJSONDepth {
			return errTooDeep
		}
		for _, e := range x {
			if err := storableAt(e, level+1, floats); err != nil {
				return err
			}
		}
	}
	return nil
}

// errTooDeep refuses a state no read would accept.
var errTooDeep = fmt.Errorf("the state would nest deeper than %d levels, which no read accepts", object.MaxJSONDepth)
