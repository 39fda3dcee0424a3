package evgit

import (
	"context"
	"errors"
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
		l, ok, err := usableLink(w.tx.Link(id))
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
//
// Links are derived data, and a damaged one must not give a wrong answer
// (a helper's audit crafted links that sent the walk to a wrong commit):
// a hop goes only to a smaller offset, so links cannot loop; a link that
// does not decode ends the hops; and the commit the hops land on is read,
// as the last stretch's walk reads it anyway: it must be newer than t,
// which makes every commit hopped over newer too, since times never
// decrease along a line. If it is not, or is no commit, its link lied,
// and the walk goes commit by commit from where the hops began. A link naming a commit off
// the line is not seen here; fsck finds it.
func (r *Repository) asOf(ctx context.Context, tip object.ID, t time.Time) (object.ID, error) {
	src := source{r.st}
	id := tip
	var l store.Link
	for steps := 0; ; steps++ {
		c, err := r.st.Commit(id)
		if err != nil {
			return object.ZeroID, err
		}
		if !c.Time.After(t) {
			return id, nil
		}
		var ok bool
		if l, ok, err = r.link(id); err != nil {
			return object.ZeroID, err
		} else if ok {
			break
		}
		if c.Parent().IsZero() || steps > 4*linkEvery {
			return walk.AsOf(ctx, src, id, t)
		}
		id = c.Parent()
	}
	start := id
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
			nl, ok, err := r.link(next)
			if err != nil {
				return object.ZeroID, err
			}
			if !ok || !nl.Time.After(t) || nl.Offset >= l.Offset {
				break
			}
			id, l = next, nl
		}
	}
	if id != start {
		c, err := r.st.Commit(id)
		switch {
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt):
			id = start // the links led to no commit
		case err != nil:
			return object.ZeroID, err
		case !c.Time.After(t):
			id = start
		}
	}
	return walk.AsOf(ctx, src, id, t)
}

// link returns a commit's skip link (usableLink).
func (r *Repository) link(id object.ID) (store.Link, bool, error) {
	return usableLink(r.st.Link(id))
}

// usableLink passes on what a lookup of a skip link returned, but for a
// link that does not decode, which counts as none: links are derived
// data, and a damaged one neither answers a question nor stops a commit
// (fsck reports it).
func usableLink(l store.Link, ok bool, err error) (store.Link, bool, error) {
	if errors.Is(err, ErrCorrupt) {
		return store.Link{}, false, nil
	}
	return l, ok, err
}
