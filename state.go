package evgit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/snapshot"
	"github.com/evgit/evgit/store"
)

// streamState is a stream's version (its event count) and state.
type streamState struct {
	version uint64
	state   []byte // canonical JSON; nil before the first event, or while live
	// live, when set, holds the state instead of state: a writer folding
	// many merge patches onto a large state keeps it decoded between
	// them (model.Folder), where the bytes cost the whole state for every
	// event (10,000 one-event commits onto a state of a megabyte took
	// 19 s to import; a helper's audit). Only the headState a writer
	// folds into holds such entries, and only while it folds: get hands
	// out bytes, and keepHead turns them back into bytes (settleLive).
	live *model.Folder
}

// settled returns st with its state as bytes.
func (st streamState) settled() (streamState, error) {
	if st.live == nil {
		return st, nil
	}
	b, err := st.live.State()
	if err != nil {
		return streamState{}, err
	}
	return streamState{version: st.version, state: b}, nil
}

// settleLive turns the live states of h back into bytes, as a head is
// kept: a Folder must not outlive the writer that folds into it. Only h
// itself, a writer's fork, may hold them; its bases are kept heads, which
// hold bytes, and which other writers read (a helper's review found the
// first version ranging over them outside any transaction, beside a
// writer adding to them: a fatal concurrent map access).
func (h *headState) settleLive() error {
	for name, st := range h.streams {
		if st.live == nil {
			continue
		}
		st, err := st.settled()
		if err != nil {
			return err
		}
		h.streams[name] = st
	}
	return nil
}

// snapTrack is what a writer needs to record the next snapshot: the root
// of the newest snapshot at or below the head for the writer's model (the
// empty tree when there is none), and the streams changed after it. The
// states of those streams are in the headState's cache.
type snapTrack struct {
	root  object.ID
	dirty map[string]struct{}
	// job, when set, is the snapshot of a later boundary still building
	// (snapshotJob); root is then the tree it builds on, which holds
	// every stream not cached as the job's tree will.
	job *snapshotJob
	// treeRoom is the size of the last tree recorded, what a writer
	// reserves for the next while it is still building.
	treeRoom txRoom
}

func (t *snapTrack) clone() *snapTrack {
	c := &snapTrack{root: t.root, job: t.job, dirty: make(map[string]struct{}, len(t.dirty)+8), treeRoom: t.treeRoom}
	for s := range t.dirty {
		c.dirty[s] = struct{}{}
	}
	return c
}

// headState caches the streams at a branch's head, so appends in one
// process do not fold history again for every commit. Writers fork it,
// change the fork, and keep the fork once the transaction succeeded.
type headState struct {
	head    object.ID
	offset  uint64
	time    time.Time
	base    *headState // read-through: the state this one forked from
	streams map[string]streamState
	// complete is set when streams (with base) holds every stream at
	// head, so a stream found in neither does not exist.
	complete bool
	// snap is the snapshot bookkeeping, nil when not known yet (then the
	// nearest headState below knows it, or none does). A fork copies its
	// base's before changing it (snapOwn).
	snap    *snapTrack
	snapOwn bool
	// links is what the head knows of the skip links behind it.
	links linkState
	// model is the ID of the model its states were folded under (set as
	// it is kept: keepHead); a writer under another model starts afresh.
	model object.ID
	// heldAt is Tx.PackLoads()+1 when treeHeld last found the tree of snap
	// held; 0 when it never did.
	heldAt uint64
	// building says, for a head kept in Repository.heads, that a snapshot
	// was left building on it as it was kept. It is written and read only
	// under Repository.mu (Flush reads it beside the transactions whose
	// writers change the rest of a kept head in place).
	building bool
}

func (h *headState) fork() *headState {
	return &headState{head: h.head, offset: h.offset, time: h.time, base: h, streams: map[string]streamState{}, complete: h.complete}
}

