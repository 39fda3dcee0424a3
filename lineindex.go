package evgit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/snapshot"
	"github.com/evgit/evgit/store"
)

// derivedState is what a Repository derives from history and keeps in
// memory for the life of the process: decoded snapshot nodes, the index
// of one first-parent line, and the snapshots of typed aggregates. None
// of it is ever written; dropping it only costs time.
type derivedState struct {
	nodes *snapshot.Cache
	line  lineIndex
	aggs  aggregateSnapshots
}

// newDerivedState returns an empty derived state whose line index is
// saved in gitDir ("" for nowhere).
func newDerivedState(gitDir string) *derivedState {
	d := &derivedState{nodes: snapshot.NewCache(4096)}
	if gitDir != "" {
		d.line.cache = filepath.Join(gitDir, lineCacheName)
	}
	return d
}

// derived returns the repository's derived state.
func (r *Repository) derived() *derivedState { return r.derivedState }

// markEvery is how many of a stream's events lie between two states the
// line index keeps for it.
const markEvery = 64

// lineIndex indexes one first-parent line in memory: its commits oldest
// first, and for each stream the positions and IDs of its events, with
// the stream's state after every markEvery-th event once a fold passed
// there. It serves what snapshots cannot: loading when no snapshot
// exists (snapshot_every: 0, or a model without snapshots yet), a
// stream's N-th event, and as-of by binary search. It is built by one
// walk of the line and grown by walking from a new tip back to a commit
// it holds; a tip on another line cuts it at the fork point.
//
// The lock is never held while reading objects: a writer runs inside a
// store transaction, under the store's lock, and may read the index too.
type lineIndex struct {
	mu      sync.Mutex
	ids     []object.ID
	offsets []uint64
	times   []int64  // Unix nanoseconds, never decreasing
	merges  []uint32 // positions of the commits with more than one parent
	streams map[string]*streamLine
	gen     uint64 // counts cuts: marks folded before a cut are dropped

	// cache is the file the index is loaded from and saved to (linecache.go),
	// "" for none; loaded says a load was tried; walked counts the commits
	// added by walking since then, which Close saves once there are enough.
	cache  string
	loaded bool
	walked int
}

// eventRef is one event of a stream on the line: its commit's position,
// its place among that commit's events, and its ID, which an index read
// from the line cache lacks (ZeroID) and lineView.eventID reads from the
// commit.
type eventRef struct {
	pos uint32 // index of its commit in ids
	idx uint32 // index of the event in the commit's events
	id  object.ID
}

// streamLine is one stream's events on the line and the states folded at
// every markEvery-th of them, through the model named mdl.
type streamLine struct {
	refs  []eventRef
	mdl   object.ID
	marks [][]byte // marks[i]: state after event (i+1)*markEvery
	// coded holds refs as the line cache file gives them, checked but
	// not yet decoded (linecache.go): a process that reads one stream of
	// a long line decodes that stream's events only. The index's lock is
	// held to decode them (events).
	coded  []byte
	codedN int // events in coded
}

// events returns the stream's events on the line, decoding them from the
// line cache file the first time. The index's lock is held.
func (sl *streamLine) events() []eventRef {
	if sl.coded != nil {
		sl.refs = decodeRefs(sl.coded, make([]eventRef, 0, sl.codedN))
		sl.coded = nil
	}
	return sl.refs
}

// errLineMoved is returned by a lineView when the index was cut since the
// view was taken (a tip on another line): its positions no longer hold.
// Callers take a new view (onLine does).
var errLineMoved = errors.New("line index moved")

// lineView is the index as it stood when a commit was found in it: the
// line up to that commit. Its slices are never written again (cut clips
// their capacity), so commits, offsets and times need no lock; stream
// lookups check that no cut happened since.
type lineView struct {
	li      *lineIndex
	pos     int // the commit's position
	gen     uint64
	ids     []object.ID
	offsets []uint64
	times   []int64
	merges  []uint32 // the merges at or before pos
}

