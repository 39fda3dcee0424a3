package store

import (
	"fmt"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// LineStep is a commit read on a walk down a first-parent line, with its
// events' bodies once read (ReadLineEvents), and where its first parent
// probably lies: a commit's events are written just before it, and its
// parent, in most frames, just before those.
type LineStep struct {
	Commit *object.Commit
	Events [][]byte // the events' bodies, in order, each checked against its ID; nil until read

	at      pack.Location // where the commit lies
	next    pack.Location // where the first parent probably lies
	hasNext bool
}

// lineStepScan bounds how far back in a frame ReadLineStep looks for the
// commit before a commit's events.
const lineStepScan = 64

// ReadLineStep reads commit id for a walk down a first-parent line. prev,
// when not nil, is the step that named id as its first parent: the frame
// prev was read from is looked at first, and the index only when the
// commit is not where prev expects it. A walk then reads a frame's
// commits and events (ReadLineEvents) with one index lookup per frame
// instead of one per object. Every object is checked against its ID as
// Get checks it.
func (s *Store) ReadLineStep(id object.ID, prev *LineStep) (*LineStep, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.stale != nil {
		return nil, s.stale
	}
	var f *pack.Frame
	var loc pack.Location
	if prev != nil && prev.hasNext {
		if pf, err := s.frame(prev.next); err == nil {
			if o, err := pf.Object(int(prev.next.Slot)); err == nil && o.ID == id {
				f, loc = pf, prev.next
			}
		}
	}
	if f == nil {
		var err error
		if f, loc, err = s.locate(id); err != nil {
			return nil, err
		}
	}
	o, err := f.Object(int(loc.Slot))
	if err == nil && o.ID != id {
		err = fmt.Errorf("%w: object %s does not match its hash", ErrCorrupt, id.Short())
	}
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	if o.Kind != object.KindCommit {
		return nil, fmt.Errorf("object %s is a %s, not a commit: %w", id.Short(), o.Kind, ErrNotFound)
	}
	c, err := object.DecodeCommit(o.Body)
	if err != nil {
		return nil, err
	}
	step := &LineStep{Commit: c, at: loc}
	// The parent lies before the events, which lie just before the
	// commit: a guess, checked by ID when it is used.
	from := int(loc.Slot) - len(c.Events)
	for k := from - 1; k >= 0 && k >= from-lineStepScan; k-- {
		if kind := f.Entries[k].Kind; kind == pack.EntryCommit || kind == pack.EntryPackedCommit {
			step.next, step.hasNext = pack.Location{Seg: loc.Seg, Off: loc.Off, Slot: uint32(k)}, true
			break
		}
	}
	return step, nil
}

// ReadLineEvents reads the events of a step's commit: from the commit's
// frame, just before it, where they lie when they were written with it,
// else through the index.
func (s *Store) ReadLineEvents(step *LineStep) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if s.stale != nil {
		return s.stale
	}
	f, err := s.frame(step.at)
	if err != nil {
		return err
	}
	c := step.Commit
	first := int(step.at.Slot) - len(c.Events)
	events := make([][]byte, len(c.Events))
	for i, eid := range c.Events {
		if k := first + i; k >= 0 {
			if e, err := f.Object(k); err == nil && e.ID == eid && e.Kind == object.KindEvent {
				events[i] = e.Body
				continue
			}
		}
		kind, body, _, err := s.get(eid)
		if err != nil {
			return err
		}
		if kind != object.KindEvent {
			return fmt.Errorf("%w: %s is a %s, not an event", ErrCorrupt, eid.Short(), kind)
		}
		events[i] = body
	}
	step.Events = events
	return nil
}

// locate returns the frame holding an object and its location there,
// through the indexes and the pack's. The object itself is not checked.
func (s *Store) locate(id object.ID) (*pack.Frame, pack.Location, error) {
	if loc, ok := s.lookup(id); ok {
		f, err := s.frame(loc)
		if err != nil {
			return nil, loc, fmt.Errorf("object %s: %w", id.Short(), err)
		}
		return f, loc, nil
	}
	if s.packIdx != nil {
		for _, loc := range s.packIdx.Candidates(id) {
			if f, err := s.frame(loc); err == nil {
				if o, err := f.Object(int(loc.Slot)); err == nil && o.ID == id {
					return f, loc, nil
				}
			}
		}
	}
	// Not found, or only damaged copies: get says which, as Get would.
	if _, _, _, err := s.get(id); err != nil {
		return nil, pack.Location{}, err
	}
	return nil, pack.Location{}, fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
}
