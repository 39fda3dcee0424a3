package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"reflect"
	"sync"
	"time"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
)

// RecordedEvent is an event as a typed reducer sees it: its data upcast
// to the newest schema of its type by the repository's model (SPEC §4),
// so reducers handle one schema per type.
type RecordedEvent struct {
	ID      object.ID         // the event as stored (before upcasting)
	Commit  object.ID         // the commit that holds it
	Stream  string            // the stream it belongs to
	Type    string            // its event type
	Schema  int               // after upcasting
	Version uint64            // the stream's version after this event
	Data    json.RawMessage   // canonical JSON, after upcasting
	Meta    map[string]string // actor, time, ...
}

// Reducer folds one event into a state of type S and returns the new
// state. An error refuses the fold: loading fails with it.
type Reducer[S any] func(state S, e *RecordedEvent) (S, error)

// Handle makes a Reducer of a function that takes the event's data
// decoded (encoding/json) into a D. Numbers decoded into an interface
// value (a D of any or map[string]any, or such a field) are json.Number,
// not float64, which holds them exactly: integers are never rounded
// through float64 (SPEC §2), where encoding/json's default would turn
// 9007199254740993 into 9007199254740992. So read d["amount"] as a
// json.Number (its Int64 or Float64), not with .(float64), which
// panics; or decode into a struct with typed fields.
func Handle[S, D any](fn func(state S, data D, e *RecordedEvent) (S, error)) Reducer[S] {
	return func(state S, e *RecordedEvent) (S, error) {
		var d D
		if len(e.Data) > 0 {
			if err := unmarshalExact(e.Data, &d); err != nil {
				return state, fmt.Errorf("event %s of %s: data: %w", e.ID.Short(), e.Stream, err)
			}
		}
		return fn(state, d, e)
	}
}

// Aggregate folds a stream's events into a Go value of type S with a
// Reducer per event type, the typed counterpart of the model.
//
// Snapshots: every SnapshotEvery events of a stream (default 100; < 0
// turns them off) Load keeps the state, JSON-encoded, in memory in the
// Repository, keyed by Name (for an Aggregate without one, the Aggregate
// value itself, so unnamed aggregates never share snapshots), the type S,
// Version, the model (whose upcasts the reducers saw), the stream, the
// stream's version and the ID of the commit holding that event (which
// names all history before it, so snapshots are shared across branches
// where history is the same and never confused where it is not). A later
// Load starts from the nearest such snapshot. They last as long as the
// Repository value and are never written to the repository: change
// Version whenever the reducers change meaning. A state that does not
// come back from JSON equal (reflect.DeepEqual: unexported fields, an
// interface holding an int, or float64s and json.Numbers mixed) is not
// kept, so such an S loads from the stream's first event every time.
//
// An Aggregate is safe for concurrent Loads once set up.
type Aggregate[S any] struct {
	// Name names the reducers' snapshots, shared by every Aggregate of
	// the same Name, S and Version: two with other reducers need two
	// names (or none).
	Name string
	// Version is changed when the reducers change meaning, so that
	// snapshots folded by the old ones are not used.
	Version int
	// Handlers maps an event type to its reducer.
	Handlers map[string]Reducer[S]
	// Default folds events of types without a handler; nil leaves the
	// state as it is for them.
	Default Reducer[S]
	// Init returns the state before the first event; nil means the zero
	// value of S.
	Init func() S
	// SnapshotEvery is how many of a stream's events lie between two
	// snapshots: 0 means 100, < 0 none.
	SnapshotEvery int
}

// Loaded is a typed state with where it was found.
type Loaded[S any] struct {
	// Stream is the name of the stream loaded.
	Stream  string
	Version uint64    // the stream's events folded into State
	Commit  object.ID // the commit the revision led to; with a Version asked for, not the one holding that event
	// State is the stream's state after its first Version events, folded
	// through the aggregate's reducers.
	State S
}

