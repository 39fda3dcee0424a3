package evgit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// source adapts the store to what walk needs.
type source struct{ st *store.Store }

func (s source) Commit(_ context.Context, id object.ID) (*object.Commit, error) {
	c, err := s.st.Commit(id)
	return c, err
}

// lineSource is a source for a walk along parents (log, revisions,
// revert's range): it remembers, for each commit read, where its first
// parent probably lies (store.LineStep), so that a walk down a line costs
// an index lookup per frame, not one per commit. The frame the walk
// leaves, when no line it follows is still in it, is left in the store's
// frame cache to go first (frameLeaver): a log of a long history does not
// push out what other reads use. With prefetch set (a log that reads on),
// as the walk goes into another frame, the store decodes the frame after
// that one on another goroutine (store.PrefetchLine), so the walk uses
// both cores. It is for one walk on one goroutine.
type lineSource struct {
	source
	warn     func(msg string) // walk.Warner, when set
	lines    lineReader
	prefetch bool
	next     map[object.ID]*store.LineStep // by the first parent of the step
	order    []object.ID                   // next's keys, oldest first, and keys since read
	frames   frameLeaver
}

// lineReader reads a walk's commits: the store, or a test's wrapper.
type lineReader interface {
	ReadLineStep(id object.ID, prev *store.LineStep) (*store.LineStep, error)
	PrefetchLine(step *store.LineStep)
	LeaveFrame(step *store.LineStep)
}

// frameLeaver tells the store of each frame a walk leaves
// (store.LeaveFrame), so that the frames of a long walk go first from the
// frame cache, or at once in a process that ends after its command
// (OpenOptions.DropScanned). A frame the walk comes back to after leaving
// it (a line that goes back and forth between frames, as objects written
// again in a later frame make it) is not left again: each return would
// decode it again. Past frameLeaverReturns such frames, the walk leaves
// none.
type frameLeaver struct {
	leave    func(*store.LineStep)
	last     *store.LineStep
	left     [8]*store.LineStep // the frames left last, a ring
	next     int
	returned []*store.LineStep // frames the walk came back to
	off      bool
}

// frameLeaverReturns bounds the frames a walk remembers coming back to.
const frameLeaverReturns = 64

// step records that the walk read step, and reports whether it lies in
// another frame than the step before; if so, that frame is left, unless
// keep (when not nil) says a line the walk follows still goes through it,
// or the walk came back to it before.
func (l *frameLeaver) step(step *store.LineStep, keep func(*store.LineStep) bool) (moved bool) {
	last := l.last
	l.last = step
	if last == nil || last.SameFrame(step) {
		return false
	}
	for i, f := range l.left {
		if f != nil && f.SameFrame(step) {
			l.left[i] = nil
			if l.returned = append(l.returned, step); len(l.returned) > frameLeaverReturns {
				l.off = true
			}
		}
	}
	if l.off || keep != nil && keep(last) || slices.ContainsFunc(l.returned, last.SameFrame) {
		return true
	}
	l.leave(last)
	l.left[l.next] = last
	l.next = (l.next + 1) % len(l.left)
	return true
}

// lineSourceHints bounds the commits a lineSource remembers: a walk's
// frontier holds one per line it follows. A hint whose parent the walk
// read already, through another child (a fork), is never used; the
// oldest go first, so such hints, which pile up one a fork, never push
// out the lines the walk is on.
const lineSourceHints = 256

func newLineSource(st *store.Store) *lineSource {
	s := &lineSource{source: source{st}, lines: st, next: map[object.ID]*store.LineStep{}}
	s.frames.leave = func(step *store.LineStep) { s.lines.LeaveFrame(step) }
	return s
}

// Warn passes what walk warns of on to the repository's OpenOptions.Warn.
func (s *lineSource) Warn(msg string) {
	if s.warn != nil {
		s.warn(msg)
	}
}

// newLogSource is the lineSource of a log: it prefetches, unless the log
// stops after a few commits (-n), where what a prefetch reads would go
// unread.
func newLogSource(st *store.Store, wo walk.LogOptions) *lineSource {
	s := newLineSource(st)
	s.prefetch = wo.Max <= 0 || wo.Max > logPrefetchAfter
	return s
}

