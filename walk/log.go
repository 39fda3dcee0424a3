package walk

import (
	"bytes"
	"context"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/evgit/evgit/object"
)

// LogOptions selects and orders the commits Log yields, as git log's
// arguments do.
type LogOptions struct {
	Include     []object.ID // the tips to walk from (B of A..B)
	Exclude     []object.ID // commits reachable from these are left out (A of A..B)
	FirstParent bool        // follow only first parents of included commits
	Since       time.Time   // keep commits at or after this time; zero: unset
	Until       time.Time   // keep commits at or before this time; zero: unset
	Max         int         // yield at most this many commits; 0: no limit
	Stream      string      // keep commits holding an event of this stream
	Type        string      // keep commits holding an event of this type
	Reverse     bool        // yield oldest first (after Max, as git log does)

	// Skipped, when set, is called for each commit the walk passes without
	// yielding it: one a filter dropped, with the parents the walk follows
	// from it, and one on the excluded side, with nil parents. Feeding
	// these to GraphWriter.Skip keeps graph lanes joined through hidden
	// commits.
	Skipped func(id object.ID, parents []object.ID)
}

// Entry is one commit Log yields.
type Entry struct {
	ID     object.ID      // the commit's ID
	Commit *object.Commit // the commit, decoded
	// Parents are the parents the walk follows: Commit.Parents, or only the
	// first with FirstParent. GraphWriter.Next takes them.
	Parents []object.ID
	// Events are the commit's events in order, loaded only when a Stream
	// or Type filter is set; nil otherwise.
	Events []*object.Event
}

// Log yields the commits reachable from opts.Include and not from
// opts.Exclude, newest first like git log: ordered by commit time, ties
// broken by the higher Offset and then the lower ID, each commit once.
// Filters (Since, Until, Stream, Type) drop commits but not the history
// behind them, except that the walk stops at the first commit older than
// Since. Max counts yielded commits; Reverse yields the same commits oldest
// first and is the only option that collects before yielding: the newest
// 65,536 entries whole, only the IDs of older ones, which are loaded
// again as they are yielded (memory of about 32 bytes a commit beyond).
//
// The walk streams: each commit is loaded once when first reached and
// yielded as soon as it leaves the queue, so stopping the range loop stops
// the walk. An error from src ends the sequence with (Entry{}, err).
func Log(ctx context.Context, src Source, opts LogOptions) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		w := newWalker(ctx, src, opts)
		if !opts.Reverse {
			if err := w.run(func(e Entry) bool { return yield(e, nil) }); err != nil {
				yield(Entry{}, err)
			}
			return
		}
		// The newest reverseKeep entries wait whole; of older ones only
		// the ID waits, and the commit is loaded again as it is yielded,
		// so that a reversed log of a long history (an export) holds
		// 32 bytes a commit, not the commit and its events (1.9 GB for
		// a million, a helper's audit).
		var kept []Entry      // the newest, whole
		var older []object.ID // the rest, newest first
		err := w.run(func(e Entry) bool {
			if len(kept) < reverseKeep {
				kept = append(kept, e)
			} else {
				older = append(older, e.ID)
			}
			return true
		})
		if err != nil {
			yield(Entry{}, err)
			return
		}
		filter := opts.Stream != "" || opts.Type != ""
		for _, id := range slices.Backward(older) {
			if err := ctx.Err(); err != nil {
				yield(Entry{}, err)
				return
			}
			c, err := commit(ctx, src, id)
			var events []*object.Event
			if err == nil && filter {
				events, _, err = w.match(c)
			}
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(Entry{ID: id, Commit: c, Parents: w.parents(c), Events: events}, nil) {
				return
			}
		}
		for _, e := range slices.Backward(kept) {
			if err := ctx.Err(); err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// reverseKeep is how many of the newest entries a reversed log keeps
// whole while it walks; it loads the older ones again as it yields them.
var reverseKeep = 1 << 16

// node is a commit the walk has reached.
type node struct {
	id            object.ID
	c             *object.Commit
	time          int64 // c.Time in Unix nanoseconds, for quick ordering
	uninteresting bool  // reachable from an excluded commit
	queued        bool
	recorded      bool // in walker.nodes
}

// walker is one run of Log: a Git-style paint-down over a priority queue
// ordered by (time, offset, ID).
type walker struct {
	ctx   context.Context
	src   Source
	opts  LogOptions
	nodes map[object.ID]*node
	queue []*node // a binary max-heap by before
	// interesting counts the queued nodes not known to be excluded; the
	// walk ends when it reaches zero.
	interesting int
	slab        []node // nodes are allocated in blocks
}

func newWalker(ctx context.Context, src Source, opts LogOptions) *walker {
	return &walker{ctx: ctx, src: src, opts: opts, nodes: make(map[object.ID]*node)}
}

// run walks and calls emit for each commit to yield, until emit returns
// false, Max is reached or the walk ends.
func (w *walker) run(emit func(Entry) bool) error {
	for _, id := range w.opts.Exclude {
		n, _, err := w.reach(id)
		if err != nil {
			return err
		}
		w.paint(n)
	}
	for _, id := range w.opts.Include {
		n, fresh, err := w.reach(id)
		if err != nil {
			return err
		}
		if fresh {
			w.push(n)
		}
	}
	since, hasSince := ClampNano(w.opts.Since), !w.opts.Since.IsZero()
	until, hasUntil := ClampNano(w.opts.Until), !w.opts.Until.IsZero()
	filter := w.opts.Stream != "" || w.opts.Type != ""
	emitted := 0
	for w.interesting > 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		n := w.pop()
		if n.uninteresting {
			for _, p := range n.c.Parents {
				m, _, err := w.reach(p)
				if err != nil {
					return err
				}
				w.paint(m)
			}
			if w.opts.Skipped != nil {
				w.opts.Skipped(n.id, nil)
			}
			continue
		}
		if hasSince && n.time < since {
			// Everything left in the queue is at most as new, and git log
			// walks no further than the first commit older than --since.
			return nil
		}
		parents := w.parents(n.c)
		show := !hasUntil || n.time <= until
		var events []*object.Event
		if show && filter {
			var err error
			if events, show, err = w.match(n.c); err != nil {
				return err
			}
		}
		if show {
			if !emit(Entry{ID: n.id, Commit: n.c, Parents: parents, Events: events}) {
				return nil
			}
			emitted++
			if w.opts.Max > 0 && emitted >= w.opts.Max {
				return nil
			}
		} else if w.opts.Skipped != nil {
			w.opts.Skipped(n.id, parents)
		}
		if len(parents) == 1 && len(w.queue) == 0 {
			if err := w.follow(n, parents[0]); err != nil {
				return err
			}
			continue
		}
		for _, p := range parents {
			m, fresh, err := w.reach(p)
			if err != nil {
				return err
			}
			if fresh {
				w.push(m)
			}
		}
	}
	return nil
}

