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
	// Commit is the commit read, decoded.
	Commit *object.Commit
	Events [][]byte // the events' bodies, in order, each checked against its ID; nil until read
	Data   [][]byte // the events' data, with ReadCommitWithEvents only

	id      object.ID
	at      pack.Location // where the commit lies
	next    pack.Location // where the first parent probably lies
	hasNext bool
	reloads uint64 // Store.reloads when read: at and next hold while it does
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
	if err := s.readable(); err != nil {
		return nil, err
	}
	var f *pack.Frame
	var loc pack.Location
	if prev != nil && prev.hasNext && prev.reloads == s.reloads {
		if r, ok := s.objectIfAt(id, prev.next); ok {
			f, loc = r.f, r.loc
		}
	}
	c, f, loc, err := s.commitAt(id, f, loc)
	if err != nil {
		return nil, err
	}
	step := &LineStep{Commit: c, id: id, at: loc, reloads: s.reloads}
	step.next, step.hasNext = parentGuess(f, loc, len(c.Events))
	return step, nil
}

// parentGuess returns where the first parent of the commit at loc in
// frame f, with events events, probably lies: the parent lies before
// the events, which lie just before the commit. It is a guess, to be
// checked by ID when it is used.
func parentGuess(f *pack.Frame, loc pack.Location, events int) (pack.Location, bool) {
	from := int(loc.Slot) - events
	for k := from - 1; k >= 0 && k >= from-lineStepScan; k-- {
		if kind, _, _ := f.Kind(k); kind == pack.EntryCommit || kind == pack.EntryPackedCommit {
			return pack.Location{Seg: loc.Seg, Off: loc.Off, Slot: uint32(k)}, true
		}
	}
	return pack.Location{}, false
}

// ReadCommitWithEvents reads commit id, whose first parent the caller
// knows (ZeroID when it does not; see CommitAfter), with its events'
// bodies and data: from the commit's frame, just before it, where they
// lie when they were written with it, else through the index, so that a
// commit and its events cost one index lookup, not one each. Every object
// is checked against its ID as Get checks it. The step tells the frame it
// was read from (SameFrame, LeaveFrame); it gives no hint of where the
// parent lies.
func (s *Store) ReadCommitWithEvents(id, parent object.ID) (*LineStep, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.readAfter(id, parent)
	if err != nil {
		return nil, err
	}
	if r.obj.Kind != object.KindCommit {
		return nil, fmt.Errorf("object %s is %s, not a commit: %w", id.Short(), r.obj.Kind.WithArticle(), ErrNotFound)
	}
	c, err := object.DecodeCommit(r.obj.Body)
	if err != nil {
		return nil, err
	}
	step := &LineStep{Commit: c, id: id, at: r.loc, reloads: s.reloads}
	if step.Events, step.Data, err = s.eventsBefore(r.f, r.loc, c.Events, true); err != nil {
		return nil, err
	}
	return step, nil
}

// SameFrame reports whether two steps were read from the same frame.
func (step *LineStep) SameFrame(other *LineStep) bool {
	return step.at.Seg == other.at.Seg && step.at.Off == other.at.Off
}

// LeaveFrame tells the store that a walk has left the frame step was read
// from, and will not read it again soon: it becomes the first frame to go
// when the cache needs room, or, with Options.DropLeft, goes at once. A
// walk down a long line then does not push out the frames others read.
func (s *Store) LeaveFrame(step *LineStep) {
	key := pack.FrameKey{Seg: step.at.Seg, Off: step.at.Off}
	if s.opts.DropLeft {
		s.cache.Drop(key)
	} else {
		s.cache.Demote(key)
	}
}

