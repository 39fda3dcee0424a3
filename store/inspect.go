package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// Objects calls fn for every stored object once, with where it lies.
// Iteration order is unspecified. It holds the store's read lock, so fn
// must not write.
func (s *Store) Objects(fn func(id object.ID, loc pack.Location) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objectsLocked(fn)
}

func (s *Store) objectsLocked(fn func(id object.ID, loc pack.Location) error) error {
	return s.objectsPassing(fn, nil)
}

// objectsPassing is objectsLocked passing over the pack's damaged frames
// when damaged is set (packObjects).
func (s *Store) objectsPassing(fn func(id object.ID, loc pack.Location) error, damaged func(off int64, err error) error) error {
	mem := s.memTable()
	seen := make(map[object.ID]bool, len(mem))
	for id, loc := range mem {
		seen[id] = true
		if err := fn(id, loc); err != nil {
			return err
		}
	}
	for _, ix := range s.indexes {
		for o := range ix.Objects() {
			if seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			if err := fn(o.ID, o.Loc); err != nil {
				return err
			}
		}
	}
	if s.packData == nil {
		return nil
	}
	// A pack's index keeps only ID prefixes: read its frames in order.
	return s.packObjects(seen, fn, damaged)
}

// packObjects calls fn with each object of the pack not in seen, frame
// by frame at the offsets its index records (checked whole by then, and
// a pack is written whole: a damaged last frame is damage, never a torn
// tail). A damaged frame is an error, or, when damaged is set, reported
// to it and passed over: gc, which has read everything reachable whole
// by then, decides.
func (s *Store) packObjects(seen map[object.ID]bool, fn func(id object.ID, loc pack.Location) error, damaged func(off int64, err error) error) error {
	for _, off := range s.packIdx.FrameOffsets() {
		payload, _, err := s.packData.ReadFrame(int64(off))
		if err != nil {
			if damaged == nil || !errors.Is(err, ErrCorrupt) {
				return err
			}
			if err := damaged(int64(off), err); err != nil {
				return err
			}
			continue
		}
		if err := packFrameObjects(int64(off), payload, seen, fn); err != nil {
			return err
		}
	}
	return nil
}

// packFrameObjects calls fn with each object of a pack frame's payload
// not seen yet.
func packFrameObjects(off int64, payload []byte, seen map[object.ID]bool, fn func(id object.ID, loc pack.Location) error) error {
	entries, err := pack.ParseEntries(payload)
	if err != nil {
		return err
	}
	if entries, err = pack.ResolvePacked(entries); err != nil {
		return err
	}
	for slot, e := range entries {
		if !e.IsObject() {
			continue
		}
		id, err := e.ObjectID()
		if err != nil {
			return err
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := fn(id, pack.Location{Seg: 0, Off: uint32(off), Slot: uint32(slot)}); err != nil {
			return err
		}
	}
	return nil
}

// RefUpdates returns every ref move still in the log, oldest first per
// ref: the reflogs of every existing ref (a deletion ends a ref's reflog).
func (s *Store) RefUpdates() (map[string][]refs.Update, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.refUpdatesLocked()
}

// Problem is one thing VerifyLog found wrong.
type Problem struct {
	File   string // the file, relative to the log folder
	Offset int64  // where in it, -1 when the whole file
	Err    error  // what is wrong
}

// String returns the problem as one line: file, offset, what is wrong.
func (p Problem) String() string {
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %v", p.File, p.Err)
	}
	return fmt.Sprintf("%s at %d: %v", p.File, p.Offset, p.Err)
}

