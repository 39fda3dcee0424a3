package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// maybeSeal seals the newest segment once it is large enough: a new
// segment starts with a checkpoint of every ref, then the sealed one's
// index is written whole and durably (in the background with
// BackgroundSeal: startSeal). A crash between the two leaves an uncovered
// segment that the next open scans. An indexed newest segment, with
// nothing after it, means a lost segment: opening refuses it.
func (s *Store) maybeSeal() error {
	if s.sealing.Load() != nil {
		return nil // one at a time; the segment grows until it is done
	}
	seg := s.segs[s.last]
	if len(s.memOrder) < s.opts.SealObjects && seg.Size() < s.opts.SealBytes {
		return nil
	}
	// A disk without room for the index would fail its write after the
	// next segment was started: every commit then started one more (a
	// helper's audit, on a full disk). The segment grows instead, until
	// there is room.
	if free, ok := freeSpace(s.logDir); ok && free < s.indexBytes()+1<<20 {
		return nil
	}
	// Another process sealing (or merging) in the background would win or
	// lose the race to publish; either way one index is built for nothing
	// and a segment started for nothing. Let it finish, unless the newest
	// segment has grown far past its bound meanwhile.
	if seg.Size() < 4*s.opts.SealBytes && len(s.memOrder) < 4*s.opts.SealObjects && s.otherSealing() {
		return nil
	}
	if s.opts.BackgroundSeal && !s.closing {
		return s.startSeal()
	}
	return s.seal()
}

// indexBytes is about what the index of every uncovered segment takes
// (pack.EncodeIndex): each object's ID and location, each record whole.
func (s *Store) indexBytes() int64 {
	n := int64(len(s.memOrder)) * (object.IDSize + 12)
	for _, r := range s.memRecs {
		n += int64(len(r.Key)+len(r.Value)) + 16
	}
	return n
}

// sealJob is a segment's index being built in the background: the sealed
// segment and what memory held of the uncovered segments when it began.
type sealJob struct {
	done    chan struct{}
	name    string   // the index it writes
	tmp     string   // where it writes it first; made when the seal starts
	seg     uint32   // the newest segment it covers
	segs    []uint32 // every segment it covers
	objs    []pack.IndexedObject
	recs    []pack.Record
	reloads uint64 // s.reloads when it began: memory is still what it saw
}