// PrefetchLine starts to decode and check, on another goroutine, the
// frame where the line through step goes on once it leaves step's frame:
// the frame of the first parent of that frame's earliest commit. A walk
// down a long line that calls it as it enters each frame then has the
// next one ready when it gets there, and uses both cores, not one. It
// reads only what is in memory already besides the index and the next
// frame's compressed bytes; a frame that holds the parent too, or a
// parent not found, starts nothing. The goroutine touches only the
// frame's memory, so the store may close meanwhile.
func (s *Store) PrefetchLine(step *LineStep) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.readable() != nil || step.reloads != s.reloads {
		return
	}
	f, ok := s.cache.Get(pack.FrameKey{Seg: step.at.Seg, Off: step.at.Off})
	if !ok {
		return
	}
	for k := range int(step.at.Slot) {
		kind, ok := f.DecodedKind(k)
		if !ok {
			return
		}
		if kind != pack.EntryCommit && kind != pack.EntryPackedCommit {
			continue
		}
		o, err := f.Object(k) // resolved already, with the step's commit
		if err != nil || o.Kind != object.KindCommit {
			return
		}
		c, err := object.DecodeCommit(o.Body)
		if err != nil || len(c.Parents) == 0 {
			return
		}
		loc, ok := s.probably(c.Parents[0])
		if !ok || loc.Seg == step.at.Seg && loc.Off == step.at.Off {
			return
		}
		if next, err := s.frame(loc); err == nil {
			go func() {
				next.Object(int(loc.Slot)) //nolint:errcheck // a damaged entry is reported when the walk reads it
				if prefetched != nil {
					prefetched(loc)
				}
			}()
		}
		return
	}
}

// prefetched, when set (by tests), is told of each frame PrefetchLine
// has decoded, by the object it decoded it for.
var prefetched func(pack.Location)

// CacheUse reports how many decoded frames the store's frame cache holds
// and the bytes it counts for them, against Options.CacheBytes.
func (s *Store) CacheUse() (frames, bytes int) {
	return s.cache.Use()
}

// ReadLineEvents reads the events of a step's commit: from the commit's
// frame, just before it, where they lie when they were written with it,
// else through the index. A step read before the store rebuilt its tables
// (another process's gc, seen by a Refresh of another goroutine) is looked
// up again: where it lay may be gone, and its segment missing was reported
// as damage (a helper's audit of a long-lived reader beside gc).
func (s *Store) ReadLineEvents(step *LineStep) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readable(); err != nil {
		return err
	}
	if step.reloads != s.reloads {
		_, f, loc, err := s.commitAt(step.id, nil, pack.Location{})
		if err != nil {
			return err
		}
		step.at, step.reloads = loc, s.reloads
		step.next, step.hasNext = parentGuess(f, loc, len(step.Commit.Events))
		step.Events, _, err = s.eventsBefore(f, loc, step.Commit.Events, false)
		return err
	}
	f, err := s.frame(step.at)
	if err != nil {
		return err
	}
	step.Events, _, err = s.eventsBefore(f, step.at, step.Commit.Events, false)
	return err
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

// FoldStep is a commit read on a fold along a first-parent line, oldest
// first, with its events' bodies and data, each checked against its ID.
type FoldStep struct {
	// Commit is the commit read, decoded.
	Commit *object.Commit
	Bodies [][]byte // the events' bodies, in order
	Data   [][]byte // the events' data, in order

	at      pack.Location // where the commit lies
	inFrame bool          // at holds: the commit was read from a frame
	reloads uint64        // Store.reloads when read: at holds while it does
}

// foldStepScan bounds how far past a commit ReadFoldStep looks in its
// frame for the next commit of the line.
const foldStepScan = 1024

// SameFrame reports whether two steps were read from the same frame.
func (step *FoldStep) SameFrame(other *FoldStep) bool {
	return step.inFrame && other.inFrame && step.at.Seg == other.at.Seg && step.at.Off == other.at.Off
}

// PrefetchFold starts to decode and check, on another goroutine, the
// frame where a fold along a line goes on once it leaves step's frame;
// ahead are the commits it folds next, in order. The first of them that
// lies in another frame is found by looking up a few, 1, 2, 4, ... ahead
// and then halving: a fold that calls it as it enters each frame finds
// the next one decoded, its commits and events hashed, and uses both
// cores. A commit not found starts nothing. The goroutine touches only
// the frame's memory.
func (s *Store) PrefetchFold(step *FoldStep, ahead []object.ID) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.readable() == nil {
		s.prefetchFold(step, ahead)
	}
}

// PrefetchFold is Store.PrefetchFold inside a transaction, under the lock
// it holds.
func (tx *Tx) PrefetchFold(step *FoldStep, ahead []object.ID) {
	if !tx.detached {
		tx.s.prefetchFold(step, ahead)
	}
}