// find returns a view at a commit known by its offset. The caller holds
// the lock.
func (li *lineIndex) find(id object.ID, offset uint64) (*lineView, bool) {
	p := sort.Search(len(li.offsets), func(i int) bool { return li.offsets[i] >= offset })
	if p < len(li.ids) && li.ids[p] == id {
		v := &lineView{li: li, gen: li.gen, ids: li.ids, offsets: li.offsets, times: li.times, merges: li.merges}
		return v.at(p), true
	}
	return nil, false
}

// covers returns a view at a commit if the index already holds it.
func (li *lineIndex) covers(id object.ID, offset uint64) (*lineView, bool) {
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.find(id, offset)
}

// walkedCommit is what the index keeps of a commit read while extending
// it: not the commit and its events, which a walk over a million commits
// would hold in memory all at once.
type walkedCommit struct {
	id, parent object.ID
	offset     uint64
	time       int64
	merge      bool // more than one parent
	events     []object.ID
	streams    []string // the events' streams
}

// walkedLine holds the commits a walk read, newest first, in blocks: one
// slice of a million walked commits would be copied whole each time it
// grew (a fifth of a first walk of such a line, and twice its memory at
// the peak).
type walkedLine struct {
	blocks [][]walkedCommit
	n      int
}

// walkBlock is how many walked commits a block holds.
const walkBlock = 4096

func (wl *walkedLine) add(w walkedCommit) {
	// Small blocks first, for the short walks of a line that grew.
	if k := len(wl.blocks); k == 0 || len(wl.blocks[k-1]) == cap(wl.blocks[k-1]) {
		size := walkBlock
		if k := len(wl.blocks); k < 8 {
			size = min(size, 16<<k)
		}
		wl.blocks = append(wl.blocks, make([]walkedCommit, 0, size))
	}
	b := &wl.blocks[len(wl.blocks)-1]
	*b = append(*b, w)
	wl.n++
}

// oldest returns the commit walked last, the oldest.
func (wl *walkedLine) oldest() *walkedCommit {
	b := wl.blocks[len(wl.blocks)-1]
	return &b[len(b)-1]
}

// errOverBudget is coverWithin's answer when the line it would walk is
// longer than its budget.
var errOverBudget = errors.New("line index: walk over budget")

// coverAheadAfter is how many commits the walk that covers a line goes
// before it leaves frames and reads ahead: one that catches up with a
// few new commits reads the frames the command reads next.
const coverAheadAfter = 64

// cover makes the index hold the first-parent line ending at id and
// returns a view at id.
func (li *lineIndex) cover(rd reader, id object.ID) (*lineView, error) {
	return li.coverWithin(context.Background(), rd, id, 0)
}