// chainRoot returns the headState the fork chain starts from.
func (h *headState) chainRoot() *headState {
	root := h
	for root.base != nil {
		root = root.base
	}
	return root
}

func (h *headState) cached(stream string) (streamState, bool) {
	for s := h; s != nil; s = s.base {
		if st, ok := s.streams[stream]; ok {
			return st, true
		}
	}
	return streamState{}, false
}

// track returns the snapshot bookkeeping as this headState sees it.
func (h *headState) track() *snapTrack {
	for s := h; s != nil; s = s.base {
		if s.snap != nil {
			return s.snap
		}
	}
	return nil
}

// ownTrack returns bookkeeping this headState may change.
func (h *headState) ownTrack() *snapTrack {
	if !h.snapOwn {
		if t := h.track(); t != nil {
			h.snap = t.clone()
		} else {
			h.snap = &snapTrack{dirty: map[string]struct{}{}}
		}
		h.snapOwn = true
	}
	return h.snap
}

// ensureTrack finds the snapshot bookkeeping when the model takes
// snapshots and nobody knows it yet. Writers call it before they change
// a stream, so every change lands in the dirty set.
func (h *headState) ensureTrack(w *commitWriter) error {
	if w.mdl.SnapshotInterval() == 0 || h.track() != nil {
		return nil
	}
	return h.chainRoot().hydrate(w)
}

// get returns a stream's version and state at the head, as bytes.
func (h *headState) get(w *commitWriter, stream string) (streamState, error) {
	st, _, err := h.getLive(w, stream)
	if err != nil {
		return st, err
	}
	return st.settled()
}

// getLive is get for the writer that folds into h: it also reports
// whether h itself holds the entry (the writer changed the stream), and
// leaves such an entry's state live.
func (h *headState) getLive(w *commitWriter, stream string) (st streamState, own bool, err error) {
	if st, ok := h.streams[stream]; ok {
		return st, true, nil
	}
	st, err = h.load(w, stream)
	return st, false, err
}

// load finds a stream h does not hold: in the heads below it, or in the
// store.
func (h *headState) load(w *commitWriter, stream string) (streamState, error) {
	if st, ok := h.cached(stream); ok {
		return st, nil
	}
	if h.complete {
		return streamState{}, nil
	}
	if err := h.ensureTrack(w); err != nil {
		return streamState{}, err
	}
	if st, ok := h.cached(stream); ok {
		return st, nil
	}
	root := h.chainRoot()
	var st streamState
	var err error
	l := newLoader(w.r, w.tx, w.mdl, w.mdlID)
	if t := h.track(); t != nil {
		// Not changed since the snapshot (or it would be cached).
		st, err = l.lookup(t.root, stream)
	} else {
		st, err = l.load(root.head, stream, 0)
	}
	if err != nil {
		return st, err
	}
	root.streams[stream] = st
	return st, nil
}

// set records a stream's new state in this headState, and counts the
// stream as changed since the last snapshot when track is set (the
// writer's model takes snapshots).
func (h *headState) set(stream string, st streamState, track bool) {
	h.streams[stream] = st
	if track && h.track() != nil {
		h.ownTrack().dirty[stream] = struct{}{}
	}
}

// setAll sets many streams' states at once, making room for them first;
// track as for set.
func (h *headState) setAll(names []string, states []streamState, track bool) {
	if len(h.streams) == 0 {
		h.streams = make(map[string]streamState, len(names))
	}
	var dirty map[string]struct{}
	if track && h.track() != nil {
		t := h.ownTrack()
		if len(t.dirty) == 0 {
			t.dirty = make(map[string]struct{}, len(names))
		}
		dirty = t.dirty
	}
	for i, s := range names {
		h.streams[s] = states[i]
		if dirty != nil {
			dirty[s] = struct{}{}
		}
	}
}

func (h *headState) advance(id object.ID, c *object.Commit) {
	h.head, h.offset, h.time = id, c.Offset, c.Time
}