// logPrefetchAfter is the -n past which a log prefetches.
const logPrefetchAfter = 100

// testHookLineSourceCommit, when set by a test, is told of each commit a
// lineSource reads.
var testHookLineSourceCommit func(object.ID)

func (s *lineSource) Commit(_ context.Context, id object.ID) (*object.Commit, error) {
	if testHookLineSourceCommit != nil {
		testHookLineSourceCommit(id)
	}
	prev := s.next[id]
	delete(s.next, id)
	step, err := s.lines.ReadLineStep(id, prev)
	if err != nil {
		return nil, err
	}
	if len(step.Commit.Parents) > 0 {
		s.remember(step.Commit.Parents[0], step)
	}
	// Not from the first frame: a walk that stays in it is done soon and
	// would not read what a prefetch reads.
	if s.frames.step(step, s.following) && s.prefetch {
		s.lines.PrefetchLine(step)
	}
	return step.Commit, nil
}

// remember keeps step as the hint for parent, letting the oldest hints
// go past lineSourceHints.
func (s *lineSource) remember(parent object.ID, step *store.LineStep) {
	if _, ok := s.next[parent]; !ok {
		s.order = append(s.order, parent)
	}
	s.next[parent] = step
	for len(s.next) > lineSourceHints {
		delete(s.next, s.order[0]) // perhaps read since, and gone already
		s.order = s.order[1:]
	}
	if len(s.order) > 4*lineSourceHints {
		// Mostly keys read since: keep the ones still remembered.
		kept := make([]object.ID, 0, 2*lineSourceHints)
		for _, id := range s.order {
			if _, ok := s.next[id]; ok {
				kept = append(kept, id)
			}
		}
		s.order = kept
	}
}

// following reports whether a line the walk follows still goes through
// the frame step was read from: whether a remembered step was read there.
func (s *lineSource) following(step *store.LineStep) bool {
	for _, n := range s.next {
		if n.SameFrame(step) {
			return true
		}
	}
	return false
}

func (s source) Event(_ context.Context, id object.ID) (*object.Event, error) {
	e, err := s.st.Event(id)
	return e, err
}

func (s source) EventIs(_ context.Context, id object.ID, stream, typ string) (bool, error) {
	ok, err := s.st.EventIs(id, stream, typ)
	return ok, err
}

func (s source) Ref(name string) (object.ID, bool, error) {
	id, _, ok := s.st.Resolve(name)
	return id, ok, nil
}

func (s source) Reflog(name string) ([]walk.ReflogEntry, error) {
	var log []refs.Update
	var err error
	if name == refs.HEAD {
		// HEAD's own reflog, while it ends where HEAD is. One that does
		// not was left behind by an evgit that kept none (a repository
		// written before, or moved since by such a one): HEAD@{N} then
		// reads as that evgit read it, the branch's reflog while HEAD is
		// on one.
		if log, err = s.st.HeadLog(); err != nil {
			return nil, err
		}
		if head, _, _ := s.st.Resolve(refs.HEAD); len(log) > 0 && log[0].New != head {
			log = nil
		}
		if v, ok := s.st.Ref(refs.HEAD); len(log) == 0 && ok && v.IsSymbolic() {
			name = v.Symbolic
		}
	}
	if len(log) == 0 {
		if log, err = s.st.Reflog(name); err != nil {
			return nil, err
		}
	}
	out := make([]walk.ReflogEntry, len(log))
	for i, u := range log {
		out[i] = walk.ReflogEntry{Old: u.Old, New: u.New, Time: u.Time, Actor: u.Actor, Message: u.Message}
	}
	return out, nil
}

// CurrentBranch returns the full name of the branch HEAD is on; ok is
// false when HEAD is detached (walk: a bare @{N}).
func (s source) CurrentBranch() (string, bool) {
	v, ok := s.st.Ref(refs.HEAD)
	return v.Symbolic, ok && v.IsSymbolic()
}

