package fsck

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evgit/evgit/internal/ordered"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/store"
)

// located is an object the store lists, with where it says it lies.
type located struct {
	loc pack.Location
	id  object.ID
}

// logProblems are the problems the check of every frame's checksum and
// every index's trailer found (Store.VerifyLog), as the report gives them.
func (c *checker) logProblems(probs []store.Problem) []Problem {
	var out []Problem
	for _, p := range probs {
		kind := KindSegment
		switch {
		case strings.HasSuffix(p.File, ".pack"):
			kind = KindPack
		case strings.HasSuffix(p.File, "idx"): // .idx, .ridx, .pidx
			kind = KindIndex
		}
		if errors.Is(p.Err, fs.ErrNotExist) {
			c.rep.Vanished++
		}
		pr := Problem{Kind: kind, Name: p.File, File: p.File, Message: p.Err.Error()}
		if p.Offset >= 0 {
			pr.Offset = p.Offset
		}
		out = append(out, pr)
	}
	return out
}

// bucket groups object locations by segment (0: the pack) and MiB of it:
// the lists stay small, so none is copied whole as it grows, and each is
// dropped once checked.
type bucket struct{ seg, mib uint32 }

// checkObjects reads every object the store lists, in the order they lie
// in the log, so that each frame is decompressed once. Workers, one a
// core, read and check up to examinePiece objects each (examine);
// this goroutine checks their links in log order (settle), as the links
// of an object need what was learnt of the objects before it.
func (c *checker) checkObjects(ctx context.Context) error {
	buckets := map[bucket][]located{}
	total := 0
	if err := c.st.Objects(func(id object.ID, loc pack.Location) error {
		k := bucket{loc.Seg, loc.Off >> 20}
		buckets[k] = append(buckets[k], located{loc: loc, id: id})
		total++
		return nil
	}); err != nil {
		if !errors.Is(err, object.ErrCorrupt) {
			return err
		}
		// A damaged pack frame ends the listing of the pack's objects
		// (it is read in order to list them); check those listed, and
		// let links find the others.
		c.add(Problem{Kind: KindPack, Name: c.layout.fileOf(0), File: c.layout.fileOf(0), Message: "listing objects: " + err.Error()})
	}
	keys := slices.SortedFunc(maps.Keys(buckets), func(a, b bucket) int {
		return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.mib, b.mib))
	})
	// A worker takes a piece of a bucket, in log order: pieces of a
	// bounded number of objects, since what a worker found waits for
	// settle, and a MiB of compressed log may hold a million objects.
	var lists [][]located
	for _, k := range keys {
		objs := buckets[k]
		delete(buckets, k)
		slices.SortFunc(objs, func(a, b located) int {
			return cmp.Or(cmp.Compare(a.loc.Off, b.loc.Off), cmp.Compare(a.loc.Slot, b.loc.Slot))
		})
		lists = slices.AppendSeq(lists, slices.Chunk(objs, examinePiece))
	}
	c.rep.Objects = total
	examiners := sync.Pool{New: func() any { return &examiner{objects: c.st.NewFrameReader()} }}
	done := 0
	var stopped error
	err := ordered.Read(len(lists), 1, runtime.GOMAXPROCS(0), func(i int) ([]examined, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		objs := lists[i]
		lists[i] = nil // each list is read once, by one worker
		x := examiners.Get().(*examiner)
		defer examiners.Put(x)
		out := make([]examined, len(objs))
		for j, o := range objs {
			if j%256 == 255 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			out[j] = x.examine(o)
		}
		return out, nil
	}, func(objs []examined) bool {
		for j := range objs {
			if done%4096 == 0 {
				if stopped = ctx.Err(); stopped != nil {
					return false
				}
				if c.opts.Progress != nil {
					c.opts.Progress(done, total)
				}
			}
			done++
			c.settle(&objs[j])
		}
		return true
	})
	if err = cmp.Or(err, stopped); err != nil {
		return err
	}
	if c.opts.Progress != nil {
		c.opts.Progress(total, total)
	}
	return nil
}

// examinePiece is how many objects a worker examines at a time.
const examinePiece = 4096

