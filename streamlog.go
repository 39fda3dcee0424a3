package evgit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"

	"github.com/evgit/evgit/internal/ordered"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// A short log of one stream (-n, --since) of a line the index does not
// hold yet first tries the index within streamLogProbe commits of the
// tip, which holds a line a process indexed before a few commits landed
// on it. Otherwise it walks the log, which ends soon for a stream with
// recent events; once the walk has passed streamLogBudget commits without
// ending, the stream is rare on this line, so the rest comes from the
// index, built once for the whole line and saved for the next process
// (linecache.go). A log that would walk the whole line anyway (no -n or
// --since) builds the index at once. Variables so tests can lower them.
var (
	streamLogProbe  = 64
	streamLogBudget = 4096
)

// logWalk yields what walk.Log yields for wo: from the line index when
// the log keeps one stream's commits of a line (streamLog), otherwise by
// walking.
func (r *Repository) logWalk(ctx context.Context, wo walk.LogOptions) iter.Seq2[walk.Entry, error] {
	return func(yield func(walk.Entry, error) bool) {
		if !wo.Until.IsZero() && len(wo.Include) == 1 && len(wo.Exclude) == 0 && wo.Skipped == nil {
			// Every commit newer than --until is left out: start at the
			// newest one that is not, found along the skip links as
			// --as-of finds it, where the walk read every commit after
			// it (2 s over a million, a helper's audit). Times never
			// decrease along a first-parent line, and evgit makes no
			// merges, so the line is all the walk would pass; a history
			// with merges would need their other parents walked too.
			id, err := r.asOf(ctx, wo.Include[0], wo.Until)
			switch {
			case errors.Is(err, walk.ErrUnknownRevision):
				return // nothing at or before it
			case err != nil:
				yield(walk.Entry{}, err)
				return
			}
			wo.Include = []object.ID{id}
		}
		done, err := r.streamLog(ctx, wo, yield)
		if err != nil {
			yield(walk.Entry{}, err)
			return
		}
		if done {
			return
		}
		skip := 0
		if indexable(wo) && short(wo) {
			var over, stopped bool
			skip, over, stopped, err = r.walkWithin(ctx, wo, yield)
			if err != nil {
				yield(walk.Entry{}, err)
				return
			}
			if !over || stopped {
				return
			}
			// What the walk yielded comes first from the index too.
			if done, err = r.streamLogFrom(ctx, wo, 0, skip, yield); err != nil {
				yield(walk.Entry{}, err)
				return
			}
			if done {
				return
			}
		}
		for e, err := range walk.Log(ctx, newLogSource(r.st, wo), wo) {
			if err == nil && skip > 0 {
				skip--
				continue
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// indexable reports whether the line index can give wo's log: one
// stream's commits from one tip, nothing excluded, no graph to draw
// through the commits left out.
func indexable(wo walk.LogOptions) bool {
	return wo.Stream != "" && len(wo.Include) == 1 && len(wo.Exclude) == 0 && wo.Skipped == nil
}

// short reports whether wo's walk may end before the line does.
func short(wo walk.LogOptions) bool { return wo.Max > 0 || !wo.Since.IsZero() }

// walkWithin walks wo's log until it ends, the caller stops it (stopped),
// or it has passed streamLogBudget commits it did not yield (over); it
// reports how many entries it yielded.
func (r *Repository) walkWithin(ctx context.Context, wo walk.LogOptions, yield func(walk.Entry, error) bool) (yielded int, over, stopped bool, err error) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	passed := 0
	wo.Skipped = func(object.ID, []object.ID) {
		if passed++; passed == streamLogBudget {
			cancel(errOverBudget)
		}
	}
	for e, err := range walk.Log(wctx, newLogSource(r.st, wo), wo) {
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return yielded, false, false, ctx.Err() // the caller's, not the budget's
			case errors.Is(err, context.Canceled) && errors.Is(context.Cause(wctx), errOverBudget):
				return yielded, true, false, nil
			}
			return yielded, false, false, err
		}
		if !yield(e, nil) {
			return yielded, false, true, nil
		}
		yielded++
	}
	return yielded, false, false, nil
}

// streamLog yields the commits of a log filtered by stream from the line
// index: the stream's events on the line, newest first, and only their
// commits read, where the walk reads every commit of the line and the
// names of all its events. It does so, and reports done, when the index
// gives exactly what the walk would: an indexable log, and a line with no
// merge (or --first-parent), since the walk of a single line takes its
// commits in line order whatever their times. A short log takes the index
// only when it holds the tip's line or walking back to it costs at most
// streamLogProbe commits (logWalk says what happens otherwise).
func (r *Repository) streamLog(ctx context.Context, wo walk.LogOptions, yield func(walk.Entry, error) bool) (done bool, err error) {
	budget := 0
	if short(wo) {
		budget = streamLogProbe
	}
	return r.streamLogFrom(ctx, wo, budget, 0, yield)
}

// streamLogFrom is streamLog walking at most budget commits to the index
// (0: no limit), and leaving out the first skip entries it would yield:
// a walk yielded them already.
func (r *Repository) streamLogFrom(ctx context.Context, wo walk.LogOptions, budget, skip int, yield func(walk.Entry, error) bool) (done bool, err error) {
	if !indexable(wo) {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return true, err
	}
	var v *lineView
	var refs []eventRef
	err = r.onLineWithin(ctx, r.st, wo.Include[0], budget, func(lv *lineView) error {
		var err error
		v = lv
		refs, _, err = lv.streamRefs(wo.Stream, object.ZeroID)
		return err
	})
	if errors.Is(err, errOverBudget) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if !wo.FirstParent && !v.linear() {
		return false, nil
	}
	// The walk stops at the first commit older than Since.
	low := 0
	if !wo.Since.IsZero() {
		since := walk.ClampNano(wo.Since)
		for p := v.pos; p >= 0; p-- {
			if v.times[p] < since {
				low = p + 1
				break
			}
		}
	}
	until, hasUntil := walk.ClampNano(wo.Until), !wo.Until.IsZero()
	emit := func(e walk.Entry) bool {
		if skip > 0 {
			skip--
			return true
		}
		return yield(e, nil)
	}
	// The positions to read, newest first, then their commits read, on
	// two goroutines for a log that reads on.
	var todo []uint32
	for i := len(refs) - 1; i >= 0; {
		pos := refs[i].pos
		for i >= 0 && refs[i].pos == pos {
			i--
		}
		if int(pos) < low {
			break
		}
		if hasUntil && v.times[pos] > until {
			continue
		}
		todo = append(todo, pos)
	}
	type read struct {
		e          walk.Entry
		step       *store.LineStep
		ok, absent bool // absent: the commit holds no event of the stream
	}
	workers := 1
	if wo.Max <= 0 || wo.Max > logPrefetchAfter {
		workers = min(runtime.GOMAXPROCS(0), streamLogWorkers)
	}
	// A reversed log with no -n reads the positions oldest first and
	// yields as it reads: holding every entry of a hot stream until the
	// last was read took 0.8 GB over a million commits (a helper's
	// review). With -n the newest n are found first, then reversed.
	direct := wo.Reverse && wo.Max <= 0
	if direct {
		slices.Reverse(todo)
	}
	var kept []walk.Entry // for Reverse with -n
	n, stopped := 0, false
	var stopErr error
	frames := frameLeaver{leave: r.st.LeaveFrame}
	err = ordered.Read(len(todo), streamLogChunk, workers, func(k int) (read, error) {
		if streamLogReading != nil {
			streamLogReading(k)
		}
		if err := ctx.Err(); err != nil {
			return read{}, err
		}
		pos := todo[k]
		var parent object.ID
		if pos > 0 {
			parent = v.ids[pos-1]
		}
		e, step, ok, held, err := r.streamLogEntry(v.ids[pos], parent, wo)
		return read{e: e, step: step, ok: ok, absent: !held}, err
	}, func(rd read) bool {
		// What was read ahead is handed on only as the reads would have
		// gone on: not once the context ends or the store closes, and
		// damage acted on only when the log gets to it.
		if stopErr = ctx.Err(); stopErr == nil {
			stopErr = r.st.Readable()
		}
		if stopErr == nil && rd.absent {
			stopErr = r.derived().line.damaged(fmt.Sprintf("commit %s as holding an event of %s", rd.e.ID.Short(), wo.Stream))
		}
		if stopErr != nil {
			return false
		}
		// The log goes back through the frames in file order: the one it
		// leaves goes first from the frame cache (design.md §8, "Walking
		// a long history").
		frames.step(rd.step, nil)
		if !rd.ok {
			return true
		}
		if wo.Reverse && !direct {
			kept = append(kept, rd.e)
		} else if !emit(rd.e) {
			stopped = true
			return false
		}
		n++
		return wo.Max <= 0 || n < wo.Max
	})
	if err == nil {
		err = stopErr
	}
	if err != nil || stopped {
		return true, err
	}
	for _, e := range slices.Backward(kept) {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if !emit(e) {
			return true, nil
		}
	}
	return true, ctx.Err()
}

// streamLogWorkers bounds the goroutines a log by stream reads commits
// on, and streamLogChunk is how many each reads at a time: enough that
// handing them out costs little, few enough that a log stopped early has
// read little it does not yield.
const (
	streamLogWorkers = 4
	streamLogChunk   = 64
)

// streamLogReading, when set (by tests), is told of each read of a log
// by stream, by its place in the log.
var streamLogReading func(k int)

// streamLogEntry reads a commit the line index says holds an event of
// wo.Stream, whose first parent is parent (ZeroID for none), with its
// events, and reports whether one matches the filters, and whether one
// is of the stream at all (held: when not, the index is damaged, which
// the caller acts on once its log gets there).
func (r *Repository) streamLogEntry(id, parent object.ID, wo walk.LogOptions) (e walk.Entry, step *store.LineStep, ok, held bool, err error) {
	step, err = r.st.ReadCommitWithEvents(id, parent)
	if err != nil {
		return walk.Entry{}, nil, false, false, err
	}
	c := step.Commit
	events := make([]*object.Event, len(c.Events))
	for i, body := range step.Events {
		if events[i], err = object.DecodeEvent(body); err != nil {
			return walk.Entry{}, nil, false, false, err
		}
		events[i].Data = step.Data[i]
		held = held || events[i].Stream == wo.Stream
		ok = ok || events[i].Stream == wo.Stream && (wo.Type == "" || events[i].Type == wo.Type)
	}
	if !held {
		return walk.Entry{ID: id}, step, false, false, nil
	}
	parents := c.Parents
	if wo.FirstParent && len(parents) > 1 {
		parents = parents[:1]
	}
	return walk.Entry{ID: id, Commit: c, Parents: parents, Events: events}, step, ok, true, nil
}