// Load folds a stream at a revision ("" for HEAD; or, with opts, at a
// time or after its N-th event) through the aggregate's reducers. A
// stream without an event there is an error matching ErrNotFound.
func (a *Aggregate[S]) Load(ctx context.Context, r *Repository, rev, stream string, opts StateOptions) (*Loaded[S], error) {
	if err := object.ValidateStream(stream); err != nil {
		return nil, invalidf("%v", err)
	}
	id, err := r.resolveAt(ctx, rev, opts.AsOf)
	if err != nil {
		return nil, err
	}
	mdl, mdlID, err := r.model()
	if err != nil {
		return nil, err
	}
	v, refs, err := r.streamOnLine(ctx, id, stream)
	if err != nil {
		return nil, err
	}
	n := uint64(len(refs))
	if opts.Version > n {
		return nil, fmt.Errorf("%s at %s: %w", stream, revAt(rev, opts.AsOf, id), &versionError{stream: stream, have: n, asked: opts.Version})
	}
	if opts.Version > 0 {
		n = opts.Version
	}
	if n == 0 {
		return nil, notFoundf("stream %s does not exist at %s", stream, revAt(rev, opts.AsOf, id))
	}
	every := uint64(a.SnapshotEvery)
	switch {
	case a.SnapshotEvery == 0:
		every = 100
	case a.SnapshotEvery < 0:
		every = 0
	}
	snaps := &r.derived().aggs
	// An Aggregate without a Name shares its snapshots with no other: a
	// zero Name would otherwise be every unnamed Aggregate's.
	var owner any
	if a.Name == "" {
		owner = a
	}
	typ := reflect.TypeFor[S]()
	key := func(at uint64) aggregateKey {
		return aggregateKey{name: a.Name, owner: owner, typ: typ, version: a.Version, model: mdlID, stream: stream, at: at, commit: v.ids[refs[at-1].pos]}
	}
	var state S
	if a.Init != nil {
		state = a.Init()
	}
	var done uint64
	for at := n - n%max(every, 1); every > 0 && at >= every; at -= every {
		if b, ok := snaps.get(key(at)); ok {
			if s, err := typedStateOf[S](b); err == nil {
				state, done = s, at
				break
			}
		}
	}
	for ; done < n; done++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		re, err := r.recordedEvent(v, refs, mdl, stream, done, false)
		if err != nil {
			return nil, err
		}
		fn := a.Handlers[re.Type]
		if fn == nil {
			fn = a.Default
		}
		if fn != nil {
			if state, err = fn(state, re); err != nil {
				where := fmt.Sprintf("%s %s (version %d)", stream, re.Type, done+1)
				if a.Name != "" {
					where = a.Name + ": " + where
				}
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if every > 0 && (done+1)%every == 0 {
			if b, ok := snapshotOf(state); ok {
				snaps.put(key(done+1), b)
			}
		}
	}
	return &Loaded[S]{Stream: stream, Version: n, Commit: id, State: state}, nil
}

// streamOnLine returns the first-parent line ending at id, and a
// stream's events on it, oldest first. The view's commits stay valid
// whatever happens to the index later.
func (r *Repository) streamOnLine(ctx context.Context, id object.ID, stream string) (*lineView, []eventRef, error) {
	var v *lineView
	var refs []eventRef
	err := r.onLine(ctx, r.st, id, func(lv *lineView) error {
		var err error
		v = lv
		refs, _, err = lv.streamRefs(stream, object.ZeroID)
		return err
	})
	return v, refs, err
}

// recordedEvent reads a stream's event after its first i events on the
// line of v (refs: the stream's events there), upcast unless raw.
func (r *Repository) recordedEvent(v *lineView, refs []eventRef, mdl *model.Model, stream string, i uint64, raw bool) (*RecordedEvent, error) {
	ref := refs[i]
	eid, err := v.eventID(r.st, ref, stream)
	if err != nil {
		return nil, err
	}
	e, err := readEvent(r.st, eid)
	if err != nil {
		return nil, err
	}
	// The data is the caller's (and its reducer's) to change: a copy,
	// not the frame cache's bytes.
	e.Data = bytes.Clone(e.Data)
	re := &RecordedEvent{ID: eid, Commit: v.ids[ref.pos], Stream: stream, Type: e.Type, Schema: e.Schema, Version: i + 1, Data: e.Data, Meta: e.Meta}
	if raw {
		return re, nil
	}
	up, err := mdl.Upcast(model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta})
	if err != nil {
		return nil, fmt.Errorf("upcasting event %s of %s: %w", eid.Short(), stream, err)
	}
	re.Schema, re.Data = up.Schema, up.Data
	return re, nil
}

// EventsOptions select a stream's events for Events.
type EventsOptions struct {
	// AsOf, when set, reads the newest commit on rev's first-parent
	// line whose time is at or before it (SPEC §3, --as-of).
	AsOf time.Time
	// From is the first version to yield: the stream's From-th event;
	// 0 and 1 both mean its first. A From past the stream's last event
	// yields nothing: a reader that keeps its place asks for the event
	// after the last it saw.
	From uint64
	// Raw yields the data and schema as stored, not upcast to the
	// newest schema of the model.
	Raw bool
}