// flatten folds a fork into one map.
func (h *headState) flatten() *headState {
	if h.base == nil {
		return h
	}
	base := h.base.flatten()
	for k, v := range h.streams {
		base.streams[k] = v
	}
	if h.snap != nil {
		base.snap, base.snapOwn = h.snap, true
	}
	base.head, base.offset, base.time, base.complete = h.head, h.offset, h.time, h.complete
	if h.links.known {
		base.links = h.links
	}
	return base
}

// headFor returns the cached streams of a branch when the cache is at the
// branch's current head and was folded under the model mdlID, or a fresh
// state that loads streams on demand.
func (r *Repository) headFor(tx *store.Tx, branchRef string, mdlID object.ID) (*headState, error) {
	id, _, ok := tx.Resolve(branchRef)
	r.mu.Lock()
	hs := r.heads[branchRef]
	r.mu.Unlock()
	if hs != nil && hs.head == id && hs.model == mdlID && hs.treeHeld(tx) {
		return hs, nil
	}
	hs = &headState{head: id, streams: map[string]streamState{}}
	if !ok || id.IsZero() {
		hs.complete = true
		hs.snap, hs.snapOwn = &snapTrack{root: snapshot.EmptyRoot, dirty: map[string]struct{}{}}, true
		return hs, nil
	}
	c, err := readCommit(tx, id)
	if err != nil {
		return nil, err
	}
	hs.offset, hs.time = c.Offset, c.Time
	return hs, nil
}

// treeHeld reports whether the store still holds the snapshot tree the
// cached head builds its next snapshot on. The streams' states depend
// only on the head and the model, but which trees exist depends on gc:
// one run by another process, since the head was cached, may have
// dropped that snapshot, and a tree built on it would name nodes that
// are gone.
//
// A lookup maps every object written since the last one into the
// store's table (hundreds of thousands of map inserts for a run of
// 1000-event commits, a tenth of their CPU), so a head checked once is
// not checked again until the store loads a new pack, which any gc
// makes it do (Tx.PackLoads): a tree recorded in a transaction since was
// written at the same count.
func (h *headState) treeHeld(tx *store.Tx) bool {
	t := h.track()
	if t == nil || t.root.IsZero() || t.root == snapshot.EmptyRoot {
		return true
	}
	loads := tx.PackLoads() + 1 // heldAt 0: never checked
	if h.heldAt == loads {
		return true
	}
	if !tx.Has(t.root) {
		return false
	}
	h.heldAt = loads
	return true
}

// keepHead caches hs as the head of branchRef, folded under the model
// mdlID.
func (r *Repository) keepHead(branchRef string, hs *headState, mdlID object.ID) {
	if err := hs.settleLive(); err != nil {
		// Not kept: the next writer reads what it needs from the store.
		r.mu.Lock()
		delete(r.heads, branchRef)
		r.mu.Unlock()
		return
	}
	flat := hs.flatten()
	flat.model = mdlID
	t := flat.track()
	building := t != nil && t.job != nil
	r.mu.Lock()
	defer r.mu.Unlock()
	flat.building = building
	r.heads[branchRef] = flat
}

func (r *Repository) forgetHeads() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heads = map[string]*headState{}
}

// isBoundary reports whether a commit is where snapshots of a model that
// takes one every `every` events are recorded: its offset crosses a
// multiple of every. Only these commits are looked up for snapshots.
func isBoundary(c *object.Commit, every uint64) bool {
	if every == 0 {
		return false
	}
	before := c.Offset - uint64(len(c.Events))
	return before/every < c.Offset/every
}

