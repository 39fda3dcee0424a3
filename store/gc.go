package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// GCOptions configure GC.
type GCOptions struct {
	// Grace keeps unreachable objects younger than this (by the time of
	// the file they lie in). PruneNow drops every unreachable object.
	Grace    time.Duration
	PruneNow bool // drop unreachable objects whatever their age, ignoring Grace
	// RecentSnapshots snapshots are kept on the newest stretch of each
	// model's history; further back, history is cut into SpreadSnapshots
	// slices, each at most SnapshotGap events long, and one snapshot is
	// kept per slice. Zero picks 2, 6 and DefaultSnapshotGap: a load in
	// thinned history then walks at most about twice that many events
	// of the line back to a snapshot.
	RecentSnapshots int
	SpreadSnapshots int    // how many slices of history, by offset, keep one snapshot each (at least)
	SnapshotGap     uint64 // the most events of the line a slice spans
	// ByModelOnly thins each model's history by offset alone, not also
	// along each ref's first-parent line (the rule before session 27):
	// a line's newest snapshot may then go, which tests of what a
	// writer does then need.
	ByModelOnly bool
	// Now is the time gc runs at; zero means time.Now().
	Now time.Time
	// ReflogExpire is the age past which an entry of HEAD's reflog that
	// names a commit nothing else reaches is dropped, commit and all;
	// zero picks 30 days (Git's gc.reflogExpireUnreachable).
	ReflogExpire time.Duration
}

// DefaultSnapshotGap is the most events of a line between two snapshots
// gc keeps, when GCOptions.SnapshotGap is zero.
const DefaultSnapshotGap = 10_000

// GCStats says what GC did.
type GCStats struct {
	// BytesBefore and BytesAfter are the sizes in bytes of the log
	// folder's files (Files) before and after gc, the newest segment's
	// to the end of its last frame: the zeros preallocated past it hold
	// nothing, and gc writes a new segment with 64 KiB of them.
	BytesBefore, BytesAfter int64
	Objects                 int // objects in the new pack
	Dropped                 int // unreachable objects dropped
	SnapshotsKept           int // snapshot records kept
	SnapshotsDropped        int // snapshot records dropped: thinned out, of unreachable commits, or with their tree gone or damaged
	// SnapshotsDamaged counts the snapshots among those dropped whose
	// tree could not be read whole: a damaged node or state blob.
	SnapshotsDamaged int
	// DamagedFrames counts the frames of the pack passed over as damaged
	// (with PruneNow only), and what they held dropped.
	DamagedFrames int
	ReflogExpired int // entries of HEAD's reflog dropped (GCOptions.ReflogExpire)
}

