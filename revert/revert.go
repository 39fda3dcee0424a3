package revert

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
)

// Overwrite is a later change that a merge-patch compensation undoes as
// well: Field no longer holds, on the branch the revert is appended to,
// the value the reverted event left there, and the compensation puts back
// the value from before the event all the same (SPEC §4 defines the
// compensation as the patch that restores the fields the event changed).
// A revert reports it, so that nobody loses a later change unawares.
type Overwrite struct {
	// Stream is the stream whose later change the revert undoes.
	Stream string `json:"stream"`
	// Field is the dotted path of the field ("address.city"), for
	// people; empty when the stream's whole state is no longer an
	// object.
	Field string `json:"field"`
	// Path is the same path key by key (["address","city"]), which a
	// key holding a dot cannot make ambiguous; empty for the whole state.
	Path   []string  `json:"path"`
	Event  object.ID `json:"event"`  // the reverted event
	Commit object.ID `json:"commit"` // the commit that holds it
}

// String reads like
//
//	stream doc-1: field "title" no longer holds what event 8b0e6d2 (commit 3f2a9c1) left; the revert sets it back
func (o Overwrite) String() string {
	what := fmt.Sprintf("field %q no longer holds", o.Field)
	if o.Field == "" {
		what = "the state is no longer"
	}
	return fmt.Sprintf("stream %s: %s what event %s (commit %s) left; the revert sets it back",
		o.Stream, what, o.Event.Short(), o.Commit.Short())
}

// Target is an event to undo, with the state of its stream just before it.
type Target struct {
	Commit object.ID     // the commit that holds the event
	ID     object.ID     // the event's ID
	Event  *object.Event // the event, with its Data
	Before []byte        // the stream's state just before the event; nil is null
}

// Compensation is the event that undoes one Target.
type Compensation struct {
	Commit object.ID   // the reverted commit
	Target object.ID   // the reverted event
	Stream string      // the stream of both
	Event  model.Event // the compensating event; its Meta is nil
	// Restores is set for a merge-patch compensation: its data are values
	// to put back, which Check only allows while the stream still holds
	// what the reverted event left (After) in every field it sets.
	Restores bool
	After    []byte // with Restores, the stream's state right after the event
}

// Compensate computes the compensation of t under the model: the model's
// revert template for a type it names, the inverse merge patch otherwise.
// It depends only on history, never on the branch's current state, so it
// may run without the repository's lock. An event with no compensation
// gives an error matching model.ErrNoCompensation; a revert expression
// that fails, a *model.RuleError.
func Compensate(mdl *model.Model, t Target) (Compensation, error) {
	e := t.Event
	ev := model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta}
	undo, err := mdl.Compensate(e.Stream, t.Before, ev)
	if err != nil {
		return Compensation{}, fmt.Errorf("cannot revert commit %s: %w", t.Commit.Short(), err)
	}
	c := Compensation{Commit: t.Commit, Target: t.ID, Stream: e.Stream, Event: undo}
	if !mdl.Knows(e.Type) {
		after, err := mdl.Replay(e.Stream, t.Before, ev)
		if err != nil {
			return Compensation{}, fmt.Errorf("cannot revert commit %s: %w", t.Commit.Short(), err)
		}
		c.Restores, c.After = true, after
	}
	return c, nil
}