// coverWithin is cover walking at most budget commits (0: no limit),
// failing with errOverBudget past it and with ctx's error once ctx is
// done.
func (li *lineIndex) coverWithin(ctx context.Context, rd reader, id object.ID, budget int) (*lineView, error) {
	step, err := readStep(rd, id, nil)
	if err != nil {
		return nil, err
	}
	li.load(rd)
	for {
		if v, ok := li.covers(id, step.Commit.Offset); ok {
			return v, nil
		}
		if err := readStepEvents(rd, step); err != nil {
			return nil, err
		}
		// Walk back, without the lock, to a commit the index holds.
		var walked walkedLine
		var frames frameLeaver
		names := interner{}
		base := -1
		cur, cs := id, step
		for {
			if budget > 0 && walked.n >= budget {
				return nil, errOverBudget
			}
			if walked.n%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			cc := cs.Commit
			w := walkedCommit{id: cur, parent: cc.Parent(), offset: cc.Offset, time: cc.Time.UnixNano(), merge: len(cc.Parents) > 1, events: cc.Events, streams: make([]string, len(cc.Events))}
			for i, body := range cs.Events {
				// Only the stream is needed: the store checked the body
				// against its ID; the rest is checked when folded.
				stream, _, err := object.EventNames(body)
				if err != nil {
					return nil, err
				}
				w.streams[i] = names.intern(stream)
			}
			walked.add(w)
			p := cc.Parent()
			if p.IsZero() {
				break
			}
			ps, err := readStep(rd, p, cs)
			if err != nil {
				return nil, err
			}
			if st, ok := rd.(*store.Store); ok {
				// Into the next frame down the line, once the walk is a
				// long one (not one catching up with a few commits): the
				// frame left goes first from the cache, and the one after
				// is decoded meanwhile on the other core (design.md §8,
				// "Walking a long history").
				if frames.leave == nil {
					frames.leave = st.LeaveFrame
				}
				if walked.n < coverAheadAfter {
					frames.last = ps
				} else if frames.step(ps, nil) {
					st.PrefetchLine(ps)
				}
			}
			if v, ok := li.covers(p, ps.Commit.Offset); ok {
				base = v.pos
				break
			}
			// Its events only now: a commit the index holds is not read
			// further.
			if err := readStepEvents(rd, ps); err != nil {
				return nil, err
			}
			cur, cs = p, ps
		}
		if li.splice(&walked, base) {
			continue // found at the top of the loop
		}
		// The index changed under us; look again.
	}
}

// readStep reads a commit for a walk down its line; prev is the step
// read before, whose first parent id is (nil for the first). The store
// reads a frame's commits and events together (store.ReadLineStep);
// another reader (a transaction) reads each object.
func readStep(rd reader, id object.ID, prev *store.LineStep) (*store.LineStep, error) {
	if st, ok := rd.(*store.Store); ok {
		return st.ReadLineStep(id, prev)
	}
	c, err := readCommit(rd, id)
	if err != nil {
		return nil, err
	}
	return &store.LineStep{Commit: c}, nil
}

// readStepEvents reads the events' bodies of a step's commit.
func readStepEvents(rd reader, step *store.LineStep) error {
	if st, ok := rd.(*store.Store); ok {
		return st.ReadLineEvents(step)
	}
	events := make([][]byte, len(step.Commit.Events))
	for i, eid := range step.Commit.Events {
		kind, body, _, err := rd.Get(eid)
		if err == nil && kind != object.KindEvent {
			err = fmt.Errorf("%w: %s is %s, not an event", ErrCorrupt, eid.Short(), kind.WithArticle())
		}
		if err != nil {
			return err
		}
		events[i] = body
	}
	step.Events = events
	return nil
}

// interner gives each distinct stream name one string.
type interner map[string]string