// GC repacks every reachable object into one pack, drops unreachable
// objects older than the grace period and thins old snapshots. Reachable
// means from a ref or from any reflog entry. The new pack becomes live in
// one step (its index file appearing); a crash at any moment leaves either
// the old files or the new pack, never less.
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCStats, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.RecentSnapshots == 0 {
		opts.RecentSnapshots = 2
	}
	if opts.SpreadSnapshots == 0 {
		opts.SpreadSnapshots = 6
	}
	if opts.SnapshotGap == 0 {
		opts.SnapshotGap = DefaultSnapshotGap
	}
	if opts.ReflogExpire == 0 {
		opts.ReflogExpire = 30 * 24 * time.Hour
	}
	var st GCStats
	unlock, err := s.lockFresh(ctx)
	if err != nil {
		return st, err
	}
	defer unlock()
	if err := s.lock.writable(); err != nil {
		return st, err
	}
	if err := s.removeTemps(false); err != nil {
		return st, err
	}
	// The walk below finds objects through the indexes: one damaged there
	// would hide what it names, and gc would drop it for good. Check them
	// whole first (they are small beside what they index).
	if err := s.checkIndexes(); err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	before, err := s.Files()
	if err != nil {
		return st, err
	}
	st.BytesBefore = s.logBytes(before)

	// Roots: every ref and every reflog entry.
	reach := map[object.ID]bool{}
	var queue []object.ID
	mark := func(id object.ID) {
		if !id.IsZero() && !reach[id] {
			reach[id] = true
			queue = append(queue, id)
		}
	}
	for _, v := range s.refs.All() {
		if !v.IsSymbolic() {
			mark(v.ID)
		}
	}
	logs, err := s.refUpdatesLocked()
	if err != nil {
		return st, err
	}
	// HEAD's reflog, as Git does, expires its entries that name what
	// nothing else reaches once they are older than ReflogExpire: those
	// wait until the rest is walked (expired, below). Without that, every
	// commit HEAD was ever at would stay for good, also those of a deleted
	// branch HEAD had been on. (HEAD@{0} is HEAD whatever the reflog
	// holds.) So do HEAD's RecRef entries, its detached moves.
	expireBefore := opts.Now.Add(-opts.ReflogExpire)
	mayExpire := func(name string, u refs.Update) bool {
		return name == refs.HEAD && u.Time.Before(expireBefore)
	}
	for name, log := range logs {
		for _, u := range log {
			if !mayExpire(name, u) {
				mark(u.Old)
				mark(u.New)
			}
		}
	}
	headLog, err := s.allRecordsLocked(RecHeadLog)
	if err != nil {
		return st, err
	}
	headUpdates := make([]refs.Update, len(headLog))
	for i, r := range headLog {
		u, err := refs.DecodeUpdate(refs.HEAD, r.Value)
		if err != nil {
			return st, fmt.Errorf("gc: HEAD's reflog: %w", err)
		}
		headUpdates[i] = u
		if !mayExpire(refs.HEAD, u) {
			mark(u.Old)
			mark(u.New)
		}
	}
	type commitInfo struct {
		id     object.ID
		offset uint64
		time   int64
	}
	var commits []commitInfo
	// Where a commit's first parent probably lies, by the parent's ID
	// (parentGuess): the walk down a line reads a frame's commits with
	// one index lookup, not one each.
	near := map[object.ID]pack.Location{}
	read := func(id object.ID) (located, error) {
		if loc, ok := near[id]; ok {
			delete(near, id)
			if r, ok := s.objectIfAt(id, loc); ok {
				return r, nil
			}
		}
		return s.readAfter(id, object.ZeroID)
	}
	walkAll := func() error {
		for len(queue) > 0 {
			if err := ctxErr(ctx); err != nil {
				return err
			}
			id := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			r, err := read(id)
			kind, body := r.obj.Kind, r.obj.Body
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					// Fail closed: what cannot be found may be hidden by
					// damage, and repacking without it would lose what
					// only it reaches.
					return fmt.Errorf("gc: reachable object %s cannot be found (%w); run fsck", id.Short(), ErrCorrupt)
				}
				return err
			}
			c, err := objectRefs(kind, body, func(ref object.ID, role refRole) {
				switch role {
				case refReverted:
					// A reverted commit is kept when it is here, but it
					// need not be: an import of part of a history keeps
					// the IDs of commits left out (an export of one
					// branch, or of one stream), as the compensating
					// commit's ID covers them.
					if _, _, _, err := s.get(ref); errors.Is(err, ErrNotFound) {
						return
					}
				case refEvent:
					// An event names nothing: reached without a read (the
					// pack's writing reads it, and fails if it is gone).
					reach[ref] = true
					return
				}
				mark(ref)
			})
			if err != nil {
				return err
			}
			if c != nil {
				commits = append(commits, commitInfo{id: id, offset: c.Offset, time: c.Time.UnixNano()})
				if len(c.Parents) > 0 && len(near) < gcNearMax {
					if loc, ok := parentGuess(r.f, r.loc, len(c.Events)); ok {
						near[c.Parents[0]] = loc
					}
				}
			}
		}
		return nil
	}
	if err := walkAll(); err != nil {
		return st, err
	}

	// Records kept: reflogs of refs that exist, HEAD's but the entries
	// that expired, every idempotency key, and the snapshots the thinning
	// keeps (their trees become reachable).
	expired := func(name string, u refs.Update) bool {
		if mayExpire(name, u) && (!reach[u.New] || (!u.Old.IsZero() && !reach[u.Old])) {
			st.ReflogExpired++
			return true
		}
		return false
	}
	var keep []pack.Record
	for name, log := range logs {
		for _, u := range log {
			if !expired(name, u) {
				keep = append(keep, pack.Record{Kind: RecRef, Key: []byte(name), Value: u.Encode()})
			}
		}
	}
	for i, r := range headLog {
		if !expired(refs.HEAD, headUpdates[i]) {
			keep = append(keep, r)
		}
	}
	snaps, err := s.snapshotRecordsLocked()
	if err != nil {
		return st, err
	}
	offsets := map[object.ID]uint64{}
	for _, c := range commits {
		offsets[c.id] = c.offset
	}
	kept := thinSnapshots(snaps, offsets, opts.RecentSnapshots, opts.SpreadSnapshots, opts.SnapshotGap)
	if !opts.ByModelOnly {
		s.keepAlongLines(snaps, offsets, kept, opts)
	}
	// A snapshot is derived data: one whose tree is gone is dropped, not
	// a reason to stop (the indexes were checked, so gone means gone),
	// and so is one whose tree cannot be read whole. A damaged frame that
	// held only trees stopped every gc for good, while every read worked
	// (a helper's audit). Each kept tree is read here, and becomes
	// reachable only once read whole. Damaged, it is unreachable, and only
	// a gc that drops every unreachable object goes on (below).
	//
	// The trees are read level by level, all of them at once, each level
	// in the order its nodes lie in the files (readOrderLocked): read a
	// node at a time, depth first, they decoded a frame again for each
	// node once they outgrew the frame cache, and gc took 147 s at
	// 200,000 streams against 5 s at 100,000 (a helper's audit).
	var roots []object.ID
	for _, r := range snaps {
		if root := object.ID(r.Value); kept[string(r.Key)] && root != emptyTree {
			roots = append(roots, root)
		}
	}
	names := map[object.ID][]object.ID{} // a node read whole → what it names
	damaged := map[object.ID]bool{}
	isRoot := map[object.ID]bool{}
	gone := map[object.ID]bool{} // roots not stored at all
	var firstDamage error
	queued := map[object.ID]bool{}
	var level []object.ID
	for _, root := range roots {
		isRoot[root] = true
		if !queued[root] {
			queued[root] = true
			level = append(level, root)
		}
	}
	for len(level) > 0 {
		s.readOrderLocked(level)
		var next []object.ID
		for _, id := range level {
			if err := ctxErr(ctx); err != nil {
				return st, err
			}
			kind, body, _, err := s.get(id)
			if errors.Is(err, ErrNotFound) && isRoot[id] {
				gone[id] = true
				continue
			}
			if err == nil && kind != object.KindTree && kind != object.KindBlob {
				err = fmt.Errorf("%w: a snapshot tree names %s, a %s", ErrCorrupt, id.Short(), kind)
			}
			var refs []object.ID
			if err == nil {
				_, err = objectRefs(kind, body, func(ref object.ID, _ refRole) { refs = append(refs, ref) })
			}
			switch {
			case errors.Is(err, ErrCorrupt), errors.Is(err, ErrNotFound), errors.Is(err, object.ErrCorrupt):
				damaged[id] = true
				if firstDamage == nil {
					firstDamage = err
				}
				continue
			case err != nil:
				return st, err
			}
			names[id] = refs
			for _, ref := range refs {
				if !queued[ref] {
					queued[ref] = true
					next = append(next, ref)
				}
			}
		}
		level = next
	}
	// A tree is whole when every node below its root was read whole; its
	// nodes are then reachable.
	treeOK := map[object.ID]bool{}
	readWhole := func(root object.ID) bool {
		stack, seen := []object.ID{root}, map[object.ID]bool{}
		for len(stack) > 0 {
			id := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if treeOK[id] || seen[id] {
				continue
			}
			refs, ok := names[id]
			if !ok && gone[id] && id != root && firstDamage == nil {
				// Gone as a root of its own, but named inside this
				// tree: damage here, as any missing node is (a
				// helper's review).
				firstDamage = fmt.Errorf("%w: a snapshot tree names %s", ErrNotFound, id.Short())
			}
			if !ok || damaged[id] {
				return false
			}
			seen[id] = true
			stack = append(stack, refs...)
		}
		for id := range seen {
			treeOK[id] = true
		}
		return true
	}
	for _, r := range snaps {
		root := object.ID(r.Value)
		if kept[string(r.Key)] && root != emptyTree {
			switch {
			case gone[root]:
				kept[string(r.Key)] = false
			case !readWhole(root):
				kept[string(r.Key)] = false
				st.SnapshotsDamaged++
			}
		}
		if !kept[string(r.Key)] {
			st.SnapshotsDropped++
			continue
		}
		st.SnapshotsKept++
		keep = append(keep, r)
	}
	if firstDamage != nil && !opts.PruneNow {
		// Within a grace period, the unreachable trees kept for it may
		// name the damaged nodes, and would be kept naming what is gone
		// (a helper's review): only a gc that drops every unreachable
		// object may drop them.
		return st, fmt.Errorf("gc: a snapshot tree is damaged (%w); snapshots are derived data: gc --prune=now drops them and the snapshots that hold them", firstDamage)
	}
	for id := range treeOK {
		reach[id] = true
	}

	// Write the pack: commits oldest first, each after its events, then
	// everything else reachable, then unreachable objects still in grace.
	w := pack.NewPackWriter()
	written := map[object.ID]bool{}
	slices.SortFunc(commits, func(a, b commitInfo) int {
		return cmp.Or(cmp.Compare(a.offset, b.offset), cmp.Compare(a.time, b.time), bytes.Compare(a.id[:], b.id[:]))
	})
	// Read as a fold reads a line (readFoldStep): each commit after the
	// one before it in its frame, and its events from just before it,
	// where they lie when written with it, with no index lookup for
	// either when they do.
	// The context is looked at as the pack is built, up to its write:
	// until then nothing changed (a helper's audit found a cancelled gc
	// going on for seconds, holding the lock, and reporting success).
	if gcPacking != nil {
		gcPacking()
	}
	var prev *FoldStep
	for i, ci := range commits {
		if i%gcCheckEvery == 0 {
			if err := ctxErr(ctx); err != nil {
				return st, err
			}
		}
		step, err := s.readFoldStep(ci.id, prev)
		if ne := (*notEventError)(nil); errors.As(err, &ne) {
			return st, fmt.Errorf("%w: commit %s names %s, a %s, as an event", ErrCorrupt, ci.id.Short(), ne.id.Short(), ne.kind)
		}
		if errors.Is(err, ErrNotFound) {
			// An event the commit names is gone: fail closed, as for
			// any reachable object (walkAll).
			return st, fmt.Errorf("gc: an event of reachable commit %s cannot be found (%v: %w); run fsck", ci.id.Short(), err, ErrCorrupt)
		}
		if err != nil {
			return st, err
		}
		prev = step
		c := step.Commit
		for i, eid := range c.Events {
			if written[eid] {
				continue // the same event in an earlier commit (a revert repeats one)
			}
			w.AddEvent(eid, step.Bodies[i], step.Data[i])
			written[eid] = true
		}
		w.AddCommit(ci.id, c)
		written[ci.id] = true
	}
	w.Flush()
	fileTimes, err := s.fileTimes()
	if err != nil {
		return st, err
	}
	cutoff := opts.Now.Add(-opts.Grace)
	since, err := s.keptSinceLocked()
	if err != nil {
		return st, err
	}
	add := func(id object.ID, loc pack.Location) error {
		kind, body, data, err := s.getAt(id, loc, object.ZeroID)
		if err != nil {
			return err
		}
		if kind == object.KindEvent {
			w.AddEvent(id, body, data)
		} else {
			w.AddObject(id, kind, body)
		}
		written[id] = true
		return nil
	}
	// The objects are listed in the order of the indexes (by ID), and
	// read in the order they lie in, so that each frame is decompressed
	// once, not once an object (a gc of a million events decompressed
	// frames for 40% of its time). Unreachable objects wait until every
	// object was seen: one still in grace keeps what it reaches (its
	// parents, events, subtrees), which may lie anywhere.
	var rest, unreached []gcObject
	// A damaged frame of the pack is passed over here: everything a ref,
	// a reflog or a kept snapshot reaches was read whole above, so it
	// holds only objects nothing reaches (the nodes of snapshots dropped
	// as damaged among them). Those may be dropped only by a gc that drops
	// every unreachable object; within a grace period, gc refuses and
	// says so, where it refused with no way forward.
	err = s.objectsPassing(func(id object.ID, loc pack.Location) error {
		if written[id] {
			return nil
		}
		if !reach[id] {
			// Its grace counts from the file it lies in, or, in the pack,
			// from when the gc that first kept it found it.
			t := fileTimes[loc.Seg]
			if k, ok := since[id]; ok && loc.Seg == 0 {
				t = k
			}
			unreached = append(unreached, gcObject{id: id, loc: loc, since: t})
			return nil
		}
		rest = append(rest, gcObject{id: id, loc: loc})
		return nil
	}, func(off int64, err error) error {
		if !opts.PruneNow {
			return fmt.Errorf("gc: %w; everything reachable was read whole, so it holds only objects nothing reaches, or snapshot trees: gc --prune=now drops them", err)
		}
		st.DamagedFrames++
		return nil
	})
	if err != nil {
		return st, err
	}
	// Fail closed: everything reachable is written or listed to be. An
	// object read whole above but not found by the listing lies in a
	// frame damaged since (the reads may come from the frame cache; a
	// helper's review found gc keeping a snapshot whose tree it dropped).
	listed := make(map[object.ID]bool, len(rest))
	for _, o := range rest {
		listed[o.id] = true
	}
	for id := range reach {
		if !written[id] && !listed[id] {
			return st, fmt.Errorf("gc: %w: reachable object %s was not found listing the objects (a frame damaged since it was read?); nothing changed, run fsck", ErrCorrupt, id.Short())
		}
	}
	slices.SortFunc(rest, byLocation)
	for i, o := range rest {
		if i%gcCheckEvery == 0 {
			if err := ctxErr(ctx); err != nil {
				return st, err
			}
		}
		if err := add(o.id, o.loc); err != nil {
			return st, err
		}
	}
	slices.SortFunc(unreached, byLocation)
	graced := map[object.ID]time.Time{}
	if !opts.PruneNow {
		if graced, err = s.inGraceLocked(ctx, unreached, cutoff); err != nil {
			return st, err
		}
	}
	for i, u := range unreached {
		if i%gcCheckEvery == 0 {
			if err := ctxErr(ctx); err != nil {
				return st, err
			}
		}
		t, ok := graced[u.id]
		if !ok {
			st.Dropped++
			continue
		}
		keep = append(keep, pack.Record{Kind: RecKept, Key: u.id[:], Value: binary.AppendVarint(nil, t.UnixNano())})
		if err := add(u.id, u.loc); err != nil {
			return st, err
		}
	}
	// Skip links of commits still there.
	links, err := s.allRecordsLocked(RecLink)
	if err != nil {
		return st, err
	}
	for _, r := range links {
		if len(r.Key) == object.IDSize && written[object.ID(r.Key)] {
			keep = append(keep, r)
		}
	}
	// Idempotency keys whose commit is still there. An import's keys at
	// the first commit of a run name the run's last commit, then its
	// first (other keys hold a digest there): kept while either is, since
	// a branch moved back into the run keeps its first commits, and a
	// rerun of the import finds them by these keys (a helper's audit:
	// dropped with the last commit, the rerun wrote the run again).
	idem, err := s.allRecordsLocked(RecIdem)
	if err != nil {
		return st, err
	}
	for _, r := range idem {
		if len(r.Value) >= object.IDSize && written[object.ID(r.Value[:object.IDSize])] ||
			len(r.Value) >= 2*object.IDSize && written[object.ID(r.Value[object.IDSize:2*object.IDSize])] {
			keep = append(keep, r)
		}
	}
	st.Objects = w.Len()
	data, index := w.Finish()
	recIndex := pack.EncodeIndex([]uint32{0}, nil, keep)
	if err := ctxErr(ctx); err != nil {
		return st, err // the last point where nothing changed
	}
	if err := s.writePack(s.last, [3][]byte{data, recIndex, index}); err != nil {
		return st, err
	}
	if err := s.reload(true); err != nil {
		return st, err
	}
	after, err := s.Files()
	if err != nil {
		return st, err
	}
	st.BytesAfter = s.logBytes(after)
	return st, nil
}

