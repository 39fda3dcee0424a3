package fsck

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// checkRefs checks every ref: HEAD exists and names a branch (or, detached,
// a commit); branches and tags have valid names and name commits; MODEL
// names a blob that parses as a model.
func (c *checker) checkRefs() {
	all := c.st.Refs()
	c.refs = make(map[string]refValue, len(all))
	for name, v := range all {
		c.refs[name] = refValue{id: v.ID, symbolic: v.IsSymbolic()}
	}
	if _, ok := all[refs.HEAD]; !ok {
		c.add(Problem{Kind: KindRef, Name: refs.HEAD, Message: "missing"})
	}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		v := all[name]
		c.rep.Checked.Refs++
		at := where{kind: KindRef, name: name}
		switch {
		case name == refs.HEAD && v.IsSymbolic():
			if !strings.HasPrefix(v.Symbolic, refs.HeadsPrefix) || refs.CheckRefName(v.Symbolic) != nil {
				c.bad(at, "points at %q, not a branch", v.Symbolic)
			} else if t, ok := all[v.Symbolic]; ok && t.IsSymbolic() {
				c.bad(at, "points at %s, which is symbolic itself", v.Symbolic)
			}
			// A branch that does not exist yet is unborn, not broken.
		case v.IsSymbolic():
			c.bad(at, "is symbolic (to %q); only HEAD may be", v.Symbolic)
		case name == refs.Model:
			c.checkModel(at, v.ID)
		default:
			if name != refs.HEAD {
				if err := refs.CheckRefName(name); err != nil {
					c.bad(at, "%v", err)
				}
			}
			c.link(at, "commit", v.ID, object.KindCommit)
		}
	}
}

// checkModel checks that MODEL names a blob that parses as a model.
func (c *checker) checkModel(at where, id object.ID) {
	if _, ok := c.link(at, "model", id, object.KindBlob); !ok {
		return
	}
	src, err := c.st.Blob(id)
	if err != nil {
		return // damaged: the object pass reports it
	}
	if _, err := model.Parse(src); err != nil {
		c.bad(at, "blob %s is not a valid model: %v", id.Short(), err)
	}
}

// checkReflogs checks every reflog entry still in the log: each names an
// object that exists; for branches, tags and MODEL each move starts where
// the one before ended, and the last ends where the ref is now. HEAD's
// moves are not chained: attaching and detaching it moves it without an
// entry.
func (c *checker) checkReflogs() {
	ups, err := c.st.RefUpdates()
	if err != nil {
		c.add(Problem{Kind: KindReflog, Message: err.Error()})
		return
	}
	// HEAD's own reflog (RecHeadLog): each entry names what exists. Not
	// chained: gc expires old entries from anywhere in it.
	head, err := c.st.HeadLog()
	if err != nil {
		c.add(Problem{Kind: KindReflog, Name: refs.HEAD, Message: err.Error()})
	}
	for i, u := range head {
		c.rep.Checked.ReflogEntries++
		at := where{kind: KindReflog, name: fmt.Sprintf("HEAD@{%d}", i)}
		c.exists(at, "target", u.New)
		if !u.Old.IsZero() {
			c.exists(at, "old value", u.Old)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ups)) {
		log := ups[name]
		cur, exists := c.refs[name]
		if !exists && len(log) > 0 {
			c.add(Problem{Kind: KindReflog, Name: name, Message: fmt.Sprintf("%d entries for a ref that does not exist", len(log))})
		}
		chained := name != refs.HEAD
		for i, u := range log {
			c.rep.Checked.ReflogEntries++
			at := where{kind: KindReflog, name: fmt.Sprintf("%s@{%d}", name, len(log)-1-i)}
			if name == refs.HEAD {
				// Not HEAD@{N}, which names HEAD's own reflog, above:
				// the records of a detached HEAD's moves.
				at.name = fmt.Sprintf("HEAD's move record %d", len(log)-1-i)
			}
			if u.New.IsZero() {
				c.bad(at, "moves the ref to nothing without deleting it")
			} else {
				c.exists(at, "target", u.New)
			}
			switch {
			case i > 0 && chained && u.Old != log[i-1].New:
				c.bad(at, "moves the ref from %s, but the entry before left it at %s", u.Old.Short(), log[i-1].New.Short())
			case !u.Old.IsZero() && (i == 0 || u.Old != log[i-1].New):
				c.exists(at, "old value", u.Old)
			}
		}
		if n := len(log); n > 0 && chained && exists && !cur.symbolic && cur.id != log[n-1].New {
			c.add(Problem{Kind: KindReflog, Name: name, Message: fmt.Sprintf("ends at %s, but the ref is at %s", log[n-1].New.Short(), cur.id.Short())})
		}
	}
}