// examined is what a worker learnt of one object on its own: it read it,
// checking it against its ID, decoded it, and checked its encoding and
// its JSON. Its links are checked after, by settle.
type examined struct {
	located
	kind   object.Kind
	err    error          // the object could not be read
	ok     bool           // it decoded
	probs  []localProblem // what was found wrong with it on its own, in order
	commit *object.Commit // a commit that decoded
	tree   *object.Tree   // a tree node that decoded
	size   int            // a blob's length
}

// inlineState stands for an inline state examine checked.
var inlineState = []byte{}

// localProblem is a problem an object has on its own.
type localProblem struct {
	entry int // the leaf entry it is about, or -1: the whole object
	msg   string
}

func (e *examined) bad(entry int, format string, args ...any) {
	e.probs = append(e.probs, localProblem{entry: entry, msg: fmt.Sprintf(format, args...)})
}

// examiner is one worker's reader and scratch space.
type examiner struct {
	objects *store.FrameReader
	enc     []byte // re-encodings
	json    []byte // canonical JSON
}

// examine reads one object, checking it against its ID, and checks what
// it can on its own by the object's kind.
func (x *examiner) examine(o located) examined {
	e := examined{located: o}
	kind, body, data, err := x.objects.Get(o.id, o.loc)
	if err != nil {
		e.err = err
		return e
	}
	e.kind = kind
	switch kind {
	case object.KindCommit:
		cm, err := object.DecodeCommit(body)
		if err != nil {
			e.bad(-1, "%v", err)
			return e
		}
		e.commit, e.ok = cm, true
		x.checkEncoding(&e, body, cm.AppendEncode)
	case object.KindEvent:
		ev, err := object.DecodeEvent(body)
		if err != nil {
			e.bad(-1, "%v", err)
			return e
		}
		e.ok = true
		x.checkEncoding(&e, body, ev.AppendEncode)
		if object.Hash(object.KindBlob, data) != ev.DataID {
			e.bad(-1, "data does not match data ID %s", ev.DataID)
			return e
		}
		x.checkCanonical(&e, -1, "data", data)
	case object.KindTree:
		t, err := object.DecodeTree(body)
		if err != nil {
			e.bad(-1, "%v", err)
			return e
		}
		e.tree, e.ok = t, true
		x.checkEncoding(&e, body, func(dst []byte) []byte { return append(dst, t.Encode()...) })
		if !t.Leaf {
			return e
		}
		for i, en := range t.Entries {
			if err := object.ValidateStream(en.Stream); err != nil {
				e.bad(i, "%v", err)
			}
			if en.Version == 0 {
				e.bad(i, "stream %s has version 0", en.Stream)
			}
			if en.State != nil {
				x.checkCanonical(&e, i, "state of stream "+en.Stream, en.State)
				// settle needs to know that it was inline, not its
				// bytes, which lie in the frame: held, they would
				// keep the frame in memory.
				t.Entries[i].State = inlineState
			}
		}
	case object.KindBlob:
		e.size, e.ok = len(body), true
	}
	return e
}

// checkEncoding reports a body that decodes but is not the canonical
// encoding of what it decodes to (the decoders accept, for example, a
// varint with redundant continuation bytes): one value must have one ID.
func (x *examiner) checkEncoding(e *examined, body []byte, encode func(dst []byte) []byte) {
	x.enc = encode(x.enc[:0])
	if !bytes.Equal(x.enc, body) {
		e.bad(-1, "is not in canonical encoding")
	}
}

// checkCanonical reports JSON that is not in canonical form.
func (x *examiner) checkCanonical(e *examined, entry int, what string, raw []byte) {
	out, err := object.AppendCanonicalJSON(x.json[:0], raw)
	x.json = out
	switch {
	case err != nil:
		e.bad(entry, "%s is not JSON: %v", what, err)
	case !bytes.Equal(out, raw):
		e.bad(entry, "%s is not canonical JSON", what)
	}
}