// gcCheckEvery is how many objects gc adds to its pack between looks at
// its context.
const gcCheckEvery = 1024

// gcPacking, when set (by tests), is called as gc starts building its
// pack.
var gcPacking func()

// logBytes adds up the sizes of the log's files, the newest segment's to
// its logical end (GCStats).
func (s *Store) logBytes(files []FileSize) int64 {
	var n int64
	newest := segName(s.last)
	for _, f := range files {
		if seg := s.segs[s.last]; f.Name == newest && seg != nil {
			n += min(f.Size, seg.Size())
			continue
		}
		n += f.Size
	}
	return n
}

// removeTemps removes the temporary files that writes killed before
// their rename left in the log folder. gc removes them all: a background
// seal of another process that is writing one then fails to publish it,
// which costs it nothing but the index. With onlyDead, as Open does, a
// seal's index ("<name>.<pid>-<n>.tmp") stays while process <pid> runs;
// a file written whole under the lock ("<name>.tmp", which the caller
// holds) always goes.
func (s *Store) removeTemps(onlyDead bool) error {
	ents, err := s.fsys.ReadDir(s.logDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		rest, ok := strings.CutSuffix(e.Name(), ".tmp")
		if !ok || onlyDead && sealerAlive(rest) {
			continue
		}
		if err := s.fsys.Remove(filepath.Join(s.logDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// sealerAlive reports whether a temporary name (without ".tmp") is a
// seal's "<name>.<pid>-<n>" whose process runs.
func sealerAlive(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	pid, _, ok := strings.Cut(name[i+1:], "-")
	n, err := strconv.Atoi(pid)
	return ok && err == nil && processAlive(n)
}

// emptyTree is the root of a snapshot without streams (snapshot.EmptyRoot),
// which a snapshot writer may record without storing the node.
var emptyTree = object.Hash(object.KindTree, (&object.Tree{Leaf: true}).Encode())

// gcObject is an object gc writes or weighs: where it lies and,
// when no ref reaches it, when its grace began.
type gcObject struct {
	id    object.ID
	loc   pack.Location
	since time.Time
}

// byLocation orders objects as they lie in the log: pack first, then by
// segment, frame and slot.
func byLocation(a, b gcObject) int {
	return cmp.Or(cmp.Compare(a.loc.Seg, b.loc.Seg), cmp.Compare(a.loc.Off, b.loc.Off), cmp.Compare(a.loc.Slot, b.loc.Slot))
}

// inGraceLocked returns the unreachable objects gc keeps, each with the
// time its grace counts from: those younger than cutoff, and what they
// reach (as Git keeps what recent unreachable objects reach), for as long
// as the youngest of them that reaches it. Without that, a recent commit
// of a deleted branch was kept and its older parents dropped: fsck found
// the parent missing, and a branch made at the commit could not be read.
// The young ones are walked youngest first, so each object takes its
// final time the first time it is reached and is read at most once;
// events and state blobs, which name nothing, are not read.
func (s *Store) inGraceLocked(ctx context.Context, unreached []gcObject, cutoff time.Time) (map[object.ID]time.Time, error) {
	at := make(map[object.ID]int, len(unreached))
	var young []int
	for i, u := range unreached {
		at[u.id] = i
		if u.since.After(cutoff) {
			young = append(young, i)
		}
	}
	slices.SortFunc(young, func(a, b int) int { return unreached[b].since.Compare(unreached[a].since) })
	kept := map[object.ID]time.Time{}
	var work []object.ID
	for _, i := range young {
		root := unreached[i]
		if _, ok := kept[root.id]; ok {
			continue // reached from a younger one, with its time
		}
		t := root.since
		kept[root.id] = t
		work = append(work[:0], root.id)
		for len(work) > 0 {
			if err := ctxErr(ctx); err != nil {
				return nil, err
			}
			id := work[len(work)-1]
			work = work[:len(work)-1]
			kind, body, _, err := s.getAt(id, unreached[at[id]].loc, object.ZeroID)
			if err != nil {
				return nil, err
			}
			_, err = objectRefs(kind, body, func(ref object.ID, role refRole) {
				if _, ok := at[ref]; !ok {
					return // reachable, so written, or not here
				}
				if _, ok := kept[ref]; ok {
					return // kept already, as long or longer
				}
				kept[ref] = t
				if role != refEvent && role != refState {
					work = append(work, ref)
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return kept, nil
}

// refRole is what an object named by another is to it.
type refRole int

const (
	refParent   refRole = iota // a commit's parent
	refEvent                   // a commit's event
	refReverted                // a commit a commit reverts
	refChild                   // a tree's subtree
	refState                   // a state blob a tree entry names
)

// gcNearMax bounds the guesses of where parents lie that gc's walk of
// what is reachable keeps: one for each line it is on, and the stale ones
// forks leave.
const gcNearMax = 1024

// objectRefs calls fn with each object an object names and what it is
// to it: a commit's parents, events and the commits it reverts, a tree's
// children and the state blobs its entries name; it returns the commit
// when it is one.
func objectRefs(kind object.Kind, body []byte, fn func(ref object.ID, role refRole)) (*object.Commit, error) {
	switch kind {
	case object.KindCommit:
		c, err := object.DecodeCommit(body)
		if err != nil {
			return nil, err
		}
		for _, p := range c.Parents {
			fn(p, refParent)
		}
		for _, e := range c.Events {
			fn(e, refEvent)
		}
		for _, r := range c.Reverts {
			fn(r, refReverted)
		}
		return c, nil
	case object.KindTree:
		t, err := object.DecodeTree(body)
		if err != nil {
			return nil, err
		}
		for _, c := range t.Children {
			if !c.IsZero() {
				fn(c, refChild)
			}
		}
		for _, e := range t.Entries {
			if e.State == nil {
				fn(e.StateID, refState)
			}
		}
	}
	return nil, nil
}

// thinSnapshots picks which snapshot records to keep: per model, the
// newest recent ones, and one per slice when history is cut into spread
// slices, or more, each at most gap events long. Snapshots of commits no
// longer reachable are dropped.
func thinSnapshots(snaps []pack.Record, offsets map[object.ID]uint64, recent, spread int, gap uint64) map[string]bool {
	byModel := map[object.ID][]snapshotOf{}
	for _, sn := range reachableSnapshots(snaps, offsets) {
		byModel[sn.model] = append(byModel[sn.model], sn)
	}
	keep := map[string]bool{}
	for _, list := range byModel {
		slices.SortFunc(list, func(a, b snapshotOf) int { return cmp.Compare(b.offset, a.offset) })
		keepSpread(list, recent, sliceWidth(list[0].offset, spread, gap), keep)
	}
	return keep
}

// keepSpread marks in kept, of one model's snapshots newest first, the
// newest recent and the newest of each slice of width events.
func keepSpread(list []snapshotOf, recent int, width uint64, kept map[string]bool) {
	seen := map[uint64]bool{}
	for i, sn := range list {
		bucket := sn.offset / width
		if i < recent || !seen[bucket] {
			kept[sn.key] = true
		}
		seen[bucket] = true
	}
}

// snapshotOf is a snapshot record of a reachable commit, parsed.
type snapshotOf struct {
	key           string // the record's key: commit, then model
	commit, model object.ID
	offset        uint64 // the commit's
}

// reachableSnapshots parses the snapshot records of the commits offsets
// holds (the reachable ones), in the records' order.
func reachableSnapshots(snaps []pack.Record, offsets map[object.ID]uint64) []snapshotOf {
	var out []snapshotOf
	for _, r := range snaps {
		if len(r.Key) != 2*object.IDSize {
			continue
		}
		commit := object.ID(r.Key[:32])
		if off, ok := offsets[commit]; ok {
			out = append(out, snapshotOf{key: string(r.Key), commit: commit, model: object.ID(r.Key[32:]), offset: off})
		}
	}
	return out
}

// sliceWidth is how many events of history one kept snapshot stands for,
// past the newest, in a model's history whose newest snapshot is at
// offset maxOff: a spread-th of it, at most gap.
func sliceWidth(maxOff uint64, spread int, gap uint64) uint64 {
	return max(min(maxOff/uint64(spread), gap), 1)
}

// keepAlongLines adds to kept, on each ref's first-parent line, the
// snapshots thinSnapshots' rule would keep on that line alone: the newest
// ones and one per slice. thinSnapshots slices each model's history by
// offset across lines, so branches of one length share slices and a
// branch could be left with a gap of several (a review found 41,000
// events where loads walk 24,096 at most). The line is followed by its
// skip links, no commit read past the first linked one; a line already
// followed (a branch's history below its fork) is left at the first
// snapshot at or below where they join. Where links are missing, nothing
// is added: the per-model rule stands.
func (s *Store) keepAlongLines(snaps []pack.Record, offsets map[object.ID]uint64, kept map[string]bool, opts GCOptions) {
	at := map[object.ID][]snapshotOf{} // snapshot commit → its records
	maxOff := map[object.ID]uint64{}
	for _, sn := range reachableSnapshots(snaps, offsets) {
		at[sn.commit] = append(at[sn.commit], sn)
		maxOff[sn.model] = max(maxOff[sn.model], sn.offset)
	}
	if len(at) == 0 {
		return
	}
	visited := map[object.ID]bool{}
	all := s.refs.All()
	for _, name := range slices.Sorted(maps.Keys(all)) { // the same refs, the same snapshots kept
		v := all[name]
		// Branches and a detached HEAD: a tag's line is mostly a branch's,
		// and a snapshot kept for each of many tags would switch
		// thinning off (a review: 2,000 tags kept every snapshot).
		if v.IsSymbolic() || v.ID.IsZero() || (name != refs.HEAD && !strings.HasPrefix(name, refs.HeadsPrefix)) {
			continue
		}
		// The line's snapshot commits, newest first; with joined, the
		// last is the first at or below where the line joins one
		// followed before.
		var line []object.ID
		cur, linked := v.ID, false
		for steps := 0; steps <= 100 && !cur.IsZero(); steps++ { // links lie at most 100 events apart
			if _, ok := offsets[cur]; !ok {
				break
			}
			if _, ok, err := s.linkLocked(cur); err == nil && ok {
				linked = true
				break
			}
			if len(at[cur]) > 0 {
				line = append(line, cur)
			}
			kind, body, _, err := s.get(cur)
			if err != nil || kind != object.KindCommit {
				break
			}
			c, err := object.DecodeCommit(body)
			if err != nil {
				break
			}
			cur = c.Parent()
		}
		if !linked {
			continue
		}
		joined, joinedAt := false, uint64(0)
		below := uint64(math.MaxUint64) // the last link's offset: each step must go back
		for !cur.IsZero() {
			if !joined && visited[cur] {
				joined, joinedAt = true, offsets[cur]
			}
			if len(at[cur]) > 0 {
				line = append(line, cur)
				if joined {
					break // the first snapshot at or below the join
				}
			}
			visited[cur] = true
			l, ok, err := s.linkLocked(cur)
			if err != nil || !ok || l.Offset >= below {
				break // a link that does not go back is damage (derived data): stop here
			}
			below = l.Offset
			if joined && l.Offset+2*opts.SnapshotGap < joinedAt {
				break // none near below the join: many branches of one line must not each walk it
			}
			cur = l.Prev
		}
		byModel := map[object.ID][]snapshotOf{}
		for i, commit := range line {
			for _, sn := range at[commit] {
				byModel[sn.model] = append(byModel[sn.model], sn)
				if joined && i == len(line)-1 {
					kept[sn.key] = true
				}
			}
		}
		for model, list := range byModel {
			keepSpread(list, opts.RecentSnapshots, sliceWidth(maxOff[model], opts.SpreadSnapshots, opts.SnapshotGap), kept)
		}
	}
}

// fileTimes maps segment numbers (0: the pack) to their files' times.
func (s *Store) fileTimes() (map[uint32]time.Time, error) {
	out := map[uint32]time.Time{}
	for n, seg := range s.segs {
		if st, err := seg.ReaderAt().(pack.File).Stat(); err == nil {
			out[n] = st.ModTime()
		}
	}
	if s.packData != nil {
		if st, err := s.packData.ReaderAt().(pack.File).Stat(); err == nil {
			out[0] = st.ModTime()
		}
	}
	return out, nil
}

// snapshotRecordsLocked returns the newest record per snapshot key.
func (s *Store) snapshotRecordsLocked() ([]pack.Record, error) {
	all, err := s.allRecordsLocked(RecSnapshot)
	if err != nil {
		return nil, err
	}
	latest := map[string]int{}
	var out []pack.Record
	for _, r := range all {
		if i, ok := latest[string(r.Key)]; ok {
			out[i] = r
			continue
		}
		latest[string(r.Key)] = len(out)
		out = append(out, r)
	}
	return out, nil
}

// allRecordsLocked returns every record of a kind, oldest first.
func (s *Store) allRecordsLocked(kind uint8) ([]pack.Record, error) {
	var out []pack.Record
	for i := len(s.indexes) - 1; i >= 0; i-- {
		for r, err := range s.indexes[i].Records(kind, nil, false) {
			if err != nil {
				return nil, err
			}
			out = append(out, pack.Record{Kind: r.Kind, Key: slices.Clone(r.Key), Value: slices.Clone(r.Value)})
		}
	}
	for _, r := range s.memRecs {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out, nil
}

// keptSinceLocked returns, for each unreachable object an earlier gc kept
// in the pack, the time its grace counts from (RecKept). A damaged record
// is passed over: the pack's own time, later than the one it held, keeps
// the object at least as long (fsck reports the record).
func (s *Store) keptSinceLocked() (map[object.ID]time.Time, error) {
	recs, err := s.allRecordsLocked(RecKept)
	if err != nil {
		return nil, err
	}
	out := make(map[object.ID]time.Time, len(recs))
	for _, r := range recs {
		ns, n := binary.Varint(r.Value)
		if len(r.Key) == object.IDSize && n > 0 && n == len(r.Value) {
			out[object.ID(r.Key)] = time.Unix(0, ns)
		}
	}
	return out, nil
}

// refUpdatesLocked is RefUpdates for a caller holding s.mu.
func (s *Store) refUpdatesLocked() (map[string][]refs.Update, error) {
	out := map[string][]refs.Update{}
	recs, err := s.allRecordsLocked(RecRef)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		u, err := refs.DecodeUpdate(string(r.Key), r.Value)
		if err != nil {
			return nil, err
		}
		if u.Delete {
			delete(out, u.Name)
			continue
		}
		out[u.Name] = append(out[u.Name], u)
	}
	return out, nil
}

// writePack writes the pack that replaces the segments up to replaced and
// the new segment after them. The pack's files are written whole first,
// as temporary files, while nothing else has changed: a gc that fails
// there (a full disk) leaves the repository as it found it (a helper's
// audit found a new segment and a pack file left behind). Then the new
// segment, whose checkpoint holds the refs, and then the pack goes live:
// its data, its records, and last its index. A failure before the index
// is renamed takes all of it back; from then on the pack is live.
func (s *Store) writePack(replaced uint32, files [3][]byte) error {
	suffixes := [3]string{packDataSuffix, packRecordsSuffix, packIndexSuffix}
	var names, temps []string
	takeBack := func(seg bool) {
		for _, name := range append(names, temps...) {
			_ = s.fsys.Remove(name)
		}
		if seg {
			_ = s.fsys.Remove(filepath.Join(s.logDir, segName(replaced+1)))
			_ = s.fsys.SyncDir(s.logDir)
			// Another process may have read the new segment: tell it
			// to read the folder again.
			_ = s.lock.bumpGen()
		}
	}
	for i, b := range files {
		tmp := filepath.Join(s.logDir, packName(replaced, suffixes[i])+".tmp")
		if err := pack.WriteTemp(s.fsys, tmp, b); err != nil {
			takeBack(false)
			return err
		}
		temps = append(temps, tmp)
	}
	if err := s.lock.bumpGen(); err != nil {
		takeBack(false)
		return err
	}
	if err := s.startSegment(replaced + 1); err != nil {
		// ErrCorrupt: the segment was there before, and stays.
		takeBack(!errors.Is(err, ErrCorrupt))
		return err
	}
	for i := range files {
		name := filepath.Join(s.logDir, packName(replaced, suffixes[i]))
		if err := s.fsys.Rename(temps[0], name); err != nil {
			takeBack(true)
			return err
		}
		names, temps = append(names, name), temps[1:]
		// Each name durable before the next: the index, which makes
		// the pack live, never without the files it indexes.
		if err := s.fsys.SyncDir(s.logDir); err != nil {
			if i < len(files)-1 {
				takeBack(true)
			}
			return err
		}
	}
	return s.lock.bumpGen()
}
