package fsck

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
)

// located is an object the store lists, with where it says it lies.
type located struct {
	loc pack.Location
	id  object.ID
}

// checkLog checks every frame's checksum and every index's trailer.
func (c *checker) checkLog(ctx context.Context) error {
	probs, err := c.st.VerifyLog(ctx)
	if err != nil {
		return err
	}
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
		c.add(pr)
	}
	return nil
}

// bucket groups object locations by segment (0: the pack) and MiB of it:
// the lists stay small, so none is copied whole as it grows, and each is
// dropped once checked.
type bucket struct{ seg, mib uint32 }

// checkObjects reads every object the store lists, in the order they lie
// in the log, so that each frame is decompressed once.
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
	c.rep.Objects = total
	done := 0
	var scratch []byte
	for _, k := range keys {
		objs := buckets[k]
		delete(buckets, k)
		slices.SortFunc(objs, func(a, b located) int {
			return cmp.Or(cmp.Compare(a.loc.Off, b.loc.Off), cmp.Compare(a.loc.Slot, b.loc.Slot))
		})
		for _, o := range objs {
			if done%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if c.opts.Progress != nil {
					c.opts.Progress(done, total)
				}
			}
			done++
			scratch = c.checkObject(o, scratch)
		}
	}
	if c.opts.Progress != nil {
		c.opts.Progress(total, total)
	}
	return nil
}

// checkObject reads one object, checking it against its ID, and checks
// it by its kind.
func (c *checker) checkObject(o located, scratch []byte) []byte {
	at := where{id: o.id, seg: o.loc.Seg, off: int64(o.loc.Off), hasLoc: true}
	kind, body, data, err := c.st.Get(o.id)
	if err != nil {
		at.kind = KindObject
		c.bad(at, "%s", strings.TrimPrefix(err.Error(), "object "+o.id.Short()+": "))
		c.damaged[o.id] = true
		return scratch
	}
	at.kind = kind.String()
	switch kind {
	case object.KindCommit:
		c.checkCommit(at, o.id, body)
	case object.KindEvent:
		scratch = c.checkEvent(at, o.id, body, data, scratch)
	case object.KindTree:
		scratch = c.checkTree(at, o.id, body, scratch)
	case object.KindBlob:
		c.rep.Checked.Blobs++
		c.remember(o.id, fact{kind: kind, n: uint64(len(body))})
	default:
		c.bad(at, "unknown kind %d", kind)
	}
	return scratch
}

// checkCommit checks a commit's encoding, its links and the invariants
// that tie it to its first parent: offset = the parent's offset + its
// events, and a time no earlier than the parent's.
func (c *checker) checkCommit(at where, id object.ID, body []byte) {
	cm, err := object.DecodeCommit(body)
	if err != nil {
		c.bad(at, "%v", err)
		return
	}
	c.rep.Checked.Commits++
	c.remember(id, fact{kind: object.KindCommit, n: cm.Offset, t: cm.Time.UnixNano()})
	c.checkEncoding(at, body, cm.AppendEncode)
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

// checkEvent checks an event's encoding and its data: it must match the
// data ID and be canonical JSON.
func (c *checker) checkEvent(at where, id object.ID, body, data, scratch []byte) []byte {
	e, err := object.DecodeEvent(body)
	if err != nil {
		c.bad(at, "%v", err)
		return scratch
	}
	c.rep.Checked.Events++
	c.remember(id, fact{kind: object.KindEvent})
	c.checkEncoding(at, body, e.AppendEncode)
	if object.Hash(object.KindBlob, data) != e.DataID {
		c.bad(at, "data does not match data ID %s", e.DataID)
		return scratch
	}
	return c.checkCanonical(at, "data", data, scratch)
}

// checkEncoding reports a body that decodes but is not the canonical
// encoding of what it decodes to (the decoders accept, for example, a
// varint with redundant continuation bytes): one value must have one ID.
func (c *checker) checkEncoding(at where, body []byte, encode func(dst []byte) []byte) {
	c.enc = encode(c.enc[:0])
	if !bytes.Equal(c.enc, body) {
		c.bad(at, "is not in canonical encoding")
	}
}

// checkCanonical reports JSON that is not in canonical form.
func (c *checker) checkCanonical(at where, what string, raw, scratch []byte) []byte {
	out, err := object.AppendCanonicalJSON(scratch[:0], raw)
	switch {
	case err != nil:
		c.bad(at, "%s is not JSON: %v", what, err)
	case !bytes.Equal(out, raw):
		c.bad(at, "%s is not canonical JSON", what)
	}
	return out
}

// checkTree checks a snapshot node: its encoding, its links, and the
// parts of the canonical split rule that do not depend on the key hash
// (still unspecified, docs/format.md §3.4): a state of at most
// InlineStateMax bytes is inline, an inner node has more than TreeLeafMax
// streams below it and counts them right.
func (c *checker) checkTree(at where, id object.ID, body, scratch []byte) []byte {
	t, err := object.DecodeTree(body)
	if err != nil {
		c.bad(at, "%v", err)
		return scratch
	}
	c.rep.Checked.Trees++
	c.remember(id, fact{kind: object.KindTree, n: treeCount(t)})
	c.checkEncoding(at, body, func(dst []byte) []byte { return append(dst, t.Encode()...) })
	if t.Leaf {
		for _, e := range t.Entries {
			if err := object.ValidateStream(e.Stream); err != nil {
				c.bad(at, "%v", err)
			}
			if e.Version == 0 {
				c.bad(at, "stream %s has version 0", e.Stream)
			}
			if e.State != nil {
				scratch = c.checkCanonical(at, "state of stream "+e.Stream, e.State, scratch)
				continue
			}
			f, ok := c.link(at, "state of stream "+e.Stream, e.StateID, object.KindBlob)
			if ok && f.n <= object.InlineStateMax {
				c.bad(at, "state of stream %s (%d bytes) is a blob; at most %d bytes belong inline", e.Stream, f.n, object.InlineStateMax)
			}
		}
		return scratch
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
	return scratch
}