// settle reports what examine found of an object, remembers what links
// to it need, and checks its own links.
func (c *checker) settle(e *examined) {
	at := where{id: e.id, seg: e.loc.Seg, off: int64(e.loc.Off), hasLoc: true}
	if e.err != nil {
		at.kind = KindObject
		c.bad(at, "%s", strings.TrimPrefix(e.err.Error(), "object "+e.id.Short()+": "))
		c.damaged[e.id] = true
		return
	}
	at.kind = e.kind.String()
	switch e.kind {
	case object.KindCommit:
		if e.ok {
			c.rep.Checked.Commits++
			c.remember(e.id, fact{kind: object.KindCommit, n: e.commit.Offset, t: e.commit.Time.UnixNano()})
		}
		c.reportLocal(at, e, -1)
		if e.ok {
			c.checkCommit(at, e.commit)
		}
	case object.KindEvent:
		if e.ok {
			c.rep.Checked.Events++
			c.remember(e.id, fact{kind: object.KindEvent})
		}
		c.reportLocal(at, e, -1)
	case object.KindTree:
		if e.ok {
			c.rep.Checked.Trees++
			c.remember(e.id, fact{kind: object.KindTree, n: treeCount(e.tree)})
		}
		c.reportLocal(at, e, -1)
		if e.ok {
			c.checkTree(at, e)
		}
	case object.KindBlob:
		c.rep.Checked.Blobs++
		c.remember(e.id, fact{kind: object.KindBlob, n: uint64(e.size)})
	default:
		c.bad(at, "unknown kind %d", e.kind)
	}
}

// reportLocal reports the problems examine found about entry (-1: the
// whole object), which come in the order of their entries.
func (c *checker) reportLocal(at where, e *examined, entry int) {
	for len(e.probs) > 0 && e.probs[0].entry == entry {
		c.bad(at, "%s", e.probs[0].msg)
		e.probs = e.probs[1:]
	}
}

// checkCommit checks a commit's links and the invariants that tie it to
// its first parent: offset = the parent's offset + its events, and a
// time no earlier than the parent's.
func (c *checker) checkCommit(at where, cm *object.Commit) {
	for i, p := range cm.Parents {
		f, ok := c.link(at, "parent", p, object.KindCommit)
		if !ok || i > 0 {
			continue
		}
		if want := f.n + uint64(len(cm.Events)); cm.Offset != want {
			c.bad(at, "offset %d, want %d: first parent %s has offset %d and the commit %d events",
				cm.Offset, want, p.Short(), f.n, len(cm.Events))
		}
		if cm.Time.UnixNano() < f.t {
			c.bad(at, "time %s is earlier than first parent %s's %s",
				cm.Time.Format(time.RFC3339Nano), p.Short(), time.Unix(0, f.t).UTC().Format(time.RFC3339Nano))
		}
	}
	if len(cm.Parents) == 0 && cm.Offset != uint64(len(cm.Events)) {
		c.bad(at, "offset %d, want %d: a root commit counts its own events", cm.Offset, len(cm.Events))
	}
	for _, e := range cm.Events {
		c.link(at, "event", e, object.KindEvent)
	}
	for _, r := range cm.Reverts {
		// A reverted commit may be absent: an import of part of a
		// history (one branch, one stream) keeps the IDs of the commits
		// it left out. One that is here must be a commit.
		if _, ok := c.recent[r]; ok || c.st.Has(r) {
			c.link(at, "reverted commit", r, object.KindCommit)
		}
	}
}

// checkTree checks a snapshot node's links and the parts of the
// canonical split rule that do not depend on the key hash (still
// unspecified, docs/format.md §3.4): a state of at most InlineStateMax
// bytes is inline, an inner node has more than TreeLeafMax streams below
// it and counts them right. examine checked each leaf entry's name,
// version and inline state.
func (c *checker) checkTree(at where, e *examined) {
	t := e.tree
	if t.Leaf {
		for i, en := range t.Entries {
			c.reportLocal(at, e, i)
			if en.State != nil {
				continue
			}
			f, ok := c.link(at, "state of stream "+en.Stream, en.StateID, object.KindBlob)
			if ok && f.n <= object.InlineStateMax {
				c.bad(at, "state of stream %s (%d bytes) is a blob; at most %d bytes belong inline", en.Stream, f.n, object.InlineStateMax)
			}
		}
		return
	}
	var sum uint64
	complete := true
	for i, child := range t.Children {
		if child.IsZero() {
			continue
		}
		f, ok := c.link(at, "child "+string("0123456789abcdef"[i]), child, object.KindTree)
		complete = complete && ok
		sum += f.n
	}
	if complete && sum != t.Count {
		c.bad(at, "counts %d streams, its children hold %d", t.Count, sum)
	}
	if t.Count <= object.TreeLeafMax {
		c.bad(at, "inner node of %d streams; at most %d belong in a leaf", t.Count, object.TreeLeafMax)
	}
}