// VerifyLog checks every frame of every segment and of the pack
// (checksum, decompression, entries, no damaged tail except on the newest
// segment), every index's trailer checksum, and the pack's index against
// the pack (pack.IndexCheck), and returns what is wrong.
// That each object lies where its index says is fsck's part. Cancelling
// ctx stops it, with ctx's error and no problems.
func (s *Store) VerifyLog(ctx context.Context) ([]Problem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var probs []Problem
	frames := 0
	// stop says whether ctx was cancelled, looking every 64 frames.
	stop := func() error {
		if frames++; frames%64 == 0 {
			return ctx.Err()
		}
		return nil
	}
	nums := make([]uint32, 0, len(s.segs))
	for n := range s.segs {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for _, n := range nums {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seg := s.segs[n]
		name := segName(n)
		torn, end, err := seg.CheckPast(n == s.last, func(off int64, payload []byte) error {
			if err := stop(); err != nil {
				return err
			}
			entries, err := pack.ParseEntries(payload)
			if err == nil {
				_, err = pack.ResolvePacked(entries) // format 2 segments hold packed entries
			}
			if err != nil {
				probs = append(probs, Problem{File: name, Offset: off, Err: err})
			}
			return nil
		}, func(off, next int64, err error) {
			probs = append(probs, Problem{File: name, Offset: off, Err: fmt.Errorf("%w (%d bytes unreadable, to offset %d)", err, next-off, next)})
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			probs = append(probs, Problem{File: name, Offset: -1, Err: err})
		} else if torn > 0 && n != s.last {
			probs = append(probs, Problem{File: name, Offset: end, Err: fmt.Errorf("%w: a sealed segment ends in %d damaged bytes", ErrCorrupt, torn)})
		}
	}
	for _, ix := range s.indexes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := filepath.Base(ix.Path)
		if err := ix.Verify(); err != nil {
			probs = append(probs, Problem{File: name, Offset: -1, Err: err})
		}
	}
	if s.packData != nil {
		name := packName(s.packNum, packDataSuffix)
		idxName := filepath.Base(s.packIdx.Path)
		// The pack's index is checked against the frames as they are
		// read, until the first thing wrong with either.
		check, err := pack.NewIndexCheck(s.packIdx)
		if err != nil {
			probs = append(probs, Problem{File: idxName, Offset: -1, Err: err})
		}
		checkFailed := func(err error) {
			probs = append(probs, Problem{File: idxName, Offset: -1, Err: err})
			check = nil
		}
		torn, end, err := s.packData.CheckPast(false, func(off int64, payload []byte) error {
			if err := stop(); err != nil {
				return err
			}
			entries, err := pack.ParseEntries(payload)
			var ids []object.ID
			if err == nil {
				entries, ids, err = pack.ResolveAll(entries)
			}
			if err != nil {
				probs = append(probs, Problem{File: name, Offset: off, Err: err})
				check = nil
			} else if check != nil {
				if err := check.Frame(off, entries, ids); err != nil {
					checkFailed(err)
				}
			}
			return nil
		}, func(off, next int64, err error) {
			probs = append(probs, Problem{File: name, Offset: off, Err: fmt.Errorf("%w (%d bytes unreadable, to offset %d)", err, next-off, next)})
			check = nil // the damage is said; the index is not judged by it
		})
		if err == nil && check != nil {
			if err := check.Done(); err != nil {
				checkFailed(err)
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			probs = append(probs, Problem{File: name, Offset: -1, Err: err})
		} else if torn > 0 {
			probs = append(probs, Problem{File: name, Offset: end, Err: fmt.Errorf("%w: the pack ends in %d damaged bytes", ErrCorrupt, torn)})
		}
		if err := s.packIdx.Verify(); err != nil {
			probs = append(probs, Problem{File: filepath.Base(s.packIdx.Path), Offset: -1, Err: err})
		}
	}
	return probs, nil
}

// ViewEnd returns how far this store has read the log: its newest
// segment and the offset it read that segment to. Frames past it, or in
// newer segments, were appended by other processes since, and name
// objects this store does not see yet.
func (s *Store) ViewEnd() (last uint32, end int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, s.scanned
}

// Mark is the durable mark: the newest segment a writer synced, and how
// far, with the header of the frame that ends there when Framed.
type Mark struct {
	Seg       uint32 // the segment's number
	End       int64  // how many of its bytes were synced
	FrameSize uint32 // the stored payload size of the frame ending at End
	FrameCRC  uint32 // and its CRC, both as its header says them
	Framed    bool   // FrameSize and FrameCRC are known (a mark of session 30 on)
}

// DurableMark returns what the lock file records as synced of the newest
// segment a writer wrote: the segment's number, how many of its bytes,
// and the frame that ends there; ok is false when it records nothing that
// checks. Frames of that segment that end short of it are damage, never
// a crash's torn tail, and so is a segment where that frame does not end
// there (MarkFrameProblem).
func (s *Store) DurableMark() (m Mark, ok bool) {
	return s.lock.mark()
}

// MarkFrameProblem says what is wrong when the segment of the mark m,
// read through r, whose whole frames end at size, does not hold the
// frame m says was synced last, or returns "". A file of another copy of
// the repository, or of another repository, put in the newest
// segment's place holds other frames there (a helper's review: such a
// file, longer than the mark, was read as this repository's).
func MarkFrameProblem(r io.ReaderAt, size int64, m Mark) string {
	if !m.Framed || m.End > size || pack.FrameEndsAt(r, m.End, m.FrameSize, m.FrameCRC) {
		return ""
	}
	return fmt.Sprintf("the frame synced last (%d bytes, CRC %08x, ending at offset %d, as the lock file's mark says) is not there: the file was replaced by another copy", m.FrameSize, m.FrameCRC, m.End)
}

// FileSize is a file of the log folder and its size.
type FileSize struct {
	Name string // the file's name in the log folder
	Size int64  // its size in bytes
}

// LayoutGeneration returns the repository's layout generation (the
// first 8 bytes of its lock file): a writer advances it, under the lock,
// before it adds or removes a file of the log folder (a seal, an index
// merge, a gc) and again after it removes some. A reader that lists or
// opens those files by name, as fsck does, saw one file set throughout
// when the generation is the same before and after.
func (s *Store) LayoutGeneration() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lock.gen()
}

// Files lists the log folder's segments and indexes with their sizes.
func (s *Store) Files() ([]FileSize, error) {
	ents, err := s.fsys.ReadDir(s.logDir)
	if err != nil {
		return nil, err
	}
	var out []FileSize
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, segSuffix) && !strings.HasSuffix(n, idxSuffix) && !strings.HasPrefix(n, "pack-") || strings.HasSuffix(n, ".tmp") {
			continue // not a file of the log: a file a writer is writing
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing, by a writer holding the lock
		}
		if err != nil {
			return nil, err
		}
		out = append(out, FileSize{Name: e.Name(), Size: info.Size()})
	}
	return out, nil
}

