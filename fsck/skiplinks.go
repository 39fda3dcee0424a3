package fsck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// A skip link record (store.Link) is derived data, but `--as-of` and
// `--since`/`--until` hop along links without reading the commits between:
// a link with a wrong time, or naming a commit off its line, gives a wrong
// answer with no error. fsck checked only that its record was in a frame
// (a helper's audit crafted both, and fsck said ok). Each link is checked
// against its commit, and the commits it names against the commit's
// first-parent line.

// skipLink is a skip link record, checked once the records are read.
type skipLink struct {
	at     where
	commit object.ID
	link   store.Link
}

// addSkipLink decodes a skip link record for checkSkipLinks.
func (c *checker) addSkipLink(at where, key, value []byte) {
	at.kind = KindLink
	if len(key) != object.IDSize {
		at.name = fmt.Sprintf("%x", key)
		c.bad(at, "key of %d bytes, want %d", len(key), object.IDSize)
		return
	}
	commit := object.ID(key)
	at.name = commit.String()
	l, err := store.DecodeLink(value)
	if err != nil {
		c.bad(at, "%v", err)
		return
	}
	if c.exists(at, "commit", commit) {
		c.skipLinks = append(c.skipLinks, skipLink{at: at, commit: commit, link: l})
	}
}

// checkSkipLinks checks each skip link: its time and offset are its
// commit's, and the linked commits it names (Prev, and the coarse Up) lie
// before it on its first-parent line. A Prev is found by walking back the
// commits between (about a hundred events' worth); an Up, thousands of
// commits back, along the Prev links found good.
func (c *checker) checkSkipLinks(ctx context.Context) error {
	good := make(map[object.ID]store.Link, len(c.skipLinks)) // a link whose Prev is on its line
	var ups []skipLink
	for _, s := range c.skipLinks {
		if err := ctx.Err(); err != nil {
			return err
		}
		step, err := c.st.ReadLineStep(s.commit, nil)
		if errors.Is(err, store.ErrNotFound) {
			c.bad(s.at, "is beside %s, which is not a commit", s.commit)
			continue
		}
		if err != nil {
			continue // the object pass reports it
		}
		cm := step.Commit
		if !s.link.Time.Equal(cm.Time) || s.link.Offset != cm.Offset {
			c.bad(s.at, "says time %s and offset %d, but its commit has time %s and offset %d",
				s.link.Time.Format(time.RFC3339Nano), s.link.Offset, cm.Time.Format(time.RFC3339Nano), cm.Offset)
			continue
		}
		if !s.link.Prev.IsZero() {
			if why := c.onLine(step, s.link.Prev); why != "" {
				c.bad(s.at, "names %s as the linked commit before it, which %s", s.link.Prev, why)
				continue
			}
		}
		good[s.commit] = s.link
		if !s.link.Up.IsZero() {
			ups = append(ups, s)
		}
	}
	for _, s := range ups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if why := c.upOnLine(s, good); why != "" {
			c.bad(s.at, "names %s as the coarse-linked commit before it, which %s", s.link.Up, why)
		}
	}
	return nil
}

// upOnLine says why a link's Up is not a commit before it on its
// first-parent line; "" when it is. It hops along Prev links found good
// while they stay above the Up commit, then walks the commits from there.
func (c *checker) upOnLine(s skipLink, good map[object.ID]store.Link) string {
	up, err := c.st.Commit(s.link.Up)
	if err != nil {
		return lineProblem(err)
	}
	at, l := s.commit, s.link
	for l.Prev != s.link.Up {
		next, ok := good[l.Prev]
		if !ok || next.Offset <= up.Offset {
			break
		}
		at, l = l.Prev, next
	}
	if l.Prev == s.link.Up {
		return ""
	}
	step, err := c.st.ReadLineStep(at, nil)
	if err != nil {
		return "" // the object pass reports it
	}
	return c.onLine(step, s.link.Up)
}

// onLine says why target is not a commit before from on from's
// first-parent line; "" when it is, or when a commit between cannot be
// read (the object pass reports that). The walk reads the line as log
// does, a frame at a time.
func (c *checker) onLine(from *store.LineStep, target object.ID) string {
	tc, err := c.st.Commit(target)
	if err != nil {
		return lineProblem(err)
	}
	if tc.Offset >= from.Commit.Offset {
		return fmt.Sprintf("has offset %d, not less than its %d", tc.Offset, from.Commit.Offset)
	}
	for step := from; ; {
		id := step.Commit.Parent()
		if id == target {
			return ""
		}
		if id.IsZero() {
			break
		}
		next, err := c.st.ReadLineStep(id, step)
		if err != nil {
			return ""
		}
		if next.Commit.Offset < tc.Offset {
			break // past it: a commit of no events (a merge) has its parent's offset
		}
		step = next
	}
	return "is not on its first-parent line"
}

// lineProblem says why a commit a link names cannot be read.
func lineProblem(err error) string {
	if errors.Is(err, store.ErrNotFound) {
		return "is missing or not a commit"
	}
	return fmt.Sprintf("cannot be read: %v", err)
}
