package fsck

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// checkRecords reads the records of every segment (the store offers no
// iterator over them) and of the pack, and checks what they name:
// snapshot records name a commit, a model blob and a tree that exist;
// idempotency records a commit; ref moves, checkpoints and symref changes
// decode; skip links decode and name a commit (checkSkipLinks does the
// rest). It also finds what the log check cannot tell from a crash: a
// torn frame at the end of a segment that is not the newest, and a sealed
// segment that lost frames its index holds records of.

// importStartKey begins the idempotency key an import records at the
// first commit of each run of commits it writes (package evgit,
// startKey; docs/format.md §6.4): its value names the run's last commit,
// then the first it added.
const importStartKey = "\x00import-start\x00"

// importFirstKey begins the key an import records beside importStartKey
// (package evgit, firstKey), with the same value.
const importFirstKey = "\x00import-first\x00"

func (c *checker) checkRecords(ctx context.Context) error {
	logDir := filepath.Join(c.st.Dir(), "log")
	segs := c.layout.segs
	records := map[uint32]int{}     // records per segment
	incomplete := map[uint32]bool{} // segments not read to their end
	// Records another process appended after the store read the log
	// name objects the store does not see yet: they are checked against
	// the store's view, so they are left for the next fsck.
	viewSeg, viewEnd := c.st.ViewEnd()
	// Read before the segments: it claims only frames synced before they
	// are read, whatever another process appends meanwhile.
	mark, marked := c.st.DurableMark()
	for i, n := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > viewSeg {
			break
		}
		c.rep.Checked.Segments++
		name := segName(n)
		seg, err := pack.OpenSegment(pack.OS, filepath.Join(logDir, name), n, false)
		if err != nil {
			c.fileProblem(KindSegment, name, err)
			continue
		}
		torn, err := seg.Scan(0, true, func(off int64, payload []byte) error {
			if n == viewSeg && off >= viewEnd {
				incomplete[n] = true
				return nil
			}
			entries, err := pack.ParseEntries(payload)
			if err != nil {
				incomplete[n] = true // the log check reports it
				return nil
			}
			for _, e := range entries {
				if e.IsObject() {
					continue
				}
				records[n]++
				key, value, err := e.Record()
				if err != nil {
					c.add(Problem{Kind: KindSegment, Name: name, File: name, Offset: off, Message: err.Error()})
					continue
				}
				if e.Kind == store.RecSegment {
					if why := store.SegmentRecordProblem(n, value); why != "" {
						c.add(Problem{Kind: KindSegment, Name: name, File: name, Offset: off, Message: why})
					}
				}
				c.checkRecord(where{file: name, off: off}, e.Kind, key, value)
			}
			return nil
		})
		if err != nil || torn > 0 {
			incomplete[n] = true // the log check reports it; records were not all counted
		}
		if err == nil && marked && n == mark.Seg && i == len(segs)-1 {
			if seg.Size() < mark.End {
				c.add(Problem{Kind: KindSegment, Name: name, File: name, Offset: seg.Size(),
					Message: fmt.Sprintf("its whole frames end at offset %d, but %d bytes of it were synced (the lock file's mark): damaged or cut short", seg.Size(), mark.End)})
			} else if why := store.MarkFrameProblem(seg.ReaderAt(), seg.Size(), mark); why != "" {
				c.add(Problem{Kind: KindSegment, Name: name, File: name, Offset: mark.End, Message: why})
			}
		}
		if err == nil && torn > 0 && i < len(segs)-1 {
			c.add(Problem{Kind: KindSegment, Name: name, File: name, Offset: seg.Size(),
				Message: fmt.Sprintf("ends in %d bytes of a torn frame, but it is not the newest segment", torn)})
		}
		seg.Close()
	}
	for _, name := range c.layout.idxs {
		c.checkIndexRecords(filepath.Join(logDir, name), name, records, incomplete)
	}
	if c.layout.packNum > 0 {
		// A pack is written whole and never appended to: a torn frame at
		// its end is damage (the log check takes it for a crash's).
		name := c.layout.packFile(".pack")
		if p, err := pack.OpenSegment(pack.OS, filepath.Join(logDir, name), 0, false); err == nil {
			if torn, err := p.Scan(0, true, func(int64, []byte) error { return nil }); err == nil && torn > 0 {
				c.add(Problem{Kind: KindPack, Name: name, File: name, Offset: p.Size(), Message: fmt.Sprintf("ends in %d bytes of a torn frame", torn)})
			}
			p.Close()
		}
		name = c.layout.packFile(".ridx")
		ix, err := pack.OpenIndex(pack.OS, filepath.Join(logDir, name))
		if err != nil {
			c.fileProblem(KindIndex, name, err)
			return nil
		}
		defer ix.Close()
		c.rep.Checked.Indexes++
		for r, err := range ix.AllRecords() {
			if err != nil {
				c.add(Problem{Kind: KindIndex, Name: name, File: name, Message: err.Error()})
				break
			}
			c.checkRecord(where{file: name}, r.Kind, r.Key, r.Value)
		}
	}
	return nil
}