// walkBudget is how many events a walk back goes on looking for a
// snapshot after a boundary commit without one, before it takes the line
// index (folding from the start) instead: snapshots that gc thinned are
// still found, a model that has none yet does not cost a walk of all
// history on every load. gc keeps a snapshot about every 10,000 events
// of a line (store.GCOptions.SnapshotGap), at most twice that apart: the
// budget covers that, so a load in gc'd history walks at most that far
// (about 30 ms) where it folded the stream from the line's start (a
// helper's scale audit: 1.1 s for a hot stream in the middle of a
// million events, 0.07 s before gc).
//
// It also covers an import's stride (10 × snapshot_every, importSnapshotStride),
// whatever snapshot_every is: with 8 × it did not past snapshot_every 2,700
// (a review).
func walkBudget(every uint64) int {
	return int(max(uint64(importSnapshotStride+2)*every, 2*store.DefaultSnapshotGap+4096))
}

// walkLeft, when set (by tests), is told how many events a load's walk
// back read before it left for the line index.
var walkLeft func(walked int)

// shortWalkBudget is walkBudget for a load of a version far behind the
// commit it starts at, where the snapshots the walk passes may all be too
// new for the version: past it, the line index names the commit of the
// version-th event, and a load there (jumped) walks the long budget.
func shortWalkBudget(every uint64) int {
	return int(max(uint64(importSnapshotStride+2)*every, 4096))
}

var modelIDs sync.Map // *model.Model → object.ID

// modelID returns the ID snapshots of a model are recorded under: the
// blob ID of its source, what MODEL points at; ZeroID for no model.
func modelID(mdl *model.Model) object.ID {
	if mdl == nil {
		return object.ZeroID
	}
	if id, ok := modelIDs.Load(mdl); ok {
		return id.(object.ID)
	}
	id := object.Hash(object.KindBlob, mdl.Source())
	modelIDs.Store(mdl, id)
	return id
}

// loader finds streams' states at commits: from the nearest snapshot at
// or below the commit on its first-parent line, then only that stream's
// events after it; when no snapshot exists, from the line index (or, with
// no repository, by folding the whole line).
type loader struct {
	ctx   context.Context // stops a line index's build; Background unless set
	r     *Repository     // nil: no line index and no node cache
	rd    reader
	mdl   *model.Model
	mdlID object.ID
	every uint64
	snaps *snapshot.Reader
	// jumped marks a load at the commit the line index named for a
	// version: it folds from the line's start if it must, never jumps
	// again.
	jumped bool
}

func newLoader(r *Repository, rd reader, mdl *model.Model, mdlID object.ID) *loader {
	l := &loader{ctx: context.Background(), r: r, rd: rd, mdl: mdl, mdlID: mdlID, every: uint64(mdl.SnapshotInterval())}
	l.snaps = snapshot.NewReader(rd, l.nodeCache())
	return l
}

// loadStream folds one stream at a commit, from the nearest snapshot of
// the model at or below it.
func loadStream(rd reader, mdl *model.Model, head object.ID, stream string) (streamState, error) {
	return newLoader(nil, rd, mdl, modelID(mdl)).load(head, stream, 0)
}

// versionError is a --version past the stream's last event.
type versionError struct {
	stream      string
	have, asked uint64
}

func (e *versionError) Error() string {
	return fmt.Sprintf("stream %s has %d events, not %d", e.stream, e.have, e.asked)
}

func (e *versionError) Is(target error) bool { return target == ErrNotFound }

// snapshotAt returns the snapshot recorded at a commit for the loader's
// model, if the commit is a boundary and the snapshot's root is stored.
func (l *loader) snapshotAt(id object.ID, c *object.Commit) (object.ID, bool, error) {
	if !isBoundary(c, l.every) {
		return object.ZeroID, false, nil
	}
	root, ok, err := l.rd.Snapshot(id, l.mdlID)
	if err != nil || !ok {
		return root, false, err
	}
	if root == snapshot.EmptyRoot {
		return root, true, nil
	}
	kind, _, _, err := l.rd.Get(root)
	switch {
	case errors.Is(err, ErrNotFound):
		return root, false, nil // thinned by gc: look further back
	case err != nil:
		return root, false, err
	case kind != object.KindTree:
		return root, false, fmt.Errorf("%w: snapshot of %s is %s, not a tree", ErrCorrupt, id.Short(), kind.WithArticle())
	}
	return root, true, nil
}