// Events yields a stream's events on rev's first-parent line (rev ""
// for HEAD), oldest
// first: each with its commit, its version (the stream's event count
// after it) and its data upcast to the newest schema, as a typed
// reducer sees them (RecordedEvent). A stream without an event there is
// an error matching ErrNotFound, as for State. Breaking out of the loop
// stops reading.
func (r *Repository) Events(ctx context.Context, rev, stream string, opts EventsOptions) iter.Seq2[*RecordedEvent, error] {
	return func(yield func(*RecordedEvent, error) bool) {
		if err := object.ValidateStream(stream); err != nil {
			yield(nil, invalidf("%v", err))
			return
		}
		id, err := r.resolveAt(ctx, rev, opts.AsOf)
		if err != nil {
			yield(nil, err)
			return
		}
		mdl, _, err := r.model()
		if err != nil {
			yield(nil, err)
			return
		}
		v, refs, err := r.streamOnLine(ctx, id, stream)
		if err != nil {
			yield(nil, err)
			return
		}
		if len(refs) == 0 {
			yield(nil, notFoundf("stream %s does not exist at %s", stream, revAt(rev, opts.AsOf, id)))
			return
		}
		for i := max(opts.From, 1) - 1; i < uint64(len(refs)); i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			e, err := r.recordedEvent(v, refs, mdl, stream, i, opts.Raw)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// snapshotOf returns a typed state JSON-encoded for a snapshot, when it
// comes back from JSON as it is: a state whose fields JSON does not see
// (unexported ones) would come back without them, and a later Load would
// start from that silently. Numbers in interface values come back as
// float64 or as json.Number, whichever the state held: the first byte
// says which (snapshotFloats, snapshotNumbers), for typedStateOf.
func snapshotOf[S any](state S) ([]byte, bool) {
	b, err := json.Marshal(state)
	if err != nil {
		return nil, false
	}
	for _, mode := range []byte{snapshotFloats, snapshotNumbers} {
		snap := append([]byte{mode}, b...)
		if back, err := typedStateOf[S](snap); err == nil && reflect.DeepEqual(back, state) {
			return snap, true
		}
	}
	return nil, false
}

// The first byte of a typed snapshot: how its numbers decode.
const (
	snapshotFloats  = 'f' // encoding/json's default: float64
	snapshotNumbers = 'n' // json.Number
)

// typedStateOf decodes a typed snapshot that snapshotOf made.
func typedStateOf[S any](snap []byte) (S, error) {
	var s S
	if len(snap) == 0 {
		return s, fmt.Errorf("empty snapshot")
	}
	if snap[0] == snapshotFloats {
		return s, json.Unmarshal(snap[1:], &s)
	}
	return s, unmarshalExact(snap[1:], &s)
}

// unmarshalExact is json.Unmarshal with numbers in interface values
// decoded as json.Number.
func unmarshalExact(b []byte, v any) error {
	if !json.Valid(b) {
		return json.Unmarshal(b, v) // its error says what is wrong
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// aggregateKey names a typed snapshot.
type aggregateKey struct {
	name    string
	owner   any          // an Aggregate without a Name: the Aggregate itself
	typ     reflect.Type // S
	version int
	model   object.ID // the model whose upcasts fed the reducers
	stream  string
	at      uint64    // the stream's version
	commit  object.ID // the commit holding the stream's at-th event
}

// aggregateSnapshots keeps typed snapshots in memory, at most
// maxAggregateSnapshots; when full, the oldest half goes.
type aggregateSnapshots struct {
	mu    sync.Mutex
	m     map[aggregateKey][]byte
	order []aggregateKey
}

const maxAggregateSnapshots = 1 << 16

func (s *aggregateSnapshots) get(k aggregateKey) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[k]
	return b, ok
}

func (s *aggregateSnapshots) put(k aggregateKey, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[aggregateKey][]byte{}
	}
	if _, ok := s.m[k]; ok {
		return
	}
	if len(s.order) >= maxAggregateSnapshots {
		for _, old := range s.order[:len(s.order)/2] {
			delete(s.m, old)
		}
		s.order = append(s.order[:0], s.order[len(s.order)/2:]...)
	}
	s.m[k] = b
	s.order = append(s.order, k)
}