// checkIndexRecords compares the records an index holds with those its
// segments hold: a sealed segment that lost whole frames at its end still
// reads cleanly, but its index remembers their records.
func (c *checker) checkIndexRecords(path, name string, records map[uint32]int, incomplete map[uint32]bool) {
	ix, err := pack.OpenIndex(pack.OS, path)
	if err != nil {
		c.fileProblem(KindIndex, name, err)
		return
	}
	defer ix.Close()
	if len(ix.Segments()) == 0 || slices.Max(ix.Segments()) <= c.layout.packNum {
		return // replaced by the pack; the store ignores it
	}
	c.rep.Checked.Indexes++
	held := 0
	for _, n := range ix.Segments() {
		if !slices.Contains(c.layout.segs, n) {
			c.add(Problem{Kind: KindIndex, Name: name, File: name, Message: fmt.Sprintf("covers segment %d, which is missing", n)})
			return
		}
		if incomplete[n] {
			return
		}
		held += records[n]
	}
	listed := 0
	for _, err := range ix.AllRecords() {
		if err != nil {
			c.add(Problem{Kind: KindIndex, Name: name, File: name, Message: err.Error()})
			return
		}
		listed++
	}
	if listed != held {
		c.add(Problem{Kind: KindIndex, Name: name, File: name, Message: fmt.Sprintf("lists %d records, but its segments hold %d", listed, held)})
	}
}

// checkRecord checks one record of a frame or of the pack.
func (c *checker) checkRecord(at where, kind uint8, key, value []byte) {
	c.rep.Checked.Records++
	switch kind {
	case store.RecRef:
		at.kind, at.name = KindReflog, string(key)
		if _, err := refs.DecodeUpdate(string(key), value); err != nil {
			c.bad(at, "%v", err)
		}
	case store.RecHeadLog:
		at.kind, at.name = KindReflog, string(key)
		if string(key) != refs.HEAD {
			c.bad(at, "an entry of HEAD's reflog keyed %q", key)
		} else if _, err := refs.DecodeUpdate(refs.HEAD, value); err != nil {
			c.bad(at, "%v", err)
		}
	case store.RecCheckpoint:
		at.kind, at.name = KindCheckpoint, string(key)
		if _, err := refs.DecodeValue(value); err != nil {
			c.bad(at, "%v", err)
		}
	case store.RecSymref:
		at.kind, at.name = KindSymref, string(key)
		if len(value) > 0 && refs.CheckRefName(string(value)) != nil {
			c.bad(at, "points at an invalid ref name %q", value)
		}
	case store.RecIdem:
		at.kind = KindIdempotency
		branch, k, ok := bytes.Cut(key, []byte{0})
		at.name = fmt.Sprintf("%s %q", branch, k)
		if len(branch) == 0 {
			at.name = fmt.Sprintf("%q", k) // a key on any branch
		}
		switch {
		case !ok:
			c.bad(at, "key has no branch")
		case len(value) != 2*object.IDSize:
			c.bad(at, "value of %d bytes, want %d", len(value), 2*object.IDSize)
		case bytes.HasPrefix(k, []byte(importStartKey)) || bytes.HasPrefix(k, []byte(importFirstKey)):
			// An import's keys at the first commit of a run name the
			// run's last commit, then its first where other keys hold a
			// digest; gc keeps them while the first is there, the last
			// gone with a branch moved back into the run.
			c.exists(at, "commit", object.ID(value[object.IDSize:]))
		default:
			c.exists(at, "commit", object.ID(value[:object.IDSize]))
		}
	case store.RecKept:
		at.kind, at.name = KindKept, fmt.Sprintf("%x", key)
		_, n := binary.Varint(value)
		switch {
		case len(key) != object.IDSize:
			c.bad(at, "key of %d bytes, want %d", len(key), object.IDSize)
		case n <= 0 || n != len(value):
			c.bad(at, "value is not one varint")
		default:
			c.exists(at, "object", object.ID(key))
		}
	case store.RecLink:
		c.addSkipLink(at, key, value)
	case store.RecSnapshot:
		at.kind = KindSnapshot
		if len(key) != 2*object.IDSize || len(value) != object.IDSize {
			at.name = fmt.Sprintf("%x", key)
			c.bad(at, "key of %d bytes and value of %d, want %d and %d", len(key), len(value), 2*object.IDSize, object.IDSize)
			return
		}
		commit, mdl := object.ID(key[:object.IDSize]), object.ID(key[object.IDSize:])
		at.name = commit.String()
		c.exists(at, "commit", commit)
		if !mdl.IsZero() { // ZeroID: folded without a model
			c.exists(at, "model", mdl)
		}
		c.link(at, "tree", object.ID(value), object.KindTree)
	}
}