// FrameReader reads objects in the order they lie in the log, as fsck's
// check does: it keeps the frame it read last and reads the next objects
// listed there from it, even once the frame cache has let that frame go.
// Two such readers of frames larger than half the cache's budget pushed
// each other's frames out, and decoded each again for every object (a
// helper's review: fsck nine times slower). Not for concurrent use; the
// frame it keeps stays in memory until the next frame replaces it.
type FrameReader struct {
	s   *Store
	key pack.FrameKey
	f   *pack.Frame
}

// NewFrameReader returns a reader of objects in log order.
func (s *Store) NewFrameReader() *FrameReader { return &FrameReader{s: s} }

// Get reads object id, which Objects listed at loc, as Store.Get does.
func (q *FrameReader) Get(id object.ID, loc pack.Location) (object.Kind, []byte, []byte, error) {
	s := q.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readable(); err != nil {
		return 0, nil, nil, err
	}
	if q.f != nil && q.key == (pack.FrameKey{Seg: loc.Seg, Off: loc.Off}) {
		if o, err := q.f.Object(int(loc.Slot)); err == nil && o.ID == id {
			return o.Kind, o.Body, o.Data, nil
		}
	}
	r, err := s.readAfter(id, object.ZeroID)
	if err != nil {
		return 0, nil, nil, err
	}
	q.key, q.f = pack.FrameKey{Seg: r.loc.Seg, Off: r.loc.Off}, r.f
	return r.obj.Kind, r.obj.Body, r.obj.Data, nil
}

// ApproxObjects returns about how many objects the store holds: those
// its indexes and the pack's list, and those written since, counted once
// per write (an object written twice counts twice). It reads no file.
func (s *Store) ApproxObjects() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.memOrder)
	for _, ix := range s.indexes {
		n += ix.Len()
	}
	if s.packIdx != nil {
		n += s.packIdx.Len()
	}
	return n
}
