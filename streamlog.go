package evgit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

// streamLogBudget is how many commits a short log of one stream walks to
// reach the line index before it walks the log instead.
const streamLogBudget = 4096

// logWalk yields what walk.Log yields for wo: from the line index when
// the log keeps one stream's commits of a line (streamLog), otherwise by
// walking.
func (r *Repository) logWalk(ctx context.Context, wo walk.LogOptions) iter.Seq2[walk.Entry, error] {
	return func(yield func(walk.Entry, error) bool) {
		done, err := r.streamLog(ctx, wo, yield)
		if err != nil {
			yield(walk.Entry{}, err)
			return
		}
		if done {
			return
		}
		for e, err := range walk.Log(ctx, source{r.st}, wo) {
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// streamLog yields the commits of a log filtered by stream from the line
// index: the stream's events on the line, newest first, and only their
// commits read, where the walk reads every commit of the line and the
// names of all its events. It does so, and reports done, when the index
// gives exactly what the walk would: one tip and nothing excluded, no
// graph to draw through the commits left out, and a line with no merge
// (or --first-parent), since the walk of a single line takes its commits
// in line order whatever their times. A log the walk may end early (-n,
// --since) takes the index only when it holds the tip's line or walking
// back to it costs at most streamLogBudget commits: otherwise building
// the index could cost far more than the walk.
func (r *Repository) streamLog(ctx context.Context, wo walk.LogOptions, yield func(walk.Entry, error) bool) (done bool, err error) {
	if wo.Stream == "" || len(wo.Include) != 1 || len(wo.Exclude) != 0 || wo.Skipped != nil {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return true, err
	}
	budget := 0
	if wo.Max > 0 || !wo.Since.IsZero() {
		budget = streamLogBudget
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
	var kept []walk.Entry // for Reverse
	n := 0
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
		if err := ctx.Err(); err != nil {
			return true, err
		}
		var parent object.ID
		if pos > 0 {
			parent = v.ids[pos-1]
		}
		e, ok, err := r.streamLogEntry(v.ids[pos], parent, wo)
		if err != nil {
			return true, err
		}
		if !ok {
			continue
		}
		if wo.Reverse {
			kept = append(kept, e)
		} else if !yield(e, nil) {
			return true, nil
		}
		if n++; wo.Max > 0 && n >= wo.Max {
			break
		}
	}
	for _, e := range slices.Backward(kept) {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if !yield(e, nil) {
			return true, nil
		}
	}
	return true, ctx.Err()
}

// streamLogEntry reads a commit holding an event of wo.Stream, whose
// first parent is parent (ZeroID for none), with its events, and reports
// whether one matches the filters.
func (r *Repository) streamLogEntry(id, parent object.ID, wo walk.LogOptions) (walk.Entry, bool, error) {
	src := source{r.st}
	c, err := r.st.CommitAfter(id, parent)
	if err != nil {
		return walk.Entry{}, false, notFound(err)
	}
	events := make([]*object.Event, len(c.Events))
	ok, held := false, false
	for i, eid := range c.Events {
		if events[i], err = src.Event(context.Background(), eid); err != nil {
			return walk.Entry{}, false, err
		}
		held = held || events[i].Stream == wo.Stream
		ok = ok || events[i].Stream == wo.Stream && (wo.Type == "" || events[i].Type == wo.Type)
	}
	if !held {
		return walk.Entry{}, false, r.derived().line.damaged(fmt.Sprintf("commit %s as holding an event of %s", id.Short(), wo.Stream))
	}
	parents := c.Parents
	if wo.FirstParent && len(parents) > 1 {
		parents = parents[:1]
	}
	return walk.Entry{ID: id, Commit: c, Parents: parents, Events: events}, ok, nil
}
