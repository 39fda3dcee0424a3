package fsck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// Options tune a check. The zero value checks everything quietly.
type Options struct {
	// Progress, when set, is called now and then while objects are
	// checked, with how many were checked and how many there are.
	Progress func(done, total int)
}

// What a Problem is about: an object kind ("commit", "event", "tree",
// "blob"), or one of these.
const (
	KindObject      = "object"      // an object that cannot be read, so its kind is unknown
	KindRef         = "ref"         // a ref's current value
	KindReflog      = "reflog"      // a reflog entry
	KindCheckpoint  = "checkpoint"  // a ref value a segment starts with
	KindSymref      = "symref"      // a symbolic ref change
	KindIdempotency = "idempotency" // an idempotency key record
	KindSnapshot    = "snapshot"    // a snapshot record
	KindKept        = "kept"        // the time gc keeps an unreachable object from
	KindLink        = "link"        // a skip link record, beside a commit
	KindSegment     = "segment"     // a segment file
	KindIndex       = "index"       // an index file: of a segment, or of a pack's objects or records
	KindPack        = "pack"        // a pack file, written by gc
	KindCache       = "cache"       // a file of derived data, such as the saved line index
)

// Problem is one thing found wrong. Its String form is the line the CLI
// prints after "error: ".
type Problem struct {
	Kind    string `json:"kind"`             // what is wrong: an object kind or one of the Kind constants
	Name    string `json:"name"`             // the object's hex ID, the ref's name or the file's name
	File    string `json:"file,omitempty"`   // the file of the log folder where it lies, when known
	Offset  int64  `json:"offset,omitempty"` // the frame's offset in File, when known
	Message string `json:"message"`          // what is wrong with it
}

// String returns the problem as one line: kind, name, what is wrong, and
// where it lies, e.g. "object 3f2a…: frame checksum mismatch (00000002.seg
// at 4096)".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Kind)
	if p.Name != "" {
		b.WriteString(" ")
		b.WriteString(p.Name)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	if p.File != "" && p.File != p.Name {
		if p.Offset > 0 {
			fmt.Fprintf(&b, " (%s at %d)", p.File, p.Offset)
		} else {
			fmt.Fprintf(&b, " (%s)", p.File)
		}
	}
	return b.String()
}

// Report is what a check found. Its JSON is what `evgit fsck --json`
// prints.
type Report struct {
	OK       bool      `json:"ok"`       // no problem found
	Objects  int       `json:"objects"`  // objects checked
	Problems []Problem `json:"problems"` // in the order found: log files, objects by location, refs, reflogs, records

	// Checked counts what was looked at, for people; not in the JSON.
	Checked Counts `json:"-"`

	// Vanished counts the files of the log folder that were listed and
	// gone when opened: a writer (a seal, an index merge, a gc) changed
	// the file set during the check, so what is reported about them may
	// not be damage. A caller runs the check again.
	Vanished int `json:"-"`
}

// Counts says how much a check looked at.
type Counts struct {
	// Commits is the number of commit objects that decoded and were checked.
	Commits int
	// Events is the number of event objects that decoded and were checked.
	Events int
	// Trees is the number of snapshot tree nodes that decoded and were
	// checked.
	Trees int
	// Blobs is the number of blob objects read.
	Blobs int
	// Refs is the number of refs checked, HEAD and MODEL included.
	Refs int
	// ReflogEntries is the number of reflog entries checked, HEAD's own
	// included.
	ReflogEntries int
	// Records is the number of records (entries other than objects) that
	// decoded and were checked, from the segments and the pack's record
	// index.
	Records int
	// Segments is the number of log segments checked.
	Segments int
	// Indexes is the number of index files checked: the segments' indexes
	// and the pack's record index.
	Indexes int
}