// Check replays comps, in the order given, on the streams' current states
// (current returns a stream's state at the branch's head, and whether the
// stream has events there). It returns the later changes that
// merge-patch compensations set back (Overwrite), and the first refusal:
// a compensation for a stream the branch does not have (an error
// matching model.ErrNoCompensation: there is nothing there to undo), or
// the model's *RuleError for a compensation its rules refuse. Check must
// run where the states cannot move until the compensations are
// appended: in the same transaction.
func Check(mdl *model.Model, comps []Compensation, current func(stream string) (state []byte, exists bool, err error)) ([]Overwrite, error) {
	states := map[string][]byte{}
	var over []Overwrite
	for _, c := range comps {
		st, ok := states[c.Stream]
		if !ok {
			var exists bool
			var err error
			if st, exists, err = current(c.Stream); err != nil {
				return nil, err
			}
			if !exists {
				return nil, fmt.Errorf("cannot revert commit %s: stream %s has no events on this branch: %w", c.Commit.Short(), c.Stream, model.ErrNoCompensation)
			}
		}
		if c.Restores {
			paths, err := changedFields(c.After, st, c.Event.Data)
			if err != nil {
				return nil, fmt.Errorf("cannot revert commit %s: stream %s: %w", c.Commit.Short(), c.Stream, err)
			}
			for _, path := range paths {
				over = append(over, Overwrite{Stream: c.Stream, Field: strings.Join(path, "."), Path: path, Event: c.Target, Commit: c.Commit})
			}
		}
		next, err := mdl.Apply(c.Stream, st, c.Event)
		if err != nil {
			// Name the commit: a range reverts several.
			return nil, fmt.Errorf("cannot revert commit %s: %w", c.Commit.Short(), err)
		}
		states[c.Stream] = next
	}
	return over, nil
}

// changedFields returns, in sorted order, the path of every field that
// the inverse patch sets back although its value in the current state
// differs from the state right after the reverted event: a later change
// the compensation undoes too. A field the patch leaves as it is (a
// later event put back the value from before the reverted one) is no
// such change. An empty path stands for the whole state, when it is no
// longer an object.
func changedFields(after, current, inverse []byte) ([][]string, error) {
	a, err := decode(after)
	if err != nil {
		return nil, err
	}
	c, err := decode(current)
	if err != nil {
		return nil, err
	}
	inv, err := decode(inverse)
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(a, c) {
		return nil, nil // nothing changed since the event
	}
	p, ok := inv.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the compensation is not an object", model.ErrNoCompensation)
	}
	cm, ok := c.(map[string]any)
	if !ok {
		// Even an empty patch would turn the state into an object.
		return [][]string{{}}, nil
	}
	am, _ := a.(map[string]any)
	return changedIn(am, cm, p, nil, nil), nil
}

// changedIn is changedFields inside the object at path.
func changedIn(after, current, inverse map[string]any, path []string, out [][]string) [][]string {
	at := func(k string) []string { return append(slices.Clip(path), k) }
	for _, k := range slices.Sorted(maps.Keys(inverse)) {
		av, inAfter := after[k]
		cv, inCurrent := current[k]
		// The patch merges into an object the event left: compare inside it.
		if sub, ok := inverse[k].(map[string]any); ok {
			if am, ok := av.(map[string]any); ok {
				if cm, ok := cv.(map[string]any); ok {
					out = changedIn(am, cm, sub, at(k), out)
				} else {
					out = append(out, at(k)) // the patch makes it an object again
				}
				continue
			}
		}
		if inAfter == inCurrent && reflect.DeepEqual(av, cv) {
			continue // as the event left it
		}
		// null in the patch removes the field; anything else sets it,
		// merging into an object.
		changes := inCurrent
		if inverse[k] != nil {
			changes = !inCurrent || patchChanges(cv, inverse[k])
		}
		if changes {
			out = append(out, at(k))
		}
	}
	return out
}

// patchChanges reports whether merging the patch p into v (RFC 7386)
// changes it.
func patchChanges(v, p any) bool {
	pm, ok := p.(map[string]any)
	if !ok {
		return !reflect.DeepEqual(v, p) // a value that is not an object replaces
	}
	vm, ok := v.(map[string]any)
	if !ok {
		return true // it becomes an object
	}
	for k, pv := range pm {
		cv, in := vm[k]
		switch {
		case pv == nil:
			if in {
				return true
			}
		case !in || patchChanges(cv, pv):
			return true
		}
	}
	return false
}

func decode(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	return object.DecodeJSON(raw)
}
