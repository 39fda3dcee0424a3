package store

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// maybeSeal seals the newest segment once it is large enough: its index
// is written whole and durably, then a new segment starts with a
// checkpoint of every ref. A crash between the two leaves a sealed newest
// segment, which the next writer handles by starting the new segment.
func (s *Store) maybeSeal() error {
	seg := s.segs[s.last]
	if len(s.mem) < s.opts.SealObjects && seg.Size() < s.opts.SealBytes {
		return nil
	}
	return s.seal()
}

// Seal seals the newest segment now if it holds at least min objects,
// so that opening the repository reads its index instead of scanning it
// (an import calls it when it ends). It reports whether it sealed.
func (s *Store) Seal(min int) (bool, error) {
	unlock, err := s.lockFresh()
	if err != nil {
		return false, err
	}
	defer unlock()
	if s.covered[s.last] {
		if err := s.resumeSeal(); err != nil {
			return false, err
		}
	}
	if len(s.mem) < max(min, 1) {
		return false, nil
	}
	if err := s.seal(); err != nil {
		s.broken = fmt.Errorf("%w: sealing: %v", ErrBroken, err)
		return false, err
	}
	return true, nil
}

// lockFresh takes the cross-process lock and s.mu, and catches up with
// what other processes wrote; unlock releases both.
func (s *Store) lockFresh() (unlock func(), err error) {
	if err := s.lock.lock(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	unlock = func() {
		s.mu.Unlock()
		s.lock.unlock()
	}
	if err := s.refresh(true); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// startSegment writes segment n whole, holding a checkpoint of every ref.
func (s *Store) startSegment(n uint32) error {
	if s.exists(segName(n)) {
		return fmt.Errorf("%w: segment %d exists already", ErrCorrupt, n)
	}
	var p pack.Payload
	for name, v := range s.refs.All() {
		p.AddRecord(RecCheckpoint, []byte(name), refs.EncodeValue(v))
	}
	return pack.WriteSegment(s.fsys, filepath.Join(s.logDir, segName(n)), pack.AppendFrame(nil, p.Bytes(), false))
}

// resumeSeal finishes a seal that a crash interrupted after the newest
// segment's index was written but before the next segment was: the
// newest segment is covered, so nothing may be appended to it.
func (s *Store) resumeSeal() error {
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	if err := s.startSegment(s.last + 1); err != nil {
		return err
	}
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	return s.reload(true)
}

func idxName(lo, hi uint32) string { return fmt.Sprintf("%08d-%08d%s", lo, hi, idxSuffix) }

// seal must be called with the lock and s.mu held.
func (s *Store) seal() error {
	n := s.last
	// Tell other processes first that the files change: one that stays on
	// its fast path would go on appending to a segment this seal covers,
	// even if the seal is interrupted half way.
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	if err := s.segs[n].Truncate(); err != nil {
		return err
	}
	if !s.covered[n] {
		objs := make([]pack.IndexedObject, 0, len(s.mem))
		segs := []uint32{n}
		for id, loc := range s.mem {
			objs = append(objs, pack.IndexedObject{ID: id, Loc: loc})
			if !slices.Contains(segs, loc.Seg) {
				segs = append(segs, loc.Seg)
			}
		}
		slices.Sort(segs)
		recs := slices.Clone(s.memRecs)
		data := pack.EncodeIndex(segs, objs, recs)
		if err := pack.WriteFileAtomic(s.fsys, filepath.Join(s.logDir, idxName(segs[0], n)), data); err != nil {
			return err
		}
	}
	if err := s.startSegment(n + 1); err != nil {
		return err
	}
	if err := s.mergeIndexes(); err != nil {
		return err
	}
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	return s.reload(true)
}

// indexLevel groups indexes by size: four of one level merge into one of
// the next, so each object is rewritten O(log n) times and lookups search
// a few indexes.
func indexLevel(n int) int {
	level := 0
	for n >= 1<<16 {
		n >>= 2
		level++
	}
	return level
}

// mergeIndexes merges the newest indexes while four of the same level
// stand together. The merged index is written durably before the old ones
// are removed; readers that see both find the same objects in either.
func (s *Store) mergeIndexes() error {
	for {
		l, err := s.list()
		if err != nil {
			return err
		}
		var ixs []*pack.Index
		for _, name := range l.idx {
			ix, err := pack.OpenIndex(s.fsys, filepath.Join(s.logDir, name))
			if err != nil {
				return err
			}
			ixs = append(ixs, ix)
		}
		slices.SortFunc(ixs, func(a, b *pack.Index) int {
			return -cmpUint32(slices.Max(a.Segments()), slices.Max(b.Segments()))
		})
		closeAll := func() {
			for _, ix := range ixs {
				ix.Close()
			}
		}
		if len(ixs) < 4 {
			closeAll()
			return nil
		}
		lvl := indexLevel(ixs[0].Len())
		run := 1
		for run < len(ixs) && indexLevel(ixs[run].Len()) == lvl {
			run++
		}
		if run < 4 {
			closeAll()
			return nil
		}
		group := ixs[:4]
		var segs []uint32
		var runs [][]pack.IndexedObject
		var recs []pack.Record
		// Oldest first, so records keep their log order.
		for i := len(group) - 1; i >= 0; i-- {
			ix := group[i]
			segs = append(segs, ix.Segments()...)
			run := make([]pack.IndexedObject, 0, ix.Len())
			for o := range ix.Objects() {
				run = append(run, o)
			}
			runs = append(runs, run)
			for r, err := range ix.AllRecords() {
				if err != nil {
					closeAll()
					return err
				}
				recs = append(recs, pack.Record{Kind: r.Kind, Key: slices.Clone(r.Key), Value: slices.Clone(r.Value)})
			}
		}
		slices.Sort(segs)
		data := pack.EncodeIndex(segs, pack.MergeObjects(runs...), recs)
		name := filepath.Join(s.logDir, idxName(segs[0], segs[len(segs)-1]))
		paths := make([]string, len(group))
		for i, ix := range group {
			paths[i] = ix.Path
		}
		closeAll()
		if err := pack.WriteFileAtomic(s.fsys, name, data); err != nil {
			return err
		}
		for _, p := range paths {
			if p != name {
				if err := s.fsys.Remove(p); err != nil {
					return err
				}
			}
		}
		if err := s.fsys.SyncDir(s.logDir); err != nil {
			return err
		}
	}
}