// lookup returns a stream's version and state in a snapshot.
func (l *loader) lookup(root object.ID, stream string) (streamState, error) {
	e, found, err := l.snaps.Lookup(root, stream)
	if err != nil || !found {
		return streamState{}, err
	}
	st, err := l.snaps.State(e)
	if err != nil {
		return streamState{}, err
	}
	return streamState{version: e.Version, state: st}, nil
}

// apply folds one event into a stream's state.
func (l *loader) apply(st streamState, e *object.Event) (streamState, error) {
	next, err := l.mdl.Replay(e.Stream, st.state, model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta})
	if err != nil {
		return st, fmt.Errorf("folding %s: %w", e.Stream, err)
	}
	return streamState{version: st.version + 1, state: next}, nil
}

// load returns a stream's version and state at commit id, or with
// version > 0 after the stream's version-th event on id's first-parent
// line.
func (l *loader) load(id object.ID, stream string, version uint64) (streamState, error) {
	if id.IsZero() {
		if version > 0 {
			return streamState{}, &versionError{stream: stream, asked: version}
		}
		return streamState{}, nil
	}
	if l.r != nil && l.every == 0 {
		return l.fromIndex(id, stream, version)
	}
	var mine []*object.Event // the stream's events walked, newest first
	missedAt, walked, commits := -1, 0, 0
	budget, probed := walkBudget(l.every), false // probed: snapshotAhead answered
	if version > 0 && !l.jumped {
		budget, probed = shortWalkBudget(l.every), true
	}
	for cur := id; ; {
		c, err := readCommit(l.rd, cur)
		if err != nil {
			return streamState{}, err
		}
		root, ok, err := l.snapshotAt(cur, c)
		if err != nil {
			return streamState{}, err
		}
		var base streamState
		if ok {
			base, err = l.lookup(root, stream)
			if errors.Is(err, ErrNotFound) {
				ok = false // a node gc took: look further back
			} else if err != nil {
				return streamState{}, err
			}
		}
		if ok {
			if version == 0 || base.version <= version {
				return l.foldOnto(base, mine, stream, version)
			}
		} else if missedAt < 0 && isBoundary(c, l.every) {
			missedAt = walked
		}
		for i := len(c.Events) - 1; i >= 0; i-- {
			e, ok, err := readEventOf(l.rd, c.Events[i], stream)
			if err != nil {
				return streamState{}, err
			}
			if ok {
				mine = append(mine, e)
			}
		}
		walked += len(c.Events)
		p := c.Parent()
		if p.IsZero() {
			return l.foldOnto(streamState{}, mine, stream, version)
		}
		if commits++; commits%1024 == 0 {
			if err := l.ctx.Err(); err != nil {
				return streamState{}, err
			}
		}
		if l.r != nil && missedAt >= 0 {
			past := walked - missedAt
			if past > budget {
				return l.leaveWalk(id, stream, version, walked)
			}
			// Past the budget of old (4,096 events), the walk goes on
			// only if the skip links show a snapshot within the rest:
			// with none (a model with no snapshots back there), the
			// longer walk would cost a load 0.1 s for nothing (a
			// review).
			if !probed && past > 4096 {
				// Asked at each commit until one with a link answers.
				found, known := l.snapshotAhead(cur, c.Offset, uint64(budget-past))
				if known && !found {
					return l.leaveWalk(id, stream, version, walked)
				}
				probed = known
			}
		}
		cur = p
	}
}