// parents returns the parents of c the walk follows: the first alone
// with FirstParent.
func (w *walker) parents(c *object.Commit) []object.ID {
	if w.opts.FirstParent && len(c.Parents) > 1 {
		return c.Parents[:1]
	}
	return c.Parents
}

// follow queues p, the only parent of n, when n was the only commit left
// in the queue: the walk is on a single line. Then nothing still waiting
// can reach p a second time, since every commit found from now on is an
// ancestor of p, so p needs no entry in the seen map, and n's node is
// reused for it unless the map holds n. A linear history thus walks with
// one map lookup per commit and no allocation of its own.
func (w *walker) follow(n *node, p object.ID) error {
	if _, seen := w.nodes[p]; seen {
		return nil
	}
	c, err := commit(w.ctx, w.src, p)
	if err != nil {
		return err
	}
	m := n
	if n.recorded {
		m = w.alloc()
	}
	*m = node{id: p, c: c, time: c.Time.UnixNano()}
	w.push(m)
	return nil
}

// reach returns the node of id, loading the commit the first time; fresh
// reports that it was not reached before.
func (w *walker) reach(id object.ID) (n *node, fresh bool, err error) {
	if n, ok := w.nodes[id]; ok {
		return n, false, nil
	}
	c, err := commit(w.ctx, w.src, id)
	if err != nil {
		return nil, false, err
	}
	n = w.alloc()
	*n = node{id: id, c: c, time: c.Time.UnixNano(), recorded: true}
	w.nodes[id] = n
	return n, true, nil
}

// alloc returns a node from the current block.
func (w *walker) alloc() *node {
	if len(w.slab) == 0 {
		w.slab = make([]node, 256)
	}
	n := &w.slab[0]
	w.slab = w.slab[1:]
	return n
}

// paint marks n as reachable from an excluded commit. A queued node stops
// counting as interesting; any other node is queued so that the mark
// spreads to its parents when it is popped.
func (w *walker) paint(n *node) {
	if n.uninteresting {
		return
	}
	n.uninteresting = true
	if n.queued {
		w.interesting--
		return
	}
	w.push(n)
}

// match loads c's events and reports whether one matches the Stream and
// Type filters.
func (w *walker) match(c *object.Commit) ([]*object.Event, bool, error) {
	if m, ok := w.src.(EventMatcher); ok {
		// Test the names first; load the events of matching commits only.
		found := false
		for _, id := range c.Events {
			is, err := m.EventIs(w.ctx, id, w.opts.Stream, w.opts.Type)
			if err != nil {
				return nil, false, err
			}
			if is {
				found = true
				break
			}
		}
		if !found {
			return nil, false, nil
		}
	}
	events := make([]*object.Event, 0, len(c.Events))
	ok := false
	for _, id := range c.Events {
		e, err := w.src.Event(w.ctx, id)
		if err != nil {
			return nil, false, err
		}
		events = append(events, e)
		if (w.opts.Stream == "" || e.Stream == w.opts.Stream) && (w.opts.Type == "" || e.Type == w.opts.Type) {
			ok = true
		}
	}
	return events, ok, nil
}

// before reports whether a comes out of the queue before b: newer time,
// then higher offset, then lower ID.
func before(a, b *node) bool {
	if a.time != b.time {
		return a.time > b.time
	}
	if a.c.Offset != b.c.Offset {
		return a.c.Offset > b.c.Offset
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

func (w *walker) push(n *node) {
	n.queued = true
	if !n.uninteresting {
		w.interesting++
	}
	q := append(w.queue, n)
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !before(q[i], q[parent]) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
	w.queue = q
}

func (w *walker) pop() *node {
	q := w.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = nil
	q = q[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(q) {
			break
		}
		m := l
		if r := l + 1; r < len(q) && before(q[r], q[l]) {
			m = r
		}
		if !before(q[m], q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	w.queue = q
	top.queued = false
	if !top.uninteresting {
		w.interesting--
	}
	return top
}

// ClampNano returns t in Unix nanoseconds, clamped to what an int64 holds
// (1677 to 2262): commit times lie inside, so a bound outside compares
// with them as the time itself would. UnixNano alone wraps around.
func ClampNano(t time.Time) int64 {
	switch {
	case t.Before(minNano):
		return math.MinInt64
	case t.After(maxNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minNano = time.Unix(0, math.MinInt64)
	maxNano = time.Unix(0, math.MaxInt64)
)