// prefetchFold is PrefetchFold, reporting where the commit it reads
// ahead from lies, if it does; s.mu is held.
func (s *Store) prefetchFold(step *FoldStep, ahead []object.ID) (pack.Location, bool) {
	if step == nil || !step.inFrame || step.reloads != s.reloads || len(ahead) == 0 {
		return pack.Location{}, false
	}
	same := func(loc pack.Location) bool { return loc.Seg == step.at.Seg && loc.Off == step.at.Off }
	// ahead[:lo+1] lie in step's frame, ahead[hi] does not.
	lo, hi := -1, -1
	for p := 1; hi < 0; p *= 2 {
		j := min(p, len(ahead)) - 1
		loc, ok := s.probably(ahead[j])
		switch {
		case !ok:
			return pack.Location{}, false
		case !same(loc):
			hi = j
		case j == len(ahead)-1:
			return pack.Location{}, false // the fold ends in this frame
		default:
			lo = j
		}
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		loc, ok := s.probably(ahead[mid])
		if !ok {
			return pack.Location{}, false
		}
		if same(loc) {
			lo = mid
		} else {
			hi = mid
		}
	}
	loc, _ := s.probably(ahead[hi])
	next, err := s.frame(loc)
	if err != nil {
		return pack.Location{}, false
	}
	go func() {
		// The commit, then what its part of the frame holds after it
		// (its line's next commits and their events): never more parts.
		if _, err := next.Object(int(loc.Slot)); err == nil {
			for k := int(loc.Slot) + 1; ; k++ {
				if _, ok := next.DecodedKind(k); !ok {
					break
				}
				next.Object(k) //nolint:errcheck // a damaged entry is reported when the fold reads it
			}
		}
		if prefetched != nil {
			prefetched(loc)
		}
	}()
	return loc, true
}

// ReadFoldStep reads commit id and its events for a fold along a
// first-parent line, oldest first. prev, when not nil, is the step of
// id's first parent: the frame prev was read from is looked at first,
// after prev, where a frame of many commits (an import's batch) holds
// the next, and the index only when it does not. The events are read
// from the commit's frame, just before it, where they lie when they were
// written with it, else through the index. A fold then costs an index
// lookup per frame, not one per object.
func (s *Store) ReadFoldStep(id object.ID, prev *FoldStep) (*FoldStep, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readFoldStep(id, prev)
}

// ReadFoldStep is Store.ReadFoldStep inside a transaction, which sees
// what it and its group added.
func (tx *Tx) ReadFoldStep(id object.ID, prev *FoldStep) (*FoldStep, error) {
	if _, ok := tx.groupPending(id); ok || tx.detached {
		return FoldStepOf(tx.Get, id)
	}
	return tx.s.readFoldStep(id, prev) // under the lock the transaction holds
}