func (in interner) intern(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// splice cuts the index after base (-1: empties it) and appends the
// walked commits (newest first). It fails when the commit at base changed
// since the walk found it.
func (li *lineIndex) splice(walked *walkedLine, base int) bool {
	li.mu.Lock()
	defer li.mu.Unlock()
	if base >= len(li.ids) || (base >= 0 && li.ids[base] != walked.oldest().parent) {
		return false
	}
	if base+1 < len(li.ids) {
		li.cut(base + 1)
	}
	if li.streams == nil {
		li.streams = map[string]*streamLine{}
	}
	li.ids = slices.Grow(li.ids, walked.n)
	li.offsets = slices.Grow(li.offsets, walked.n)
	li.times = slices.Grow(li.times, walked.n)
	for k := len(walked.blocks) - 1; k >= 0; k-- {
		for i := len(walked.blocks[k]) - 1; i >= 0; i-- {
			li.add(&walked.blocks[k][i])
		}
	}
	li.walked += walked.n
	return true
}

// add appends a walked commit to the index. The caller holds the lock.
func (li *lineIndex) add(w *walkedCommit) {
	pos := uint32(len(li.ids))
	li.ids = append(li.ids, w.id)
	li.offsets = append(li.offsets, w.offset)
	li.times = append(li.times, w.time)
	if w.merge {
		li.merges = append(li.merges, pos)
	}
	for j, stream := range w.streams {
		sl := li.streams[stream]
		if sl == nil {
			sl = &streamLine{}
			li.streams[stream] = sl
		}
		sl.refs = append(sl.events(), eventRef{pos: pos, idx: uint32(j), id: w.events[j]})
	}
}

// cut keeps the first n commits. The caller holds the lock.
func (li *lineIndex) cut(n int) {
	li.gen++
	li.ids, li.offsets, li.times = li.ids[:n:n], li.offsets[:n:n], li.times[:n:n]
	m := sort.Search(len(li.merges), func(i int) bool { return int(li.merges[i]) >= n })
	li.merges = li.merges[:m:m]
	if n == 0 {
		clear(li.streams)
		return
	}
	for s, sl := range li.streams {
		refs := sl.events()
		k := sort.Search(len(refs), func(i int) bool { return int(refs[i].pos) >= n })
		if k == 0 {
			delete(li.streams, s)
			continue
		}
		sl.refs = sl.refs[:k:k]
		if m := k / markEvery; m < len(sl.marks) {
			sl.marks = sl.marks[:m:m]
		}
	}
}

// onLine runs fn on a view of the index at id, again on a new view when
// the index moved under fn. Cancelling ctx stops the index's build.
func (r *Repository) onLine(ctx context.Context, rd reader, id object.ID, fn func(v *lineView) error) error {
	return r.onLineWithin(ctx, rd, id, 0, fn)
}

// onLineWithin is onLine with coverWithin's context and budget.
func (r *Repository) onLineWithin(ctx context.Context, rd reader, id object.ID, budget int, fn func(v *lineView) error) error {
	li := &r.derived().line
	for {
		v, err := li.coverWithin(ctx, rd, id, budget)
		if err != nil {
			return err
		}
		if err := fn(v); !errors.Is(err, errLineMoved) {
			return err
		}
	}
}

// at returns the view cut at an earlier position.
func (v *lineView) at(pos int) *lineView {
	m := sort.Search(len(v.merges), func(i int) bool { return int(v.merges[i]) > pos })
	return &lineView{li: v.li, pos: pos, gen: v.gen, ids: v.ids[: pos+1 : pos+1], offsets: v.offsets[: pos+1 : pos+1], times: v.times[: pos+1 : pos+1], merges: v.merges[:m:m]}
}

// linear reports whether no commit of the view's line has a second
// parent: then the line is all of its commit's history.
func (v *lineView) linear() bool { return len(v.merges) == 0 }

// eventID returns the ID of the event a ref names. A ref read from the
// line cache has none: the ID is then read from its commit (rebuilt alone
// when rd is the store, store.CommitAfter, since the index knows its
// parent), and the event checked to be one of stream's: a line cache
// that says otherwise is dropped, as damaged.
func (v *lineView) eventID(rd reader, ref eventRef, stream string) (object.ID, error) {
	if !ref.id.IsZero() {
		return ref.id, nil
	}
	id := v.ids[ref.pos]
	var c *object.Commit
	var err error
	if st, ok := rd.(*store.Store); ok && ref.pos > 0 {
		c, err = st.CommitAfter(id, v.ids[ref.pos-1])
	} else {
		c, err = readCommit(rd, id)
	}
	if err != nil {
		return object.ZeroID, err
	}
	if int(ref.idx) >= len(c.Events) {
		return object.ZeroID, v.li.damaged(fmt.Sprintf("event %d of commit %s, which has %d", ref.idx+1, id.Short(), len(c.Events)))
	}
	eid := c.Events[ref.idx]
	if ok, err := eventOf(rd, eid, stream); err != nil || !ok {
		if err == nil {
			err = v.li.damaged(fmt.Sprintf("event %s of commit %s as one of %s", eid.Short(), id.Short(), stream))
		}
		return object.ZeroID, err
	}
	return eid, nil
}

// eventOf reports whether an event belongs to stream, reading its names.
func eventOf(rd reader, id object.ID, stream string) (bool, error) {
	kind, body, _, err := rd.Get(id)
	if err != nil {
		return false, err
	}
	if kind != object.KindEvent {
		return false, nil
	}
	name, _, err := object.EventNames(body)
	return err == nil && string(name) == stream, err
}

// streamRefs returns a stream's events on the view's line and the states
// folded at its marks through mdlID.
func (v *lineView) streamRefs(stream string, mdlID object.ID) ([]eventRef, [][]byte, error) {
	li := v.li
	li.mu.Lock()
	defer li.mu.Unlock()
	if li.gen != v.gen {
		return nil, nil, errLineMoved
	}
	sl := li.streams[stream]
	if sl == nil {
		return nil, nil, nil
	}
	refs := sl.events()
	k := sort.Search(len(refs), func(i int) bool { return int(refs[i].pos) > v.pos })
	var marks [][]byte
	if sl.mdl == mdlID {
		marks = sl.marks[:min(len(sl.marks), k/markEvery)]
	}
	return refs[:k:k], marks, nil
}

// addMark records a stream's state after event n (a multiple of
// markEvery), when the line was not cut since the view was taken.
func (v *lineView) addMark(stream string, n int, state []byte, mdlID object.ID) {
	li := v.li
	li.mu.Lock()
	defer li.mu.Unlock()
	sl := li.streams[stream]
	if sl == nil || li.gen != v.gen || n > len(sl.events()) {
		return
	}
	if sl.mdl != mdlID {
		sl.mdl, sl.marks = mdlID, nil
	}
	if len(sl.marks) == n/markEvery-1 {
		sl.marks = append(sl.marks, state)
	}
}

// streams returns every stream with an event on the view's line.
func (v *lineView) streams() ([]string, error) {
	li := v.li
	li.mu.Lock()
	defer li.mu.Unlock()
	if li.gen != v.gen {
		return nil, errLineMoved
	}
	var out []string
	for s, sl := range li.streams {
		if refs := sl.events(); len(refs) > 0 && int(refs[0].pos) <= v.pos {
			out = append(out, s)
		}
	}
	return out, nil
}

// asOf returns the newest position whose time is at or before t
// (nanoseconds), or -1.
func (v *lineView) asOf(t int64) int {
	return sort.Search(len(v.times), func(i int) bool { return v.times[i] > t }) - 1
}

// fold returns a stream's version and state after its first n events on
// the view's line (all of them when n is 0), starting from the nearest
// mark and leaving new marks behind.
func (v *lineView) fold(ctx context.Context, rd reader, mdl *model.Model, mdlID object.ID, stream string, n uint64) (streamState, error) {
	refs, marks, err := v.streamRefs(stream, mdlID)
	if err != nil {
		return streamState{}, err
	}
	if n == 0 || n > uint64(len(refs)) {
		n = uint64(len(refs))
	}
	var st streamState
	if k := min(len(marks), int(n/markEvery)); k > 0 {
		st = streamState{version: uint64(k * markEvery), state: marks[k-1]}
	}
	f := mdl.Folder(stream, st.state)
	for st.version < n {
		eid, err := v.eventID(rd, refs[st.version], stream)
		if err != nil {
			return st, err
		}
		e, err := readEvent(rd, eid)
		if err != nil {
			return st, err
		}
		if err := f.Replay(model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta}); err != nil {
			return st, err
		}
		st.version++
		if st.version%markEvery == 0 {
			if st.state, err = f.State(); err != nil {
				return st, err
			}
			v.addMark(stream, int(st.version), st.state, mdlID)
		}
		if st.version%foldCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
	}
	st.state, err = f.State()
	return st, err
}