// leaveWalk gives up a walk back that read walked events, for the line
// index.
func (l *loader) leaveWalk(id object.ID, stream string, version uint64, walked int) (streamState, error) {
	if walkLeft != nil {
		walkLeft(walked)
	}
	return l.fromIndex(id, stream, version)
}

// snapshotAhead says whether a snapshot of the model, or the line's
// start, lies on the first-parent line below cur (whose offset is offset)
// within span events, following skip links from the nearest linked commit without
// reading commits. known is false when the links cannot say: the reader
// keeps none, cur's neighbourhood has none, or snapshots may lie where no
// link does (snapshot_every not a multiple of the link spacing).
func (l *loader) snapshotAhead(cur object.ID, offset, span uint64) (found, known bool) {
	lr, ok := l.rd.(interface {
		Link(object.ID) (store.Link, bool, error)
	})
	if !ok || l.every%linkEvery != 0 {
		return false, false
	}
	link, ok, err := lr.Link(cur)
	if err != nil || !ok {
		return false, false
	}
	floor := uint64(0)
	if offset > span {
		floor = offset - span
	}
	below := link.Offset // each step must go back: a damaged link must not loop
	for at := link.Prev; !at.IsZero(); {
		own, ok, err := lr.Link(at)
		if err != nil || !ok || own.Offset >= below {
			return false, false
		}
		below = own.Offset
		if own.Offset < floor {
			return false, true
		}
		if root, ok, err := l.rd.Snapshot(at, l.mdlID); err != nil {
			return false, false
		} else if ok {
			if root == snapshot.EmptyRoot {
				return true, true
			}
			if kind, _, _, err := l.rd.Get(root); err == nil && kind == object.KindTree {
				return true, true
			}
		}
		at = own.Prev
	}
	// The chain's first link, within the span. The line's start is
	// within reach only if the span goes down to it: a chain may start
	// mid-line, where history older than skip links has none (a review),
	// and below a whole chain's first link lies no multiple of the link
	// spacing, so no snapshot. A walk to the start folds from nothing, as
	// well as from a snapshot.
	return floor == 0, true
}

// foldCheckEvery is how many events a fold of one stream folds between
// looks at its context: a fold of a long stream with no snapshot near
// (a model just set) took seconds after a cancel, and then answered (a
// helper's audit).
const foldCheckEvery = 1024

// foldOnto folds events (newest first) onto a state, stopping after the
// stream's version-th event when version > 0.
func (l *loader) foldOnto(st streamState, events []*object.Event, stream string, version uint64) (streamState, error) {
	f := l.mdl.Folder(stream, st.state)
	for i := len(events) - 1; i >= 0 && (version == 0 || st.version < version); i-- {
		e := events[i]
		if err := f.Replay(model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta}); err != nil {
			return st, fmt.Errorf("folding %s: %w", e.Stream, err)
		}
		if st.version++; st.version%foldCheckEvery == 0 {
			if err := l.ctx.Err(); err != nil {
				return st, err
			}
		}
	}
	var err error
	if st.state, err = f.State(); err != nil {
		return st, err
	}
	if version > st.version {
		return st, &versionError{stream: stream, have: st.version, asked: version}
	}
	return st, nil
}

