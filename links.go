package evgit

import (
	"context"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// Skip links (store.Link) are recorded beside every commit whose events
// cross a multiple of linkEvery, and those crossing a multiple of
// linkUpEvery are coarse links too. Part of the format: readers rely on
// the spacing only for speed, never for answers.
const (
	linkEvery   = 100
	linkUpEvery = 10000
)

// crosses reports whether a commit's events cross a multiple of n.
func crosses(c *object.Commit, n uint64) bool {
	before := c.Offset - uint64(len(c.Events))
	return before/n < c.Offset/n
}

// linkState is what a branch head knows of the skip links behind it.
type linkState struct {
	last  object.ID // the newest linked commit at or before the head
	up    object.ID // the newest coarse-linked commit at or before the head
	known bool
}

// link records a commit's skip link when it crosses a link boundary.
func (w *commitWriter) link(id object.ID, c *object.Commit) error {
	if !crosses(c, linkEvery) {
		return nil
	}
	ls, err := w.linksBehind(c)
	if err != nil {
		return err
	}
	w.tx.PutLink(id, store.Link{Prev: ls.last, Up: ls.up, Time: c.Time, Offset: c.Offset})
	next := linkState{last: id, up: ls.up, known: true}
	if crosses(c, linkUpEvery) {
		next.up = id
	}
	w.hs.links = next
	return nil
}

// linksBehind returns the links behind a new commit: what the head state
// remembers, or else what a short walk back from its parent finds.
func (w *commitWriter) linksBehind(c *object.Commit) (linkState, error) {
	for h := w.hs; h != nil; h = h.base {
		if h.links.known {
			return h.links, nil
		}
	}
	id := c.Parent()
	for steps := 0; !id.IsZero() && steps < 4*linkEvery; steps++ {
		l, ok, err := w.tx.Link(id)
		if err != nil {
			return linkState{}, err
		}
		if ok {
			ls := linkState{last: id, up: l.Up, known: true}
			pc, err := readCommit(w.tx, id)
			if err != nil {
				return linkState{}, err
			}
			if crosses(pc, linkUpEvery) {
				ls.up = id
			}
			return ls, nil
		}
		pc, err := readCommit(w.tx, id)
		if err != nil {
			return linkState{}, err
		}
		id = pc.Parent()
	}
	// No link near: history from before links, or a start. The chain
	// starts here; as-of walks where links are missing.
	return linkState{known: true}, nil
}

// asOf returns the newest commit on tip's first-parent line whose time is
// at or before t: it walks back to the nearest linked commit, hops back
// along coarse and then fine links while they are still newer than t, and
// walks the last stretch commit by commit.
func (r *Repository) asOf(ctx context.Context, tip object.ID, t time.Time) (object.ID, error) {
	src := source{r.st}
	id := tip
	for steps := 0; ; steps++ {
		c, err := r.st.Commit(id)
		if err != nil {
			return object.ZeroID, err
		}
		if !c.Time.After(t) {
			return id, nil
		}
		if _, ok, err := r.st.Link(id); err != nil {
			return object.ZeroID, err
		} else if ok {
			break
		}
		if c.Parent().IsZero() || steps > 4*linkEvery {
			return walk.AsOf(ctx, src, id, t)
		}
		id = c.Parent()
	}
	l, _, err := r.st.Link(id)
	if err != nil {
		return object.ZeroID, err
	}
	for _, coarse := range []bool{true, false} {
		for {
			if err := ctx.Err(); err != nil {
				return object.ZeroID, err
			}
			next := l.Prev
			if coarse {
				next = l.Up
			}
			if next.IsZero() {
				break
			}
			nl, ok, err := r.st.Link(next)
			if err != nil {
				return object.ZeroID, err
			}
			if !ok || !nl.Time.After(t) {
				break
			}
			id, l = next, nl
		}
	}
	return walk.AsOf(ctx, src, id, t)
}