// startSeal seals the newest segment without building its index: it
// starts the next segment, so that commits go on, and leaves the index to
// a goroutine (runSeal). Until the index is written the sealed segment is
// an uncovered one like any other: its objects stay in memory, and a
// crash leaves a log whose open scans it, which is what a reader does
// with every uncovered segment anyway. The caller holds the lock and s.mu.
func (s *Store) startSeal() error {
	n := s.last
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	if err := s.segs[n].Truncate(); err != nil {
		return err
	}
	job := &sealJob{
		done:    make(chan struct{}),
		seg:     n,
		objs:    s.memOrder[:len(s.memOrder):len(s.memOrder)],
		recs:    s.memRecs[:len(s.memRecs):len(s.memRecs)],
		reloads: s.reloads,
	}
	for k := range s.segs {
		if k <= n && !s.covered[k] {
			job.segs = append(job.segs, k)
		}
	}
	slices.Sort(job.segs)
	// The index's temporary file is made now, under the lock: it tells
	// other processes that this one is sealing (otherSealing) until the
	// index is published or given up.
	job.name = filepath.Join(s.logDir, idxName(job.segs[0], job.seg))
	job.tmp = tempName(job.name)
	if f, err := s.fsys.OpenFile(job.tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err == nil {
		f.Close()
	}
	if err := s.startSegment(n + 1); err != nil {
		s.fsys.Remove(job.tmp)
		return err
	}
	seg, err := pack.OpenSegment(s.fsys, filepath.Join(s.logDir, segName(n+1)), n+1, true)
	if err != nil {
		return err
	}
	s.segs[n+1], s.last, s.writableSeg = seg, n+1, n+1
	if err := s.scanSegment(n+1, 0, true); err != nil {
		return err
	}
	if err := s.lock.bumpGen(); err != nil {
		return err
	}
	s.gen = s.lock.gen()
	s.sealing.Store(job)
	go s.runSeal(job)
	return nil
}

// runSeal builds and writes a background seal's index, publishes it
// under the lock (installSeal), then merges indexes as seal does. A
// failure costs only speed: the segment stays uncovered, and the next
// seal's index covers it.
func (s *Store) runSeal(job *sealJob) {
	defer func() {
		s.sealing.Store(nil)
		close(job.done)
	}()
	// The slices share arrays that the writer appends to, past their
	// ends; the copies are what this goroutine sorts.
	objs := slices.Clone(job.objs)
	recs := slices.Clone(job.recs)
	name, tmp := job.name, job.tmp
	if err := pack.WriteTemp(s.fsys, tmp, pack.EncodeIndex(job.segs, objs, recs)); err != nil {
		return
	}
	published := false
	err := s.locked(func() (err error) {
		published, err = s.installSeal(job, tmp, name)
		return err
	})
	if !published {
		_ = s.fsys.Remove(tmp)
	}
	if err != nil {
		return
	}
	for {
		merged, err := s.mergeNext()
		if err != nil || !merged {
			return
		}
	}
}

// otherSealing reports whether a live process writes an index now: its
// temporary file is in the log folder. The caller is not sealing itself
// (maybeSeal), so another Store of this process counts as another
// process.
func (s *Store) otherSealing() bool {
	ents, err := s.fsys.ReadDir(s.logDir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		rest, ok := strings.CutSuffix(e.Name(), ".tmp")
		if ok && sealerAlive(rest) {
			return true
		}
	}
	return false
}

// tempName names the temporary file an index is written to before it is
// published: unique, since processes write them without the lock.
func tempName(name string) string {
	return fmt.Sprintf("%s.%d-%d.tmp", name, os.Getpid(), tempSeq.Add(1))
}

var tempSeq atomic.Uint64

// waitSeal waits for a background seal to finish, if one runs.
func (s *Store) waitSeal() {
	if job := s.sealing.Load(); job != nil {
		<-job.done
	}
}

// locked runs fn with the lock and s.mu held, on tables that have caught
// up with what other processes wrote.
func (s *Store) locked(fn func() error) error {
	if err := s.lock.lock(); err != nil {
		return err
	}
	defer s.lock.unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(true); err != nil {
		return err
	}
	return fn()
}

// installSeal publishes a background seal's index, written to tmp, under
// its name, and takes it into the tables. It is published only if every
// segment it covers is still uncovered: another process may have sealed
// them meanwhile, seeing a different set of uncovered segments, and
// indexes must never overlap (a record in two would be read twice). If
// the tables were rebuilt since the seal began, a reload finds the index;
// otherwise the sealed segments' objects and records leave memory, which
// is cheap: memory then holds only what was written since.
func (s *Store) installSeal(job *sealJob, tmp, name string) (bool, error) {
	for _, n := range job.segs {
		if s.covered[n] || s.segs[n] == nil {
			return false, nil
		}
	}
	if err := s.lock.bumpGen(); err != nil {
		return false, err
	}
	if err := s.fsys.Rename(tmp, name); err != nil {
		return false, err
	}
	if err := s.fsys.SyncDir(s.logDir); err != nil {
		return true, err
	}
	if s.reloads != job.reloads {
		return true, s.reload(true)
	}
	ix, err := pack.OpenIndex(s.fsys, name)
	if err != nil {
		return true, s.reload(true)
	}
	s.addIndex(ix, filepath.Base(name))
	// The frames written since the last seal leave the cache with the
	// segment, as a reload would drop them: a writer's cache holds what
	// it wrote recently, not every frame up to the cache's budget.
	s.cache.Clear()
	// The tables keep their room for the next segment: what was written
	// since the seal began moves to their start. The job copied its part
	// of the list when it began.
	clear(s.mem) // mapped again on the next lookup
	if s.mem == nil {
		s.memMapped.Store(-1)
	} else {
		s.memMapped.Store(0)
	}
	s.memOrder = s.memOrder[:copy(s.memOrder, s.memOrder[len(job.objs):])]
	tail := slices.Clone(s.memRecs[len(job.recs):])
	s.memRecs = nil
	s.memIdem, s.memBranchIdem = map[string][][]byte{}, false
	s.memSnap = map[string]object.ID{}
	s.memLinks = map[object.ID][]byte{}
	for _, r := range tail {
		s.addMemRecord(r)
	}
	s.gen = s.lock.gen()
	return true, nil
}

// addIndex takes an index file into the tables.
func (s *Store) addIndex(ix *pack.Index, name string) {
	s.indexes = append(s.indexes, ix)
	sortIndexes(s.indexes)
	for _, n := range ix.Segments() {
		s.covered[n] = true
	}
	s.idxNames = append(s.idxNames, name)
	slices.Sort(s.idxNames)
}

// sortIndexes puts the newest index first: the one covering the highest
// segment. The pack's records index covers segment 0 and comes last.
func sortIndexes(ixs []*pack.Index) {
	slices.SortStableFunc(ixs, func(a, b *pack.Index) int {
		return -cmpUint32(slices.Max(a.Segments()), slices.Max(b.Segments()))
	})
}

// mergeNext merges the next four indexes of one level, as mergeIndexes
// does, without holding the lock while it reads and writes them: it
// works on handles of its own and takes the lock only to publish the
// merged index, if the four are still the live ones, remove them and
// swap them in the tables. It reports whether it merged.
func (s *Store) mergeNext() (bool, error) {
	s.mu.RLock()
	var paths []string
	for _, ix := range s.indexes {
		if ix != s.packRecs {
			paths = append(paths, ix.Path)
		}
	}
	s.mu.RUnlock()
	var ixs []*pack.Index
	defer func() {
		for _, ix := range ixs {
			ix.Close()
		}
	}()
	for _, p := range paths {
		ix, err := pack.OpenIndex(s.fsys, p)
		if err != nil {
			return false, err
		}
		ixs = append(ixs, ix)
	}
	group := mergeGroup(ixs)
	if group == nil {
		return false, nil
	}
	name, data, err := mergeData(group)
	if err != nil {
		return false, err
	}
	tmp := tempName(name)
	if err := pack.WriteTemp(s.fsys, tmp, data); err != nil {
		return false, err
	}
	published := false
	err = s.locked(func() error {
		old := make([]string, len(group))
		var segs []uint32
		for i, ix := range group {
			old[i] = filepath.Base(ix.Path)
			segs = append(segs, ix.Segments()...)
		}
		if !s.mergeable(old, segs) || slices.Contains(s.idxNames, filepath.Base(name)) {
			return nil // another process merged or packed them
		}
		reloads := s.reloads
		if err := s.lock.bumpGen(); err != nil {
			return err
		}
		if err := s.fsys.Rename(tmp, name); err != nil {
			return err
		}
		published = true
		// The merged index's name is durable before any of the four
		// goes: a power loss may keep any subset of the removals.
		if err := s.fsys.SyncDir(s.logDir); err != nil {
			return err
		}
		if err := removeAll(s.fsys, name, group); err != nil {
			return err
		}
		// Once more, after: a reader that read the generation after the
		// first bump may have listed the four (fsck reruns a check that
		// saw it move; found by a helper's review).
		if err := s.lock.bumpGen(); err != nil {
			return err
		}
		if s.reloads != reloads {
			return s.reload(true)
		}
		ix, err := pack.OpenIndex(s.fsys, name)
		if err != nil {
			return s.reload(true)
		}
		s.indexes = slices.DeleteFunc(s.indexes, func(x *pack.Index) bool {
			if x != s.packRecs && slices.Contains(old, filepath.Base(x.Path)) {
				x.Close()
				return true
			}
			return false
		})
		s.idxNames = slices.DeleteFunc(s.idxNames, func(n string) bool { return slices.Contains(old, n) })
		s.addIndex(ix, filepath.Base(name))
		s.gen = s.lock.gen()
		return nil
	})
	if !published {
		_ = s.fsys.Remove(tmp)
	}
	return published && err == nil, err
}

// mergeable reports whether the indexes named old, which cover segs, are
// all still live in the tables and no other live index covers any of
// segs. A file's name in the folder is not enough: a merge killed after
// publishing its index and before removing what it merged leaves those
// files, which the tables then leave out as subsumed, and merging them
// again would make an index that overlaps the published one.
func (s *Store) mergeable(old []string, segs []uint32) bool {
	inGroup := 0
	for _, ix := range s.indexes {
		if ix == s.packRecs {
			continue
		}
		if slices.Contains(old, filepath.Base(ix.Path)) {
			inGroup++
			continue
		}
		if slices.ContainsFunc(ix.Segments(), func(n uint32) bool { return slices.Contains(segs, n) }) {
			return false
		}
	}
	return inGroup == len(old)
}

// Seal seals the newest segment now if it holds at least min objects,
// so that opening the repository reads its index instead of scanning it
// (an import calls it when it ends). It reports whether it sealed.
func (s *Store) Seal(min int) (bool, error) {
	unlock, err := s.lockFresh(nil)
	if err != nil {
		return false, err
	}
	defer unlock()
	if len(s.memOrder) < max(min, 1) {
		return false, nil
	}
	if err := s.seal(); err != nil {
		s.broken = fmt.Errorf("%w: sealing: %v", ErrBroken, err)
		return false, err
	}
	return true, nil
}

// lockFresh takes the cross-process lock and s.mu, once no background
// seal runs, and catches up with what other processes wrote; unlock
// releases both.
func (s *Store) lockFresh(ctx context.Context) (unlock func(), err error) {
	unlock, err = s.lockIdle(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.refresh(true); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// lockIdle takes the cross-process lock and s.mu, once no background seal
// runs, without catching up; unlock releases both.
func (s *Store) lockIdle(ctx context.Context) (unlock func(), err error) {
	for {
		s.waitSeal()
		if err := s.lockCtx(ctx, false); errors.Is(err, errLeft) {
			return nil, ctxErr(ctx)
		} else if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.sealing.Load() == nil {
			break
		}
		s.mu.Unlock()
		s.lock.unlock()
	}
	return func() {
		s.mu.Unlock()
		s.lock.unlock()
	}, nil
}

// startSegment writes segment n whole, holding a checkpoint of every ref.
func (s *Store) startSegment(n uint32) error {
	if s.exists(segName(n)) {
		return fmt.Errorf("%w: segment %d exists already", ErrCorrupt, n)
	}
	var p pack.Payload
	segmentRecord(&p, n)
	all := s.refs.All()
	for _, name := range slices.Sorted(maps.Keys(all)) { // the same refs, the same bytes
		p.AddRecord(RecCheckpoint, []byte(name), refs.EncodeValue(all[name]))
	}
	return pack.WriteSegment(s.fsys, filepath.Join(s.logDir, segName(n)), pack.AppendFrame(nil, p.Bytes(), false))
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
	// The next segment before the index, as a background seal does: a
	// crash between the two leaves an uncovered segment that an open
	// scans, and never an indexed newest segment, which only a lost
	// segment after it leaves (fsck says so).
	if err := s.startSegment(n + 1); err != nil {
		return err
	}
	if !s.covered[n] {
		objs := slices.Clone(s.memOrder)
		// Every uncovered segment, as startSeal takes them: one that
		// holds no object (only its checkpoint) is one all the same, and
		// an index that left it out would be dropped by uncoverAfterGap.
		var segs []uint32
		for k := range s.segs {
			if k <= n && !s.covered[k] {
				segs = append(segs, k)
			}
		}
		slices.Sort(segs)
		recs := slices.Clone(s.memRecs)
		data := pack.EncodeIndex(segs, objs, recs)
		if err := pack.WriteFileAtomic(s.fsys, filepath.Join(s.logDir, idxName(segs[0], n)), data); err != nil {
			return err
		}
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
		closeAll := func() {
			for _, ix := range ixs {
				ix.Close()
			}
		}
		group := mergeGroup(ixs)
		if group == nil {
			closeAll()
			return nil
		}
		name, data, err := mergeData(group)
		closeAll()
		if err != nil {
			return err
		}
		if err := pack.WriteFileAtomic(s.fsys, name, data); err != nil {
			return err
		}
		if err := removeAll(s.fsys, name, group); err != nil {
			return err
		}
	}
}

// mergeGroup returns the four newest indexes if they are of one level,
// else nil. It sorts ixs newest first.
func mergeGroup(ixs []*pack.Index) []*pack.Index {
	// An index another covers whole is what a crash in a merge left, and
	// one that overlaps a larger what a race of two merges left: merging
	// either again would copy records twice.
	ixs, _ = disjointIndexes(ixs)
	sortIndexes(ixs)
	if len(ixs) < 4 {
		return nil
	}
	lvl := indexLevel(ixs[0].Len())
	for _, ix := range ixs[1:4] {
		if indexLevel(ix.Len()) != lvl {
			return nil
		}
	}
	return ixs[:4]
}

// mergeData builds the index that replaces a group, and names its file.
func mergeData(group []*pack.Index) (string, []byte, error) {
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
				return "", nil, err
			}
			recs = append(recs, pack.Record{Kind: r.Kind, Key: slices.Clone(r.Key), Value: slices.Clone(r.Value)})
		}
	}
	slices.Sort(segs)
	name := filepath.Join(filepath.Dir(group[0].Path), idxName(segs[0], segs[len(segs)-1]))
	return name, pack.EncodeIndex(segs, pack.MergeObjects(runs...), recs), nil
}

// removeAll removes a merged group's files, but for the merged index
// itself should it have taken one's name, and makes the removal durable.
func removeAll(fsys pack.FS, merged string, group []*pack.Index) error {
	for _, ix := range group {
		if ix.Path == merged {
			continue
		}
		if err := fsys.Remove(ix.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fsys.SyncDir(filepath.Dir(merged))
}