// fromIndex folds a stream from the start of id's line, through the
// line index and its marks; with version > 0 and snapshots, it first
// looks for the version from the snapshot nearest it (atVersion).
func (l *loader) fromIndex(id object.ID, stream string, version uint64) (streamState, error) {
	if version > 0 && l.every > 0 && !l.jumped {
		if st, ok, err := l.atVersion(id, stream, version); ok || err != nil {
			return st, err
		}
	}
	var st streamState
	err := l.r.onLine(l.ctx, l.rd, id, func(v *lineView) error {
		var err error
		st, err = v.fold(l.ctx, l.rd, l.mdl, l.mdlID, stream, version)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("folding %s: %w", stream, err)
	}
	if version > st.version {
		return st, &versionError{stream: stream, have: st.version, asked: version}
	}
	return st, nil
}

// atVersion loads a stream's version-th state at the commit that holds
// its version-th event, which the line index names: from the snapshot
// nearest that commit, as a load at it does, where a walk back from a
// later commit had passed many snapshots that were too new, and the fold
// from the line's start that followed read every event of the stream
// before it (a version in the middle of a hot stream's 134,549 events on
// a million commits: 1.0–1.9 s). ok is false when the index cannot say
// (a line with merges, a version past the stream's events).
//
// The index may come from the line cache, which a damaged file can make
// say otherwise than history: the event it names is checked to be the
// stream's, as a fold through the index checks each, and a commit whose
// line holds fewer of the stream's events than the index says is taken as
// such damage too (the cache is removed, and the error says so), never
// reported as a version the stream does not have (a review found that).
func (l *loader) atVersion(id object.ID, stream string, version uint64) (st streamState, ok bool, err error) {
	var at object.ID
	var li *lineIndex
	err = l.r.onLine(l.ctx, l.rd, id, func(v *lineView) error {
		at, li = object.ZeroID, v.li
		if !v.linear() {
			return nil
		}
		refs, _, err := v.streamRefs(stream, l.mdlID)
		if err != nil || version > uint64(len(refs)) {
			return err
		}
		if _, err := v.eventID(l.rd, refs[version-1], stream); err != nil {
			return err
		}
		at = v.ids[refs[version-1].pos]
		return nil
	})
	if err != nil || at.IsZero() {
		return streamState{}, false, err
	}
	jl := *l
	jl.jumped = true
	st, err = jl.load(at, stream, version)
	var short *versionError
	if errors.As(err, &short) {
		return streamState{}, false, li.damaged(fmt.Sprintf("commit %s as one with the %d-th event of %s, where its line holds %d", at.Short(), version, stream, short.have))
	}
	return st, err == nil, err
}

// hydrate (on a chain root) finds the newest snapshot at or below the
// head and folds the streams changed since into the cache: the writer
// then knows every stream's state, and what the next snapshot must
// change. When the model has no snapshot near the head, every stream is
// folded from the line index; a writer that may write then records a
// snapshot at the newest boundary commit, so the next process finds it.
func (h *headState) hydrate(w *commitWriter) error {
	if h.head.IsZero() {
		h.snap, h.snapOwn = &snapTrack{root: snapshot.EmptyRoot, dirty: map[string]struct{}{}}, true
		return nil
	}
	l := newLoader(w.r, w.tx, w.mdl, w.mdlID)
	b, err := l.backToSnapshot(h.head, true)
	if err != nil {
		return err
	}
	switch {
	case b.found:
		return h.settle(l, b.root, b.events)
	case b.atRoot && (!b.missed || w.dryRun):
		return h.settle(l, snapshot.EmptyRoot, b.events)
	}
	// Boundaries without snapshots: record the newest one.
	return h.rebuild(w, l)
}

// settle folds the events after a snapshot (newest first) onto it.
func (h *headState) settle(l *loader, root object.ID, events []*object.Event) error {
	states := map[string]streamState{}
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		st, ok := states[e.Stream]
		if !ok {
			var err error
			if st, err = l.lookup(root, e.Stream); err != nil {
				return err
			}
		}
		next, err := l.apply(st, e)
		if err != nil {
			return err
		}
		states[e.Stream] = next
	}
	t := &snapTrack{root: root, dirty: make(map[string]struct{}, len(states))}
	for s, st := range states {
		h.streams[s] = st
		t.dirty[s] = struct{}{}
	}
	h.snap, h.snapOwn = t, true
	return nil
}