// Run checks the repository behind st. The error is for a check that could
// not run (the context ended, a folder could not be listed); what is found
// wrong is in the report.
func Run(ctx context.Context, st *store.Store, opts Options) (*Report, error) {
	c := &checker{st: st, opts: opts, rep: &Report{Problems: []Problem{}}, damaged: map[object.ID]bool{}, trees: map[object.ID]uint64{}}
	c.forget()
	if err := c.readLayout(); err != nil {
		return nil, err
	}
	// The log's checksums are checked beside the object pass, on a
	// goroutine of their own; what they find comes first in the report.
	type verified struct {
		probs []store.Problem
		err   error
	}
	logCheck := make(chan verified, 1)
	go func() {
		probs, err := st.VerifyLog(ctx)
		logCheck <- verified{probs, err}
	}()
	err := c.checkObjects(ctx)
	v := <-logCheck
	if err = cmp.Or(v.err, err); err != nil {
		return nil, err
	}
	// Never nil: the JSON says "problems":[] when there are none.
	c.rep.Problems = append(append([]Problem{}, c.logProblems(v.probs)...), c.rep.Problems...)
	c.checkRefs()
	c.checkReflogs()
	if err := c.checkRecords(ctx); err != nil {
		return nil, err
	}
	if err := c.checkSkipLinks(ctx); err != nil {
		return nil, err
	}
	// A damaged index can be found by two passes (its trailer by the
	// log's check, its records by the records' pass) in the same words:
	// each problem is reported once (a helper's audit saw one twice).
	seen := make(map[Problem]bool, len(c.rep.Problems))
	c.rep.Problems = slices.DeleteFunc(c.rep.Problems, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
	c.rep.OK = len(c.rep.Problems) == 0
	return c.rep, nil
}

// checker holds one run's state.
type checker struct {
	st   *store.Store
	opts Options
	rep  *Report

	// recent remembers what was learnt of the objects checked last, so
	// the links of the next ones (a commit's events and first parent lie
	// just before it in the log) need no second read. Bounded.
	recent map[object.ID]fact
	// trees remembers the stream count of every tree node checked, not
	// bounded: a snapshot's inner nodes link to nodes of every earlier
	// snapshot, all over the log, and reading those again decoded frames
	// again and again (fsck of 200 snapshots of 200,000 streams ran for
	// minutes). About 70 bytes a node in the map: 0.7 GB for 10 million.
	trees map[object.ID]uint64

	// damaged holds the objects already reported as unreadable.
	damaged map[object.ID]bool

	// refs is the ref table the refs pass read, for the reflog pass.
	refs map[string]refValue

	// skipLinks are the skip link records read, checked after all
	// records are (checkSkipLinks).
	skipLinks []skipLink

	layout layout
}

type refValue struct {
	id       object.ID
	symbolic bool
}

// fact is what links need to know of an object.
type fact struct {
	kind object.Kind
	n    uint64 // commit: offset; tree: streams below; blob: size
	t    int64  // commit: time, Unix nanoseconds
}

// recentMax bounds recent; a variable so tests can make it small.
var recentMax = 1 << 16

// treeRead, when set (by tests), is told of every tree node fetch reads
// from the store.
var treeRead func(object.ID)

func (c *checker) forget() { c.recent = make(map[object.ID]fact, 1024) }

func (c *checker) remember(id object.ID, f fact) {
	if f.kind == object.KindTree {
		c.trees[id] = f.n
		return
	}
	if len(c.recent) >= recentMax {
		c.forget()
	}
	c.recent[id] = f
}

func (c *checker) add(p Problem) { c.rep.Problems = append(c.rep.Problems, p) }

// fileProblem reports a file of the log folder that could not be opened,
// counting one that was gone (Report.Vanished).
func (c *checker) fileProblem(kind, name string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		c.rep.Vanished++
	}
	c.add(Problem{Kind: kind, Name: name, File: name, Message: err.Error()})
}

// fetch reads what links need to know of an object.
func (c *checker) fetch(id object.ID) (fact, error) {
	if f, ok := c.recent[id]; ok {
		return f, nil
	}
	if n, ok := c.trees[id]; ok {
		return fact{kind: object.KindTree, n: n}, nil
	}
	kind, body, _, err := c.st.Get(id)
	if err != nil {
		return fact{}, err
	}
	f := fact{kind: kind}
	switch kind {
	case object.KindCommit:
		cm, err := object.DecodeCommit(body)
		if err != nil {
			return fact{}, err
		}
		f.n, f.t = cm.Offset, cm.Time.UnixNano()
	case object.KindTree:
		if treeRead != nil {
			treeRead(id)
		}
		t, err := object.DecodeTree(body)
		if err != nil {
			return fact{}, err
		}
		f.n = treeCount(t)
	case object.KindBlob:
		f.n = uint64(len(body))
	}
	c.remember(id, f)
	return f, nil
}

// link checks that target exists and is a want; otherwise it reports the
// broken link on the referrer (at) and returns false. A damaged target is
// reported once: where it lies if the object pass met it, else here.
func (c *checker) link(at where, role string, target object.ID, want object.Kind) (fact, bool) {
	f, err := c.fetch(target)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.bad(at, "%s %s is missing", role, target)
	case err != nil:
		if !c.damaged[target] {
			// Not listed, or listed and read well before: say it here.
			c.damaged[target] = true
			c.bad(at, "%s %s cannot be read: %v", role, target, err)
		}
	case f.kind != want:
		c.bad(at, "%s %s is %s, not %s", role, target, f.kind.WithArticle(), want.WithArticle())
	default:
		return f, true
	}
	return fact{}, false
}

// exists checks that target is stored, without reading it: for the many
// links (reflog entries, records) whose objects the object pass checks.
func (c *checker) exists(at where, role string, target object.ID) bool {
	_, tree := c.trees[target]
	if _, ok := c.recent[target]; ok || tree || c.st.Has(target) {
		return true
	}
	c.bad(at, "%s %s is missing", role, target)
	return false
}

func treeCount(t *object.Tree) uint64 {
	if t.Leaf {
		return uint64(len(t.Entries))
	}
	return t.Count
}

// where says what a problem found is about. Its strings are made only
// when a problem is reported: the object pass makes one for each of
// millions of objects.
type where struct {
	kind   string    // the Problem's kind
	name   string    // the Problem's name, unless id is set
	id     object.ID // an object: named by its hex ID
	file   string    // the file, unless loc is set
	off    int64     // the frame's offset
	seg    uint32    // with loc: the file is this segment's, or the pack's (0)
	hasLoc bool
}

// bad reports a problem about at.
func (c *checker) bad(at where, format string, args ...any) {
	p := Problem{Kind: at.kind, Name: at.name, File: at.file, Offset: at.off, Message: fmt.Sprintf(format, args...)}
	if !at.id.IsZero() {
		p.Name = at.id.String()
	}
	if at.hasLoc {
		p.File = c.layout.fileOf(at.seg)
	}
	c.add(p)
}