func (s source) Lookup(prefix string) ([]object.ID, error) {
	// Every object with the prefix, then the commits: a limit taken
	// before the kinds are known could leave out a commit behind other
	// objects (a short prefix in a large repository matches hundreds).
	var out []object.ID
	for _, id := range s.st.Prefix(prefix, 0) {
		if kind, _, _, err := s.st.Get(id); err == nil && kind == object.KindCommit {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		// Nothing matches: a damaged index may be why.
		if err := s.st.CheckIndexes(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Resolve turns a revision (SPEC §3: hex, branch, tag, HEAD, X~N, X^N,
// X@{N}) into a commit ID. An empty rev means HEAD, as it does wherever
// the library takes a revision (the command line refuses a revision
// given empty, as Git does).
func (r *Repository) Resolve(ctx context.Context, rev string) (object.ID, error) {
	if err := ctx.Err(); err != nil {
		return object.ZeroID, err
	}
	if rev == "" {
		rev = refs.HEAD
	}
	if err := r.refresh(); err != nil {
		return object.ZeroID, err
	}
	src := newLineSource(r.st)
	src.warn = r.warn
	return walk.Resolve(ctx, src, rev)
}

// ResolveAsOf resolves rev and then takes the newest commit on its
// first-parent line whose time is at or before t.
func (r *Repository) ResolveAsOf(ctx context.Context, rev string, t time.Time) (object.ID, error) {
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return id, err
	}
	return r.CommitAsOf(ctx, id, t)
}

// LogOptions select commits for Log, as git log's arguments do. The
// zero value is every commit reachable from HEAD, newest first.
type LogOptions struct {
	Range string // a revision or A..B; empty means HEAD
	Max   int    // yield at most this many commits; 0 (or less): no limit
	// Stream and Type keep the commits holding an event of the stream
	// and of the type; both given, one event must be both.
	Stream string
	Type   string    // see Stream; empty: any type
	Since  time.Time // keep commits at or after this time; zero: unset
	Until  time.Time // keep commits at or before this time; zero: unset
	// Reverse yields the same commits oldest first: Max picks the newest
	// Max, then they are reversed, as git log does.
	Reverse     bool
	FirstParent bool // follow only first parents
	// Versions fills each event's stream version (costs a fold per stream
	// met); without it Version is 0.
	Versions bool
}

// CommitInfo is a commit as log and show print it; its JSON is one line
// of `evgit log --json`.
type CommitInfo struct {
	ID      object.ID   `json:"commit"`            // the commit's ID
	Parents []object.ID `json:"parents"`           // first parent first; empty, not null, for a root commit
	Time    time.Time   `json:"time"`              // the commit time, never earlier than its first parent's
	Actor   string      `json:"actor"`             // the commit's actor; empty: none
	Message string      `json:"message"`           // the commit message
	Offset  uint64      `json:"offset"`            // events on the first-parent line up to and including this commit
	Reverts []object.ID `json:"reverts,omitempty"` // the commits this one compensates
	Events  []EventInfo `json:"events"`            // the commit's events, in commit order
	// IdempotencyKey is not part of the log JSON of SPEC §3; export uses it.
	IdempotencyKey string `json:"-"`
}

// EventInfo is an event as log and show print it.
type EventInfo struct {
	// ID is the event's content address (docs/format.md): two events
	// with the same stream, type, schema, meta and data have one ID,
	// in one commit or in two. An occurrence is the commit and the
	// event's place in it, or the stream and its Version.
	ID     object.ID `json:"id"`
	Stream string    `json:"stream"` // the stream the event belongs to
	Type   string    `json:"type"`   // the event's type
	Schema int       `json:"schema"` // the schema version the event was written in, before any upcast
	// Version is the stream's version after the event: filled by Show,
	// and by Log with LogOptions.Versions; 0 (left out of the JSON)
	// otherwise.
	Version uint64            `json:"version,omitempty"`
	Data    json.RawMessage   `json:"data"` // the data as stored: canonical JSON, not upcast
	Meta    map[string]string `json:"meta"` // the stored meta: the commit's time and actor filled in where the event gave none
}

// Log yields commits newest first, like git log. A branch with no
// commit yet (HEAD on an unborn branch) yields one error matching
// ErrNotFound, not an empty sequence.
func (r *Repository) Log(ctx context.Context, opts LogOptions) iter.Seq2[*CommitInfo, error] {
	return func(yield func(*CommitInfo, error) bool) {
		wo, err := r.logOptions(ctx, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		vs := r.newVersioner(ctx, opts.Versions)
		if vs != nil && (opts.Stream != "" || opts.Type != "") && opts.Max == 0 {
			// A filtered log walks the whole line but yields commits
			// apart: no version is handed down from one to the next, so
			// each would be a lookup. Index the line at the first.
			vs.eager = true
		}
		for e, err := range r.logWalk(ctx, wo) {
			if err != nil {
				yield(nil, err)
				return
			}
			info, err := r.info(e.ID, e.Commit, e.Events, vs)
			if !yield(info, err) || err != nil {
				return
			}
		}
	}
}

// LogEntries yields the walk's entries, for callers that draw graphs;
// skipped, when not nil, is told of each commit the walk passes without
// yielding it (walk.LogOptions.Skipped), which a graph needs to keep its
// lanes joined. Unlike Log's, an entry is the walk's and the store's:
// its commit and parents steer the walk after the loop body returns,
// and its events' data lies in the frame cache, so read them, never
// change them (copy what you change); Log, Show, Events and the state
// calls return copies.
func (r *Repository) LogEntries(ctx context.Context, opts LogOptions, skipped func(object.ID, []object.ID)) iter.Seq2[walk.Entry, error] {
	return func(yield func(walk.Entry, error) bool) {
		wo, err := r.logOptions(ctx, opts)
		if err != nil {
			yield(walk.Entry{}, err)
			return
		}
		wo.Skipped = skipped
		for e, err := range r.logWalk(ctx, wo) {
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

func (r *Repository) logOptions(ctx context.Context, opts LogOptions) (walk.LogOptions, error) {
	wo := walk.LogOptions{Max: opts.Max, Stream: opts.Stream, Type: opts.Type, Since: opts.Since, Until: opts.Until, Reverse: opts.Reverse, FirstParent: opts.FirstParent}
	// A filter no event can match is a mistake, not an empty log.
	if opts.Stream != "" {
		if err := object.ValidateStream(opts.Stream); err != nil {
			return wo, invalidf("stream filter: %v", err)
		}
	}
	if opts.Type != "" {
		if err := object.ValidateType(opts.Type); err != nil {
			return wo, invalidf("type filter: %v", err)
		}
	}
	spec := opts.Range
	if spec == "" {
		spec = refs.HEAD
	}
	from, to, isRange := walk.ParseRange(spec)
	if isRange {
		a, err := r.Resolve(ctx, from)
		if err != nil {
			return wo, err
		}
		b, err := r.Resolve(ctx, to)
		if err != nil {
			return wo, err
		}
		wo.Include, wo.Exclude = []object.ID{b}, []object.ID{a}
		return wo, nil
	}
	id, err := r.Resolve(ctx, spec)
	if err != nil {
		if spec == refs.HEAD && errors.Is(err, walk.ErrUnknownRevision) {
			if _, target, _ := r.st.Resolve(refs.HEAD); target != "" {
				return wo, notFoundf("your current branch '%s' does not have any commits yet", shortBranch(target))
			}
		}
		return wo, err
	}
	wo.Include = []object.ID{id}
	return wo, nil
}

// Show returns one commit with its events; an empty rev means HEAD.
func (r *Repository) Show(ctx context.Context, rev string) (*CommitInfo, error) {
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, err
	}
	c, err := r.st.Commit(id)
	if err != nil {
		return nil, err
	}
	return r.info(id, c, nil, r.newVersioner(ctx, true))
}

func (r *Repository) info(id object.ID, c *object.Commit, events []*object.Event, vs *versioner) (*CommitInfo, error) {
	// The lists are copies: the walk yielding this commit reads its
	// parents after the caller's loop body ran (a helper's review: a
	// body that changed them steered the log).
	info := &CommitInfo{ID: id, Parents: nonNil(slices.Clone(c.Parents)), Time: c.Time, Actor: c.Actor, Message: c.Message, Offset: c.Offset, Reverts: slices.Clone(c.Reverts), IdempotencyKey: c.IdempotencyKey}
	info.Events = make([]EventInfo, len(c.Events))
	counts := map[string]uint64{}
	for i, eid := range c.Events {
		var e *object.Event
		if events != nil {
			e = events[i]
		} else {
			var err error
			if e, err = r.st.Event(eid); err != nil {
				return nil, err
			}
		}
		counts[e.Stream]++
		// The data is copied out of the frame cache: a caller changing
		// it changed every later read, and the next snapshot (a
		// helper's audit). The meta is decoded afresh.
		info.Events[i] = EventInfo{ID: eid, Stream: e.Stream, Type: e.Type, Schema: e.Schema, Data: bytes.Clone(e.Data), Meta: e.Meta}
		if info.Events[i].Meta == nil {
			info.Events[i].Meta = map[string]string{}
		}
	}
	if vs != nil {
		base, err := vs.before(id, c, counts)
		if err != nil {
			return nil, err
		}
		seen := make(map[string]uint64, len(counts))
		for i := range info.Events {
			ev := &info.Events[i]
			seen[ev.Stream]++
			ev.Version = base[ev.Stream] + seen[ev.Stream]
		}
	}
	return info, nil
}

// versioner finds the version of streams before commits. What it learns
// at a commit it hands down to the commit's first parent, where a stream's
// version is the one before the commit, so a walk down a first-parent line
// looks up each stream once, where it first meets it. A lookup walks back
// to a snapshot; once a walk has made more lookups than its line is worth
// (versionerLookups), it takes the line index instead, where a version is a
// binary search: a log of a long history then costs one walk of it. A
// saved line index is read sooner (versionerLoadAfter).
type versioner struct {
	ctx    context.Context // stops a line index's build
	r      *Repository
	known  map[object.ID]map[string]uint64 // commit → stream → version after it
	misses int
	eager  bool // take the line index at the first lookup
	// triedSaved says the saved line index was read: once, as soon as
	// misses reaches versionerLoadAfter, which shrinks with the offset as
	// a walk goes down, so misses may pass it without meeting it.
	triedSaved bool
}

// versionerLookups is how many lookups a versioner makes, walking back
// to a snapshot, before it builds the line index of a line of offset
// events: a lookup costs about what indexing 100 to 200 commits does
// (0.5 ms against 6 µs a commit on the 1M-event banking repository), so
// the index pays once the lookups are more than 1/256 of the line, and a
// short log (-n 100) of a long line never builds it.
func versionerLookups(offset uint64) int {
	return max(16, int(min(offset/256, 1<<30)))
}

// versionerLoadAfter is how many lookups a versioner makes before it
// reads the saved line index, if there is one: reading it costs about
// what 30 lookups do on 100,000 commits (4 MB), 300 on a million (39 MB;
// a review found a show of 40 streams 0.06 s → 0.35 s when it was read at
// 32 there), more than a short log (-n 10) or a show makes.
func versionerLoadAfter(offset uint64) int {
	return max(32, int(min(offset/4096, 1<<30)))
}

func (r *Repository) newVersioner(ctx context.Context, on bool) *versioner {
	if !on {
		return nil
	}
	return &versioner{ctx: ctx, r: r, known: map[object.ID]map[string]uint64{}}
}

// before returns the versions, before commit c (id), of the streams it
// holds in[stream] events of. The map it returns becomes what the
// versioner knows after c's first parent: the caller only reads it, and
// before the next call.
func (v *versioner) before(id object.ID, c *object.Commit, in map[string]uint64) (map[string]uint64, error) {
	after := v.known[id]
	delete(v.known, id)
	if after == nil {
		after = make(map[string]uint64, len(in))
	}
	if !v.eager {
		// Each stream loaded reads this commit's events at least: a
		// large commit of many streams not known yet costs their number
		// times its size that way, more than indexing its line once
		// (a helper's audit: log --json of one commit of 320,000 events
		// over 1,000 streams took 6–14 s, of 1M no output in 12 min).
		missing := 0
		for stream := range in {
			if _, ok := after[stream]; !ok {
				missing++
			}
		}
		v.eager = missing > 16 && uint64(missing)*uint64(len(c.Events)) > c.Offset
	}
	for stream, n := range in {
		a, ok := after[stream]
		if !ok {
			var err error
			v.misses++
			if !v.triedSaved && v.misses >= versionerLoadAfter(c.Offset) {
				v.triedSaved = true
				// A saved line index answers versions on its line
				// as counts: read it once there is a log's worth of
				// lookups to spare (a third of a long log's time was
				// lookups before it was read).
				v.r.derived().line.load(v.r.st)
			}
			if a, err = v.r.streamVersion(v.ctx, id, c, stream, v.eager || v.misses > versionerLookups(c.Offset)); err != nil {
				return nil, err
			}
		}
		if a < n {
			return nil, fmt.Errorf("%w: stream %s has fewer events than commit %s holds", ErrCorrupt, stream, id.Short())
		}
		after[stream] = a - n
	}
	p := c.Parent()
	if p.IsZero() {
		return after, nil
	}
	// Another child may have reached p first (a branch forks there): both
	// maps hold versions after p, so they agree where they meet.
	if m, ok := v.known[p]; ok {
		if len(m) < len(after) {
			m, after = after, m
		}
		maps.Copy(m, after)
		v.known[p] = m
		return m, nil
	}
	v.known[p] = after
	return after, nil
}

// streamVersion returns how many events a stream has at a commit: by
// counting its events in the line index (built when useIndex is set), or
// by loading the stream.
func (r *Repository) streamVersion(ctx context.Context, id object.ID, c *object.Commit, stream string, useIndex bool) (uint64, error) {
	li := &r.derived().line
	if v, ok := li.covers(id, c.Offset); ok || useIndex {
		var n uint64
		count := func(v *lineView) error {
			refs, _, err := v.streamRefs(stream, object.ZeroID)
			n = uint64(len(refs))
			return err
		}
		if ok && count(v) == nil {
			return n, nil
		}
		return n, r.onLine(ctx, r.st, id, count)
	}
	if versionLoaded != nil {
		versionLoaded()
	}
	st, err := r.streamAt(id, stream)
	if errors.Is(err, ErrRule) {
		// A version is a count: a commit the current model cannot fold
		// (one only a tag keeps, which model set does not check) still
		// has one.
		return r.streamVersion(ctx, id, c, stream, true)
	}
	return st.Version, err
}

// versionLoaded, when set (by tests), is told of each version found by
// loading the stream, not by counting in the line index.
var versionLoaded func()

// StreamState is a stream's state at a revision; its JSON is what
// `show REV:STREAM --json` prints.
type StreamState struct {
	Stream  string          `json:"stream"`  // the stream's name
	Version uint64          `json:"version"` // the stream's events folded into State; 0: no event yet
	State   json.RawMessage `json:"state"`   // the stream's state, canonical JSON; nil when Version is 0
	// Commit is the commit the revision led to (after --as-of): with a
	// Version asked for, the commit it was looked for at, not the one
	// that holds the stream's Version-th event.
	Commit object.ID `json:"-"`
}

// StreamAt returns a stream's version and state at a commit: version 0
// and a nil state when the stream has no event there (and at ZeroID,
// before any commit). It starts from the nearest snapshot of the current
// model at or below the commit. A name no stream can have is an error
// matching ErrInvalid.
func (r *Repository) StreamAt(ctx context.Context, id object.ID, stream string) (StreamState, error) {
	if err := ctx.Err(); err != nil {
		return StreamState{}, err
	}
	if err := object.ValidateStream(stream); err != nil {
		return StreamState{}, invalidf("%v", err)
	}
	st, err := r.streamAt(id, stream)
	st.State = bytes.Clone(st.State) // the caller's, not the caches'
	return st, err
}

// streamAt is StreamAt without a context, for callers inside a call.
func (r *Repository) streamAt(id object.ID, stream string) (StreamState, error) {
	mdl, mdlID, err := r.model()
	if err != nil {
		return StreamState{}, err
	}
	st, err := newLoader(r, r.st, mdl, mdlID).load(id, stream, 0)
	if err != nil {
		return StreamState{}, err
	}
	return StreamState{Stream: stream, Version: st.version, State: st.state, Commit: id}, nil
}