// rebuild folds every stream at the head from the line index, for a
// model with no snapshot near the head (it changed, or snapshots were
// off). A writer that may write records the snapshot of the newest
// boundary commit; the streams changed after it are the dirty set.
func (h *headState) rebuild(w *commitWriter, l *loader) error {
	var t *snapTrack
	var states map[string]streamState
	var changes []snapshot.Change
	var at *lineView // the newest boundary, when it gets a snapshot
	err := w.r.onLine(l.ctx, w.tx, h.head, func(v *lineView) error {
		streams, err := v.streams()
		if err != nil {
			return err
		}
		t = &snapTrack{root: snapshot.EmptyRoot, dirty: make(map[string]struct{}, len(streams))}
		states, changes, at = make(map[string]streamState, len(streams)), nil, nil
		for p := v.pos; p >= 0 && at == nil && !w.dryRun; p-- {
			before := uint64(0)
			if p > 0 {
				before = v.offsets[p-1]
			}
			if before/l.every < v.offsets[p]/l.every {
				at = v.at(p)
			}
		}
		var atStates map[string]streamState
		marks := map[int]map[string]bool{} // nil: every stream
		pos := map[object.ID]int{}         // the commits w.foldAt asks states at
		for id, m := range w.foldAt {
			p := sort.Search(len(v.offsets), func(i int) bool { return v.offsets[i] >= m.offset })
			if p >= len(v.ids) || v.ids[p] != id {
				return fmt.Errorf("%w: commit %s is not on the line where its offset says", ErrCorrupt, id.Short())
			}
			if marks[p] == nil {
				marks[p] = map[string]bool{}
			}
			maps.Copy(marks[p], m.streams)
			pos[id] = p
		}
		if at != nil {
			marks[at.pos] = nil
		}
		var all map[int]map[string]streamState
		if states, all, err = foldLine(w.ctx, w.tx, w.mdl, v, len(streams), marks); err != nil {
			return err
		}
		if at != nil {
			atStates = all[at.pos]
		}
		if w.foldAt != nil {
			w.foldedAt = make(map[object.ID]map[string]streamState, len(pos))
			for id, p := range pos {
				w.foldedAt[id] = all[p]
			}
		}
		for _, s := range streams {
			st := states[s]
			if at == nil {
				t.dirty[s] = struct{}{}
				continue
			}
			old := atStates[s]
			if old.version > 0 {
				changes = append(changes, snapshot.Change{Stream: s, Version: old.version, State: old.state})
			}
			if old.version != st.version {
				t.dirty[s] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if at != nil {
		root, err := snapshot.NewWriter(w.tx, w.tx, w.r.derived().nodes).Build(changes)
		if err != nil {
			return err
		}
		w.tx.PutSnapshot(at.ids[at.pos], w.mdlID, root)
		t.root = root
	}
	for s, st := range states {
		h.streams[s] = st
	}
	h.snap, h.snapOwn = t, true
	return nil
}

// foldLine folds every event on the line of v, oldest first, commit
// after commit (stopping when ctx, if not nil, is done), and returns
// every stream's state at v's commit and at each position of at a copy
// of the states there: of the streams at names, or of all for nil. One
// pass in the order the events were written reads each frame once; folding stream after stream read the
// frames of every stream again (two minutes, not seconds, on a million
// events over 10,000 streams).
func foldLine(ctx context.Context, rd reader, mdl *model.Model, v *lineView, streams int, at map[int]map[string]bool) (map[string]streamState, map[int]map[string]streamState, error) {
	atStates := make(map[int]map[string]streamState, len(at))
	states, err := foldCommits(ctx, rd, mdl, v.ids[:v.pos+1], make(map[string]streamState, streams), func(i int, _ object.ID, _ *object.Commit, states map[string]streamState, _ []string) error {
		names, ok := at[i]
		switch {
		case !ok:
		case names == nil:
			atStates[i] = maps.Clone(states)
		default:
			kept := make(map[string]streamState, len(names))
			for s := range names {
				if st, ok := states[s]; ok {
					kept[s] = st
				}
			}
			atStates[i] = kept
		}
		return nil
	})
	return states, atStates, err
}