// FoldStepOf reads a fold step one object at a time through get: a
// transaction's own commits, and a reader that is neither a Store nor a
// Tx.
func FoldStepOf(get func(object.ID) (object.Kind, []byte, []byte, error), id object.ID) (*FoldStep, error) {
	kind, body, _, err := get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindCommit {
		return nil, fmt.Errorf("object %s is %s, not a commit: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	c, err := object.DecodeCommit(body)
	if err != nil {
		return nil, err
	}
	step := &FoldStep{Commit: c, Bodies: make([][]byte, len(c.Events)), Data: make([][]byte, len(c.Events))}
	for i, eid := range c.Events {
		kind, body, data, err := get(eid)
		if err != nil {
			return nil, err
		}
		if kind != object.KindEvent {
			return nil, fmt.Errorf("object %s is %s, not an event: %w", eid.Short(), kind.WithArticle(), ErrNotFound)
		}
		step.Bodies[i], step.Data[i] = body, data
	}
	return step, nil
}

// readFoldStep is ReadFoldStep; s.mu is held.
func (s *Store) readFoldStep(id object.ID, prev *FoldStep) (*FoldStep, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	var f *pack.Frame
	var loc pack.Location
	if prev != nil && prev.inFrame && prev.reloads == s.reloads {
		if pf, err := s.frame(prev.at); err == nil {
			from := int(prev.at.Slot) + 1
			for k := from; k < from+foldStepScan; k++ {
				// Only as far as the frame is decompressed: an import's
				// batch holds its snapshot tree after its commits, in
				// parts of its own that looking on would decompress
				// for nothing (pack.Frame).
				kind, ok := pf.DecodedKind(k)
				if !ok {
					break
				}
				if kind != pack.EntryCommit && kind != pack.EntryPackedCommit {
					continue
				}
				if o, err := pf.Object(k); err == nil && o.ID == id {
					f, loc = pf, pack.Location{Seg: prev.at.Seg, Off: prev.at.Off, Slot: uint32(k)}
					break
				}
			}
		}
	}
	c, f, loc, err := s.commitAt(id, f, loc)
	if err != nil {
		return nil, err
	}
	step := &FoldStep{Commit: c, at: loc, inFrame: true, reloads: s.reloads}
	if step.Bodies, step.Data, err = s.eventsBefore(f, loc, c.Events, true); err != nil {
		return nil, err
	}
	return step, nil
}

// commitAt reads commit id from frame f at loc, or, when f is nil, from
// where the indexes say it lies, and returns it with its frame and
// location. s.mu is held.
func (s *Store) commitAt(id object.ID, f *pack.Frame, loc pack.Location) (*object.Commit, *pack.Frame, pack.Location, error) {
	if f == nil {
		var err error
		if f, loc, err = s.locate(id); err != nil {
			return nil, nil, loc, s.blame(id, err)
		}
	}
	o, err := f.Object(int(loc.Slot))
	if err != nil {
		return nil, nil, loc, s.blame(id, fmt.Errorf("object %s: %w", id.Short(), err))
	}
	if o.ID != id {
		return nil, nil, loc, s.blame(id, fmt.Errorf("%w: object %s does not match its hash", ErrCorrupt, id.Short()))
	}
	if o.Kind != object.KindCommit {
		return nil, nil, loc, fmt.Errorf("object %s is %s, not a commit: %w", id.Short(), o.Kind.WithArticle(), ErrNotFound)
	}
	c, err := object.DecodeCommit(o.Body)
	return c, f, loc, err
}

// notEventError is the damage of a commit that names as an event an
// object of another kind.
type notEventError struct {
	id   object.ID
	kind object.Kind
}

func (e *notEventError) Error() string {
	return fmt.Sprintf("%v: %s is %s, not an event", ErrCorrupt, e.id.Short(), e.kind.WithArticle())
}

func (e *notEventError) Unwrap() error { return ErrCorrupt }

// eventAt returns the body and data of event eid when it is the entry at
// slot k of frame f, checked against its ID; ok is false when it is not
// there, to be read through the index.
func eventAt(f *pack.Frame, k int, eid object.ID) (body, data []byte, ok bool) {
	if k < 0 {
		return nil, nil, false
	}
	e, err := f.Object(k)
	if err != nil || e.ID != eid || e.Kind != object.KindEvent {
		return nil, nil, false
	}
	return e.Body, e.Data, true
}

// eventsBefore reads the events ids of the commit at loc in frame f:
// from the frame, just before the commit, where they lie when they were
// written with it, else through the index; with their data when data is
// set. Each is checked against its ID as Get checks it. s.mu is held.
func (s *Store) eventsBefore(f *pack.Frame, loc pack.Location, ids []object.ID, data bool) (bodies, datas [][]byte, err error) {
	bodies = make([][]byte, len(ids))
	if data {
		datas = make([][]byte, len(ids))
	}
	first := int(loc.Slot) - len(ids)
	for i, eid := range ids {
		if body, d, ok := eventAt(f, first+i, eid); ok {
			bodies[i] = body
			if data {
				datas[i] = d
			}
			continue
		}
		kind, body, d, err := s.get(eid)
		if err != nil {
			return nil, nil, err
		}
		if kind != object.KindEvent {
			return nil, nil, &notEventError{id: eid, kind: kind}
		}
		bodies[i] = body
		if data {
			datas[i] = d
		}
	}
	return bodies, datas, nil
}
