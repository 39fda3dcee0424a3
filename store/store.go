// Package store is evgit's storage engine: the log of segments, their
// indexes, the refs, and the transactions that change them.
//
// A transaction gathers objects and records (ref moves with their reflog
// entries, idempotency keys, snapshot entries) into one frame. Concurrent
// transactions of one process are grouped: the group takes the repository
// lock once, catches up with what other processes wrote, runs each
// transaction against the current refs, writes one frame per transaction
// in one write, and syncs once. Several processes share a repository
// through an flock on .evgit/lock; readers take no lock and catch up by
// reading the frames written since they last looked.
package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// Record kinds the store logs. Part of the format.
const (
	RecRef        = pack.RecordBase + 0 // key: ref name; value: refs.Update
	RecSymref     = pack.RecordBase + 1 // key: ref name; value: target ref name, empty to detach
	RecCheckpoint = pack.RecordBase + 2 // key: ref name; value: refs.EncodeValue; starts each segment
	RecIdem       = pack.RecordBase + 3 // key: branch (empty: any), 0, idempotency key; value: commit ID, events digest
	RecSnapshot   = pack.RecordBase + 4 // key: commit ID, model ID; value: tree ID
	RecLink       = pack.RecordBase + 5 // key: commit ID; value: a skip link (see Link)
	RecKept       = pack.RecordBase + 6 // key: object ID; value: varint Unix ns its grace counts from
	RecHeadLog    = pack.RecordBase + 7 // key: "HEAD"; value: refs.Update, an entry of HEAD's reflog only
	RecSegment    = pack.RecordBase + 8 // key: "segment"; value: u32le, the number of the segment whose checkpoint holds it
)

// segmentRecord is the record a segment's checkpoint frame starts with,
// naming the segment: a file of another segment put in its place
// (swapped, renamed, restored from a copy) is then found, not read as
// an older repository.
func segmentRecord(p *pack.Payload, n uint32) {
	p.AddRecord(RecSegment, []byte("segment"), binary.LittleEndian.AppendUint32(nil, n))
}

// SegmentRecordProblem says what is wrong with a RecSegment record found
// in segment n, or returns "": it must name n.
func SegmentRecordProblem(n uint32, value []byte) string {
	if len(value) != 4 {
		return fmt.Sprintf("its checkpoint names its segment in %d bytes, want 4", len(value))
	}
	if named := binary.LittleEndian.Uint32(value); named != n {
		return fmt.Sprintf("the file holds the frames of segment %d (a file swapped, renamed or restored in its place)", named)
	}
	return ""
}

// Errors of the store.
var (
	// ErrNotFound is returned when an object or ref does not exist.
	ErrNotFound = object.ErrNotFound
	// ErrCorrupt is returned when stored bytes are damaged.
	ErrCorrupt = pack.ErrCorrupt
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("repository closed")
	// ErrBroken is returned after a write failed: the store refuses
	// further work until it is reopened, which recovers a consistent state.
	ErrBroken = errors.New("store failed earlier and must be reopened")
	// ErrNotRepository is returned by Open for a folder that holds no
	// repository.
	ErrNotRepository = errors.New("not an evgit repository")
	// ErrTooLarge is returned for a transaction larger than a frame may
	// hold (pack.MaxFramePayload); nothing of it is written.
	ErrTooLarge = errors.New("transaction too large")
)

// Options tune a store. The zero value is sensible.
type Options struct {
	FS pack.FS // the file system; pack.OS when nil
	// SealObjects seals the active segment once this many objects were
	// written since the last seal, an object written twice counting
	// twice (default 65536); SealBytes once it is this large (default
	// 64 MiB). Smaller segments open faster.
	SealObjects int
	SealBytes   int64 // the segment size in bytes that seals it; 0: 64 MiB
	// CacheBytes is the budget of the decoded-frame cache (default 128 MiB).
	CacheBytes int
	// DropLeft drops from the cache at once each frame a walk leaves
	// (LeaveFrame), where by default it is kept, first to go when the
	// cache needs room: for a process that ends after one command, which
	// then stays small, where a long-lived one would find the frames
	// again on its next walk.
	DropLeft bool
	// BackgroundSeal builds a full segment's index on a goroutine of its
	// own: the commit that fills the segment only starts the next one,
	// and commits go on while the index is sorted, written and merged.
	BackgroundSeal bool
	// Salvage opens a repository that damage keeps from opening, for fsck
	// to report what is left: a damaged frame of a segment read at open
	// is skipped (Salvaged lists it) where it would fail the open, no torn
	// tail is cut and no file removed, and the store refuses every write.
	// A frame whose checksum holds but one of whose entries is malformed
	// may leave the entries before that one in the tables; reading them
	// reads the frame again and fails. A damaged index file is not read:
	// the segments it covers are scanned instead. Other damage (the format
	// file, a pack's files) still fails the open.
	Salvage bool
}

// Store is an open repository's storage.
type Store struct {
	fsys   pack.FS
	dir    string // the .evgit folder
	logDir string
	opts   Options

	mu       sync.RWMutex
	broken   error
	salvaged []Problem                // the frames a salvage open skipped
	segs     map[uint32]*pack.Segment // every segment, read side
	last     uint32                   // the newest segment
	scanned  int64                    // how far the newest segment was read
	indexes  []*pack.Index            // newest first
	covered  map[uint32]bool          // segments an index covers
	idxNames []string
	// listedLocked says the file set was last listed with the lock held.
	// Under the lock no other writer is half way through a seal or a gc,
	// so such a listing is whole; one taken without it may have seen a
	// change half made, whose writer, if it died, will never bump the
	// layout generation again to say so (catchUp).
	listedLocked bool
	// The objects of uncovered segments: memOrder lists them as written
	// (an object written again, again); mem maps the first memMapped of
	// them, and the rest on the first lookup (memTable). Writing then
	// costs an append: an import that exits once it is written never
	// builds the map.
	memOrder  []pack.IndexedObject
	mem       map[object.ID]pack.Location
	memMapped atomic.Int64
	memMu     sync.Mutex          // held by a reader that maps what was written
	memRecs   []pack.Record       // records of uncovered segments, in log order
	memIdem   map[string][][]byte // every value of a key, in log order
	// memBranchIdem: memIdem holds a key recorded under a branch.
	memBranchIdem bool
	// branchIdems remembers, for each index looked at, whether it holds
	// a key recorded under a branch (branchIdem); its own mutex, as
	// readers fill it.
	branchIdems struct {
		sync.Mutex
		of map[*pack.Index]bool
	}
	memSnap  map[string]object.ID
	memLinks map[object.ID][]byte
	refs     *refs.Table
	cache    *pack.FrameCache
	torn     int64  // bytes cut from a torn tail
	tornKept string // where the cut bytes were kept (lost-found), relative to dir
	gen      uint64 // the layout generation the store last listed
	stale    error  // set while the tables are half built by a failed reload
	// uncut is why a torn tail of the newest segment could not be cut
	// (its bytes could not be kept first); nil when none is left. Reads
	// stop at the tail; writes are refused while it is there.
	uncut error
	// The pack gc wrote, if any: its frames, its object index and the
	// records it kept (reflogs, idempotency keys, snapshots). Segments
	// numbered up to packNum are replaced by it.
	packNum  uint32
	packData *pack.Segment
	packIdx  *pack.PackIndex
	packRecs *pack.Index
	// writableSeg is the segment opened for appending, 0 if none.
	writableSeg uint32
	reloads     uint64 // how many times the tables were rebuilt
	packLoads   uint64 // how many loads found another pack than the one before (PackLoads)
	packSeen    uint32 // the pack the last load that succeeded found
	// removedObsolete is set when a locked load removed a file others
	// may have listed (removeObsolete); reload then advances the layout
	// generation.
	removedObsolete bool
	// sealing is the index being built in the background, if any. Set
	// by a writer holding s.mu; the seal clears it when done without
	// s.mu, which a group's transactions may hold for reading for long
	// (an import's check): waiting for it would stop every reader too.
	sealing atomic.Pointer[sealJob]
	// current is set while a group of this store holds the lock and its
	// tables have caught up under it: no other process can write until
	// the group lets the lock go, so a reader's Refresh has nothing to
	// catch up on and need not wait for the group's transactions.
	current atomic.Bool
	// refreshMu is held by a Refresh from its look at current until it
	// holds s.mu for writing, and by a group from before it takes s.mu
	// until it holds it for reading with current set: a Refresh that
	// found no group then never waits for s.mu while a group's
	// transactions hold it for reading, which would stop every new
	// reader behind it (sync.RWMutex) until they were done (a helper's
	// review).
	refreshMu sync.Mutex
	closing   bool // Close has begun: no new background seal
	closed    bool // Close is done: every call fails with ErrClosed
	packed    bool // format 2: events and commits are written packed

	lock  *flock
	group groupCommit
}

// formatLine is the content of .evgit/format that Init writes. Part of the
// format. Format 2 segments hold events and commits packed (docs/format.md
// §5); a format 1 repository, made before, is written whole as it always
// was, so that the evgit that made it still reads it.
const (
	formatLine  = "evgit 2\n"
	formatLine1 = "evgit 1\n"
)

const (
	segSuffix = ".seg"
	idxSuffix = ".idx"
)

func segName(n uint32) string { return fmt.Sprintf("%08d%s", n, segSuffix) }

// Init creates a repository's storage in dir (the .evgit folder), with
// HEAD on the given branch. It is harmless on an existing repository.
func Init(fsys pack.FS, dir, branch string) (created bool, err error) {
	if fsys == nil {
		fsys = pack.OS
	}
	if Initialized(fsys, dir) {
		return false, nil
	}
	logDir := filepath.Join(dir, "log")
	lockPath, formatPath, segPath := filepath.Join(dir, "lock"), filepath.Join(dir, "format"), filepath.Join(logDir, segName(1))
	madeLog := !existsIn(fsys, logDir)
	// A failed init beside this one takes back the folders it made: one
	// removed between MkdirAll's steps fails it, and is made again.
	err = fsys.MkdirAll(logDir, 0o755)
	for tries := 0; errors.Is(err, fs.ErrNotExist) && tries < 100; tries++ {
		err = fsys.MkdirAll(logDir, 0o755)
	}
	if err != nil {
		return false, err
	}
	// Inits of one folder at once, in goroutines or processes, take
	// turns: the first makes the repository, the others find it made.
	// Unlocked, two wrote the same temp files, and a second one's
	// segment replaced the first one's, with a commit appended to it
	// since (a helper's audit). Nothing is taken back before the lock
	// is held: another init may be making the repository meanwhile.
	lk, madeLock, err := lockInit(lockPath)
	if err != nil {
		return false, err
	}
	defer lk.f.Close()
	defer lk.unlock()
	if Initialized(fsys, dir) {
		return false, nil
	}
	// From here this init makes the repository. What it makes is taken
	// back if it fails, a full disk leaving no half repository (a
	// helper's audit), and while it holds the lock, so that no other
	// init's files go with it: the format file, unless an init stopped
	// half way left it (this one finishes that), the log folder when
	// empty, and the lock file last (an init waiting for it finds it
	// gone and opens it again: lockInit).
	madeFormat := !existsIn(fsys, formatPath)
	takeBack := func(err error) (bool, error) {
		_ = fsys.Remove(segPath)
		if madeFormat {
			_ = fsys.Remove(formatPath)
		}
		if madeLog {
			_ = fsys.Remove(logDir)
		}
		for _, p := range madeLock { // the lock file, then its folders (only when empty)
			_ = os.Remove(p)
		}
		_ = fsys.SyncDir(dir)
		return false, err
	}
	// An init that failed while this one waited took back the log folder.
	if !existsIn(fsys, logDir) {
		madeLog = true
		if err := fsys.MkdirAll(logDir, 0o755); err != nil {
			return takeBack(err)
		}
	}
	// The new folders' names durable in their parents.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := fsys.SyncDir(d); err != nil {
			return takeBack(err)
		}
	}
	if err := pack.WriteFileAtomic(fsys, formatPath, []byte(formatLine)); err != nil {
		return takeBack(err)
	}
	var p pack.Payload
	segmentRecord(&p, 1)
	p.AddRecord(RecCheckpoint, []byte("HEAD"), refs.EncodeValue(refs.Value{Symbolic: "refs/heads/" + branch}))
	frame := pack.AppendFrame(nil, p.Bytes(), false)
	if err := pack.WriteSegment(fsys, segPath, frame); err != nil {
		return takeBack(err)
	}
	// A lock file kept from a repository whose log was removed holds a
	// mark for its segment 1, which this one's would fall short of (a
	// helper's review: every command then refused the new repository).
	if size, crc, ok := pack.LastFrameHeader(frame); ok {
		lk.setMark(1, int64(len(pack.SegmentMagic)+len(frame)), size, crc)
	}
	return true, nil
}

// HoldsLog reports whether dir's log folder holds a segment or a pack:
// the log of a repository, which Init writes after the format file. Only
// a file named as evgit names them (00000001.seg, pack-00000002.pack)
// that starts with its magic counts: discovery asks this of every folder
// above the one it starts in, where a user's own log/capture.seg is
// nobody's repository (a helper's review).
func HoldsLog(fsys pack.FS, dir string) bool {
	if fsys == nil {
		fsys = pack.OS
	}
	logDir := filepath.Join(dir, "log")
	ents, err := fsys.ReadDir(logDir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		var magic []byte
		name := e.Name()
		if n, ok := strings.CutSuffix(name, segSuffix); ok && numbered(n) {
			magic = pack.SegmentMagic
		} else if n, ok := strings.CutPrefix(strings.TrimSuffix(name, ".pack"), "pack-"); ok && strings.HasSuffix(name, ".pack") && numbered(n) {
			magic = pack.PackMagic
		} else {
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		f, err := fsys.OpenFile(filepath.Join(logDir, name), os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		head := make([]byte, len(magic))
		n, _ := f.ReadAt(head, 0)
		f.Close()
		if n == len(head) && bytes.Equal(head, magic) {
			return true
		}
	}
	return false
}

// numbered reports whether s is 8 decimal digits, as segment and pack
// numbers are written in file names.
func numbered(s string) bool {
	return len(s) == 8 && strings.Trim(s, "0123456789") == ""
}

// existsIn reports whether path names something in its folder.
func existsIn(fsys pack.FS, path string) bool {
	ents, err := fsys.ReadDir(filepath.Dir(path))
	return err == nil && slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return e.Name() == filepath.Base(path) })
}

// Initialized reports whether dir holds a repository's storage: a
// segment in its log folder, the last step Init takes.
func Initialized(fsys pack.FS, dir string) bool {
	if fsys == nil {
		fsys = pack.OS
	}
	ents, err := fsys.ReadDir(filepath.Join(dir, "log"))
	if err != nil {
		return false
	}
	return slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return strings.HasSuffix(e.Name(), segSuffix) })
}

// IsFormatLine reports whether b is the content of a format file of a
// format this evgit reads.
func IsFormatLine(b []byte) bool {
	return string(b) == formatLine || string(b) == formatLine1
}

// Open opens the storage in dir (the .evgit folder), cutting a torn tail
// left by a crash if it can take the lock.
func Open(dir string, opts Options) (*Store, error) {
	if opts.FS == nil {
		opts.FS = pack.OS
	}
	if opts.SealObjects == 0 {
		opts.SealObjects = 1 << 16
	}
	if opts.SealBytes == 0 {
		opts.SealBytes = 64 << 20
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 128 << 20
	}
	s := &Store{
		fsys:   opts.FS,
		dir:    dir,
		logDir: filepath.Join(dir, "log"),
		opts:   opts,
		cache:  pack.NewFrameCache(opts.CacheBytes),
	}
	if b, err := pack.ReadRegular(filepath.Join(dir, "format")); errors.Is(err, ErrCorrupt) {
		return nil, err // there, but not a file
	} else if err != nil && HoldsLog(opts.FS, dir) {
		// init writes the format file before the first segment: a log
		// without one is a repository that lost it.
		return nil, fmt.Errorf("%w: %s holds an evgit log but no format file (damaged?)", ErrCorrupt, dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		// Not readable (permission, too many open files): said as it
		// is, not as no repository (a helper's audit).
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err // the path is named already
		}
		return nil, fmt.Errorf("cannot read %s: %w", filepath.Join(dir, "format"), err)
	} else if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	} else if string(b) == formatLine {
		s.packed = true
	} else if string(b) != formatLine1 {
		// Named by its file, and cut short: a damaged one may hold
		// anything (a helper's audit saw 2 KB of escaped bytes).
		shown := string(b)
		if len(shown) > 32 {
			shown = shown[:32] + "..."
		}
		return nil, fmt.Errorf("%w: %s has format %q (its file %s); this evgit reads %q and %q", ErrCorrupt, dir, shown, filepath.Join(dir, "format"), formatLine1, formatLine)
	}
	lk, err := openLock(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	s.lock = lk
	s.group.s = s
	// Take the lock for the first load, if it is free, so a torn tail can
	// be cut. Another process may hold it for long: an import's dry run
	// holds it while it reads its input, which may be a pipe this very
	// process is to write (evgit export | evgit import -), so waiting for
	// it could wait for good. Reading needs no lock; the first write
	// takes it and lists the log again under it.
	locked, err := s.lock.tryLock()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.reload(locked && !opts.Salvage)
	if err == nil && locked && !opts.Salvage {
		_ = s.removeTemps(true) // best effort: they only take room
	}
	if opts.Salvage {
		s.broken = fmt.Errorf("%w: opened to salvage what damage left, read only", ErrBroken)
	}
	s.mu.Unlock()
	if locked {
		s.lock.unlock()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Readable returns why the store cannot be read, or nil: ErrClosed after
// Close, or the error of a view gone stale. A reader that read ahead
// checks it before handing on what it read, as each read checks it.
func (s *Store) Readable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readable()
}

// Closed reports whether Close was called.
func (s *Store) Closed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Close releases the store's files, once the write in flight and a
// background seal are done. Every later call fails with ErrClosed; a
// second Close does nothing.
func (s *Store) Close() error {
	if s.lock == nil {
		s.closeFiles() // an Open that failed before taking the lock file
		return nil
	}
	// Not lockFresh: a store that is broken, or opened to salvage, must
	// close its files too, and catching up would refuse. Nor the lock
	// across processes: closing writes nothing, and another process may
	// hold it until this one exits (`evgit export | evgit import` on one
	// repository: the import reads its input, the export's end, under it).
	for {
		s.waitSeal()
		if err := s.lock.lockLocal(); err != nil {
			return nil // the lock file is closed: closed already
		}
		s.mu.Lock()
		if s.sealing.Load() == nil {
			break
		}
		s.mu.Unlock()
		s.lock.unlockLocal()
	}
	defer s.mu.Unlock()
	defer s.lock.unlockLocal()
	if s.closed {
		return nil
	}
	s.closing, s.closed = true, true
	s.closeFiles()
	s.lock.closeHeld()
	return nil
}

func (s *Store) closeFiles() {
	for _, seg := range s.segs {
		seg.Close()
	}
	for _, ix := range s.indexes {
		ix.Close()
	}
	if s.packData != nil {
		s.packData.Close()
	}
	if s.packIdx != nil {
		s.packIdx.Close()
	}
	s.segs, s.indexes, s.packData, s.packIdx, s.packRecs = nil, nil, nil, nil, nil
}

// Dir returns the .evgit folder.
func (s *Store) Dir() string { return s.dir }

// TornKept returns where the bytes of the last torn tail cut (TornBytes)
// were kept, relative to the .evgit folder; "" when nothing was cut.
func (s *Store) TornKept() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tornKept
}

// TornBytes returns how many bytes of a torn tail the store cut: at Open,
// or, opened while another process held the lock, at its first write.
func (s *Store) TornBytes() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.torn
}

// listing is what the log folder holds.
type listing struct {
	segs  []uint32
	idx   []string // index file names, sorted
	packs []uint32 // packs whose three files are all there
	// partial are packs with some of their files only: older than the
	// newest whole one, or a gc that died before its .pidx made the pack
	// live (checkPackFiles refuses any other).
	partial []uint32
	names   []string // every index and pack file: what refresh compares
}

func (s *Store) list() (listing, error) {
	ents, err := s.fsys.ReadDir(s.logDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return listing{}, fmt.Errorf("%w: %s", ErrNotRepository, s.dir)
		}
		return listing{}, err
	}
	var l listing
	// The files of each pack seen (1 .pack, 2 .ridx, 4 .pidx): a pack
	// is whole with all three, and checkPackFiles tells one that lost a
	// file from one a gc never finished.
	packFiles := map[uint32]int{}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, segSuffix):
			n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 32)
			if err == nil {
				l.segs = append(l.segs, uint32(n))
			}
		case strings.HasSuffix(name, idxSuffix):
			l.idx = append(l.idx, name)
			l.names = append(l.names, name)
		case strings.HasPrefix(name, "pack-"):
			for i, suffix := range []string{packDataSuffix, packRecordsSuffix, packIndexSuffix} {
				v, ok := strings.CutSuffix(strings.TrimPrefix(name, "pack-"), suffix)
				if n, err := strconv.ParseUint(v, 10, 32); ok && err == nil {
					packFiles[uint32(n)] |= 1 << i
					if suffix == packIndexSuffix {
						l.names = append(l.names, name)
					}
				}
			}
		}
	}
	for n, have := range packFiles {
		if have == 7 {
			l.packs = append(l.packs, n)
		} else {
			l.partial = append(l.partial, n)
		}
	}
	slices.Sort(l.segs)
	slices.Sort(l.idx)
	slices.Sort(l.names)
	slices.Sort(l.packs)
	if err := checkPackFiles(packFiles, l); err != nil {
		return l, err
	}
	if len(l.segs) == 0 {
		return l, fmt.Errorf("%w: %s has no segments", ErrNotRepository, s.dir)
	}
	return l, nil
}

// checkPackFiles reports a pack that lost one of its files. gc writes the
// .pack, the .ridx, then the .pidx, which makes the pack live, and only
// then removes the segments it replaces: a pack with its .pidx but not
// the others lost them, and one without its .pidx whose segments are gone
// lost that. A pack older than the newest whole one is obsolete, and one
// without its .pidx beside its segments is a gc that never finished:
// both are ignored. A pack with nothing after it lost its newest segment.
func checkPackFiles(files map[uint32]int, l listing) error {
	newest := uint32(0)
	if len(l.packs) > 0 {
		newest = l.packs[len(l.packs)-1]
	}
	for _, n := range slices.Sorted(maps.Keys(files)) {
		have := files[n]
		if have == 7 || n < newest {
			continue
		}
		missing := packName(n, packIndexSuffix)
		switch {
		case have&1 == 0:
			missing = packName(n, packDataSuffix)
		case have&2 == 0:
			missing = packName(n, packRecordsSuffix)
		}
		switch {
		case have&4 != 0:
			return fmt.Errorf("%w: %s is missing, but pack %d is live (its index is there)", ErrCorrupt, missing, n)
		case len(l.segs) == 0 || l.segs[0] > n:
			return fmt.Errorf("%w: %s is missing, and the segments pack %d replaced are gone", ErrCorrupt, missing, n)
		}
	}
	if newest > 0 && (len(l.segs) == 0 || l.segs[len(l.segs)-1] <= newest) {
		return fmt.Errorf("%w: no segment after pack %d: %s is missing", ErrCorrupt, newest, segName(newest+1))
	}
	return nil
}

// removeObsolete removes a file of the log folder that a load found
// obsolete (replaced by a pack or a merged index); the caller holds the
// lock.
func (s *Store) removeObsolete(path string) {
	if s.fsys.Remove(path) == nil {
		s.removedObsolete = true
	}
}

// reload reads the log's layout from scratch: indexes, the uncovered
// segments into memory, and the refs from the newest segment. With locked
// set the caller holds the repository lock and a torn tail is cut.
//
// A reload that fails leaves the store's tables half built: until a later
// reload succeeds the store is stale, reads fail instead of trusting the
// tables, and the next Refresh or write reloads from scratch.
func (s *Store) reload(locked bool) error {
	var err error
	for range 5 {
		// A writer may remove files (an index merge, gc) between our
		// listing and our opening them; list again.
		if err = s.reloadOnce(locked); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if s.removedObsolete {
		// Files others may have listed are gone: say so, as a seal or
		// gc does before it changes the file set (fsck reruns a check
		// that saw the generation move; found by a helper's review).
		s.removedObsolete = false
		if berr := s.lock.bumpGen(); berr != nil && err == nil {
			err = berr
		} else if berr == nil {
			s.gen = s.lock.gen() // the tables are of the file set as it is now
		}
	}
	if err != nil {
		s.stale = fmt.Errorf("reloading the log failed: %w", err)
		// Whatever the files hold now may not be what the tables held:
		// what a count vouched for is vouched for no more (PackLoads).
		s.packLoads++
	} else {
		s.stale = nil
		if s.packNum != s.packSeen {
			s.packLoads++
			s.packSeen = s.packNum
		}
	}
	return err
}

func (s *Store) reloadOnce(locked bool) error {
	s.gen = s.lock.gen()
	s.listedLocked = locked
	l, err := s.list()
	if err != nil {
		return err
	}
	s.closeFiles()
	s.segs = map[uint32]*pack.Segment{}
	s.covered = map[uint32]bool{}
	s.reloads++
	s.resetMem(nil, locked)
	s.memRecs = nil
	s.memIdem, s.memBranchIdem = map[string][][]byte{}, false
	s.memSnap = map[string]object.ID{}
	s.memLinks = map[object.ID][]byte{}
	s.refs = refs.NewTable()
	s.writableSeg = 0
	s.salvaged = nil
	s.cache.Clear()
	s.idxNames = l.names
	if locked && len(l.partial) > 0 {
		// gc writes its pack under the lock: with it held, a partial
		// pack is a dead gc's, which nothing reads.
		for _, n := range l.partial {
			for _, suf := range []string{packIndexSuffix, packRecordsSuffix, packDataSuffix} {
				s.removeObsolete(filepath.Join(s.logDir, packName(n, suf)))
			}
		}
		_ = s.fsys.SyncDir(s.logDir)
	}
	s.packNum = 0
	if len(l.packs) > 0 {
		s.packNum = l.packs[len(l.packs)-1]
		if err := s.openPack(l, locked); err != nil {
			return err
		}
		l.segs = slices.DeleteFunc(l.segs, func(n uint32) bool { return n <= s.packNum })
		if len(l.segs) == 0 {
			return fmt.Errorf("%w: no segment after pack %d", ErrCorrupt, s.packNum)
		}
	}
	for i := len(l.idx) - 1; i >= 0; i-- {
		ix, err := pack.OpenIndex(s.fsys, filepath.Join(s.logDir, l.idx[i]))
		if err == nil && s.opts.Salvage {
			// Checked whole now: a salvage open reads the segments of a
			// damaged index instead of the index.
			if err = ix.Verify(); err != nil {
				ix.Close()
			}
		}
		if err != nil {
			if s.opts.Salvage && errors.Is(err, ErrCorrupt) {
				s.salvaged = append(s.salvaged, Problem{File: l.idx[i], Offset: -1, Err: fmt.Errorf("%w; not read: the segments it covers were scanned instead (an index is derived data: removing it lets the repository open)", err)})
				continue
			}
			return err
		}
		if s.packNum > 0 && slices.Min(ix.Segments()) <= s.packNum {
			// A gc replaced what it covers, or part of it: an index
			// written by a process that had not seen the pack yet may
			// cover a packed segment and a newer one, which is then
			// scanned.
			ix.Close()
			if locked {
				s.removeObsolete(ix.Path)
			}
			continue
		}
		if err := coversMissing(ix, l.segs); err != nil {
			ix.Close()
			if s.opts.Salvage {
				s.salvaged = append(s.salvaged, Problem{File: l.idx[i], Offset: -1, Err: err})
				continue
			}
			return err
		}
		s.indexes = append(s.indexes, ix)
		for _, n := range ix.Segments() {
			s.covered[n] = true
		}
	}
	s.indexes = s.dropOverlapping(s.indexes, locked)
	if s.packRecs != nil {
		s.indexes = append(s.indexes, s.packRecs)
	}
	// Newest index first; sort by the highest segment covered.
	sortIndexes(s.indexes)
	s.last = l.segs[len(l.segs)-1]
	// Every seal starts the next segment before it writes the index, and
	// gc its new segment before the pack: an indexed newest segment means
	// that the segment after it is gone, with the commits it held. Reading
	// on would serve the refs as they were before it, and the next write
	// would start a segment over the gap and hide it for good.
	if s.covered[s.last] {
		return fmt.Errorf("%w: segment %d is indexed, so a segment after it was started, but %s is missing: the commits it held are lost; restore it from a backup", ErrCorrupt, s.last, segName(s.last+1))
	}
	s.uncoverAfterGap(l.segs)
	for _, n := range l.segs {
		path := filepath.Join(s.logDir, segName(n))
		seg, err := pack.OpenSegment(s.fsys, path, n, n == s.last && !s.opts.Salvage)
		if err != nil && n == s.last {
			seg, err = pack.OpenSegment(s.fsys, path, n, false)
		} else if n == s.last {
			s.writableSeg = n
		}
		if err != nil {
			return err
		}
		s.segs[n] = seg
	}
	for _, n := range l.segs {
		if s.covered[n] && n != s.last {
			continue
		}
		if err := s.scanSegment(n, 0, locked); err != nil {
			return err
		}
	}
	return nil
}

// notExistMark adds fs.ErrNotExist to an error without changing its text.
var notExistMark = markError{fs.ErrNotExist}

type markError struct{ err error }

func (m markError) Error() string { return "" }
func (m markError) Unwrap() error { return m.err }

// coversMissing refuses an index that covers a segment with no file. A
// damaged index may name a segment it never covered: it is checked whole
// then, and reported by name (derived data: removing it lets the
// repository open, its segments scanned instead), where reading on would
// let the next seal start that segment and leave the repository unable to
// open with an error that blames a segment that was never lost. An intact
// index that covers a missing segment means the segment's commits are
// lost.
func coversMissing(ix *pack.Index, segs []uint32) error {
	for _, n := range ix.Segments() {
		if _, ok := slices.BinarySearch(segs, n); ok {
			continue
		}
		name := filepath.Base(ix.Path)
		if err := ix.Verify(); err != nil {
			return fmt.Errorf("index %s is damaged (%w): it is derived data, remove it and the segments it covers are read instead", name, err)
		}
		// Also fs.ErrNotExist, which makes reload list the folder again:
		// a reader's listing, taken without the lock in several system
		// calls while a gc removed old files, can hold an old index
		// without its segment and without the pack that replaced both.
		return fmt.Errorf("%w: index %s covers segment %d, but %s is missing: the commits it held are lost; restore it from a backup%w", ErrCorrupt, name, n, segName(n), notExistMark)
	}
	return nil
}

// uncoverAfterGap keeps records in log order when a segment older than a
// covered one has no index (its index file was lost: derived data, so
// one deleted by hand, say). Records are read as the indexes hold them,
// oldest first, then the uncovered segments' from memory, which is log
// order only while every uncovered segment is newer than every covered
// one; otherwise a reflog would read out of order and name other commits.
// So the indexes of the segments after the first uncovered one are not
// used, and those segments are scanned like it. The next seal indexes
// them all again (its index subsumes the files left out).
func (s *Store) uncoverAfterGap(segs []uint32) {
	i := slices.IndexFunc(segs, func(n uint32) bool { return !s.covered[n] })
	if i < 0 {
		return
	}
	first := segs[i]
	s.indexes = slices.DeleteFunc(s.indexes, func(ix *pack.Index) bool {
		if ix == s.packRecs || slices.Max(ix.Segments()) < first {
			return false
		}
		for _, n := range ix.Segments() {
			delete(s.covered, n)
		}
		ix.Close()
		return true
	})
}

// dropOverlapping leaves out the indexes disjointIndexes does not keep, and
// takes the segments only they covered for uncovered: those are scanned
// instead, and the next seal covers them again. An index another covers
// whole is what a crash in the middle of an index merge leaves (the
// merged index is written before the old ones are removed); indexes that
// share segments with neither covering the other are what two merges
// that raced left when the first was killed between publishing its index
// and removing what it merged, and the second merged some of those
// (mergeNext no longer does). Reading both would count the records of the
// common segments twice. With the lock held the files are removed.
func (s *Store) dropOverlapping(ixs []*pack.Index, locked bool) []*pack.Index {
	keep, drop := disjointIndexes(ixs)
	if len(drop) == 0 {
		return ixs
	}
	kept := map[uint32]bool{}
	for _, ix := range keep {
		for _, n := range ix.Segments() {
			kept[n] = true
		}
	}
	for _, ix := range drop {
		for _, n := range ix.Segments() {
			if !kept[n] {
				delete(s.covered, n)
			}
		}
		ix.Close()
		if locked {
			s.removeObsolete(ix.Path)
		}
	}
	return slices.DeleteFunc(ixs, func(ix *pack.Index) bool { return slices.Contains(drop, ix) })
}

// disjointIndexes splits indexes into those to read, no two of which cover a
// segment in common, and those to leave out: taken largest first (most
// segments, then the newest), an index that shares a segment with one
// already taken is left out. So an index another covers whole is left
// out, and of two that overlap the smaller.
func disjointIndexes(ixs []*pack.Index) (keep, drop []*pack.Index) {
	order := slices.Clone(ixs)
	slices.SortStableFunc(order, func(a, b *pack.Index) int {
		if d := len(b.Segments()) - len(a.Segments()); d != 0 {
			return d
		}
		return cmpUint32(slices.Max(b.Segments()), slices.Max(a.Segments()))
	})
	seen := map[uint32]bool{}
	for _, ix := range order {
		if slices.ContainsFunc(ix.Segments(), func(n uint32) bool { return seen[n] }) {
			drop = append(drop, ix)
			continue
		}
		keep = append(keep, ix)
		for _, n := range ix.Segments() {
			seen[n] = true
		}
	}
	return keep, drop
}

func containsAll(set, sub []uint32) bool {
	for _, x := range sub {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scanSegment reads segment n from off, adding what it holds to memory.
// Only the newest segment may end in a torn tail; it is cut when the
// caller holds the lock.
func (s *Store) scanSegment(n uint32, off int64, locked bool) error {
	seg := s.segs[n]
	isLast := n == s.last
	if isLast && locked {
		s.uncut = nil // scanned again from where it was left
	}
	// Read before the segment: what it says was synced before the scan
	// began, so a reader racing a writer finds those frames whole.
	var durable int64
	mark, ok := s.lock.mark()
	if ok = ok && isLast && mark.Seg == n; ok {
		durable = mark.End
	}
	frames := 0
	absorb := func(off int64, payload []byte) error {
		frames++
		return s.absorb(n, off, payload, !s.covered[n], isLast)
	}
	var torn int64
	var err error
	if s.opts.Salvage && off == 0 {
		torn, err = seg.ScanPast(isLast, absorb, func(off, next int64, err error) {
			s.salvaged = append(s.salvaged, Problem{File: segName(n), Offset: off, Err: fmt.Errorf("skipped: %w (%d bytes unreadable, to offset %d)", err, next-off, next)})
		})
	} else {
		torn, err = seg.Scan(off, off == 0, absorb)
	}
	if err != nil {
		return err
	}
	if off == 0 && frames == 0 {
		// A segment is created whole with its checkpoint frame (temp
		// file, sync, rename): one without a frame lost its contents,
		// and read on it would be a repository without refs.
		return fmt.Errorf("%w: segment %d holds no frame, not even the checkpoint every segment starts with", ErrCorrupt, n)
	}
	if durable > seg.Size() {
		// A crash tears only what was never synced: frames that end
		// short of what was are damage (a flipped bit in the last frame,
		// a file cut short), never a torn tail to cut.
		err := fmt.Errorf("%w: segment %d: its whole frames end at offset %d, but %d bytes of it were synced (the lock file's mark): damaged or cut short", ErrCorrupt, n, seg.Size(), durable)
		if !s.opts.Salvage {
			return err
		}
		s.salvaged = append(s.salvaged, Problem{File: segName(n), Offset: seg.Size(), Err: err})
	}
	if ok && durable > off {
		// The frame the mark names was scanned now: it must be there.
		if why := MarkFrameProblem(seg.ReaderAt(), seg.Size(), mark); why != "" {
			err := fmt.Errorf("%w: segment %d: %s", ErrCorrupt, n, why)
			if !s.opts.Salvage {
				return err
			}
			s.salvaged = append(s.salvaged, Problem{File: segName(n), Offset: durable, Err: err})
		}
	}
	if torn > 0 {
		if !isLast {
			return fmt.Errorf("%w: segment %d ends in a torn frame but is not the newest", ErrCorrupt, n)
		}
		// A process that may only read leaves the tail to the next
		// writer; it reads up to the tail.
		if locked && s.writable(n) {
			kept, err := s.keepTorn(n, seg, torn)
			if err != nil {
				// No room to keep it (a full disk): the tail stays,
				// which reads never reach, and writes are refused
				// until a later try keeps and cuts it.
				s.uncut = err
				s.scanned = seg.Size()
				return nil
			}
			if err := seg.Truncate(); err != nil {
				return err
			}
			s.torn += torn
			s.tornKept = kept
		}
	}
	if isLast {
		s.scanned = seg.Size()
	}
	return nil
}

// Salvaged returns the damaged frames a store opened with
// Options.Salvage skipped; the objects and records they held are not in
// the store.
func (s *Store) Salvaged() []Problem {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.salvaged)
}

// LostFound is the folder, in the .evgit folder, where the bytes of torn
// tails are kept before they are cut.
const LostFound = "lost-found"

// keepTorn copies the torn tail of segment n, torn bytes from its logical
// end, to lost-found/<segment>-<offset>.torn before it is cut, and returns
// that path (relative to the .evgit folder). A crash can only tear what
// was never acknowledged, but a flipped bit in the last frame looks the
// same (pack.Segment.Scan) where the lock file holds no durable mark (an
// older evgit's): the bytes stay, should they be a commit someone was
// told was durable.
func (s *Store) keepTorn(n uint32, seg *pack.Segment, torn int64) (string, error) {
	b := make([]byte, torn)
	if _, err := seg.ReaderAt().ReadAt(b, seg.Size()); err != nil {
		return "", fmt.Errorf("keeping the torn tail of segment %d: %w", n, err)
	}
	if err := s.fsys.MkdirAll(filepath.Join(s.dir, LostFound), 0o755); err != nil {
		return "", fmt.Errorf("keeping the torn tail of segment %d: %w", n, err)
	}
	// Appends after a cut start where it was, so a later tear may end at
	// the same offset: each gets a name of its own.
	have := map[string]bool{}
	if ents, err := s.fsys.ReadDir(filepath.Join(s.dir, LostFound)); err == nil {
		for _, e := range ents {
			have[e.Name()] = true
		}
	}
	name := fmt.Sprintf("%08d-%d.torn", n, seg.Size())
	for i := 2; have[name]; i++ {
		name = fmt.Sprintf("%08d-%d.%d.torn", n, seg.Size(), i)
	}
	rel := filepath.Join(LostFound, name)
	if err := s.fsys.SyncDir(s.dir); err != nil {
		return "", fmt.Errorf("keeping the torn tail of segment %d: %w", n, err)
	}
	if err := pack.WriteFileAtomic(s.fsys, filepath.Join(s.dir, rel), b); err != nil {
		return "", fmt.Errorf("keeping the torn tail of segment %d: %w", n, err)
	}
	return rel, nil
}

// absorb takes the entries of one frame into memory: objects into the
// in-memory index when the segment has no index yet, records always (refs
// come from the newest segment only).
func (s *Store) absorb(seg uint32, off int64, payload []byte, index, refsToo bool) error {
	entries, err := pack.ParseEntries(payload)
	var ids []object.ID
	if err == nil && index {
		ids, err = pack.ObjectIDs(entries) // packed entries rebuilt, each object hashed once
	}
	if err != nil {
		return fmt.Errorf("segment %d frame %d: %w", seg, off, err)
	}
	if off > 1<<32-1 {
		return fmt.Errorf("%w: segment %d larger than 4 GiB", ErrCorrupt, seg)
	}
	for slot, e := range entries {
		if e.IsObject() {
			if !index {
				continue
			}
			id := ids[slot]
			if _, dup := s.memTable()[id]; !dup {
				s.addMem(id, pack.Location{Seg: seg, Off: uint32(off), Slot: uint32(slot)})
			}
			continue
		}
		key, value, err := e.Record()
		if err != nil {
			return err
		}
		if e.Kind == RecSegment {
			if why := SegmentRecordProblem(seg, value); why != "" {
				return fmt.Errorf("%w: segment %d: %s", ErrCorrupt, seg, why)
			}
		}
		if index {
			s.addMemRecord(pack.Record{Kind: e.Kind, Key: key, Value: value})
		}
		if refsToo {
			if err := s.applyRefRecord(e.Kind, key, value); err != nil {
				return err
			}
		}
	}
	return nil
}

// resetMem empties the table of objects of uncovered segments, then
// lists the objects of from. A writer's list is made the size a segment
// grows to before it is sealed, with room for the write that crosses that
// size (an import's batch of ten thousand events brings about eleven
// thousand objects, and a snapshot tree), so that it rarely grows: only
// while a background seal runs late. The caller holds s.mu.
func (s *Store) resetMem(from []pack.IndexedObject, writer bool) {
	n := len(from)
	if writer {
		n = max(n, s.opts.SealObjects+s.opts.SealObjects/2)
	}
	s.memOrder = append(make([]pack.IndexedObject, 0, n), from...)
	s.mem = nil
	s.memMapped.Store(-1)
}

// addMem adds an object of an uncovered segment to memory; s.mu is held
// for writing.
func (s *Store) addMem(id object.ID, loc pack.Location) {
	s.memOrder = append(s.memOrder, pack.IndexedObject{ID: id, Loc: loc})
}

// memTable returns the map of the objects of uncovered segments, mapping
// first what was added since the last call. s.mu is held, for reading or
// writing: readers take turns at the mapping under memMu, and one that
// finds everything mapped (memMapped, -1 while there is no map) reads the
// map while nobody writes it (only a reader that finds something unmapped
// writes it, and nothing is added while s.mu is held for reading).
func (s *Store) memTable() map[object.ID]pack.Location {
	if int(s.memMapped.Load()) == len(s.memOrder) {
		return s.mem
	}
	s.memMu.Lock()
	defer s.memMu.Unlock()
	done := int(s.memMapped.Load())
	if done < 0 || s.mem == nil {
		s.mem, done = make(map[object.ID]pack.Location, max(len(s.memOrder), 64)), 0
	}
	for _, o := range s.memOrder[done:] {
		s.mem[o.ID] = o.Loc
	}
	s.memMapped.Store(int64(len(s.memOrder)))
	return s.mem
}

// addMemRecord adds a record of an uncovered segment to memory.
func (s *Store) addMemRecord(r pack.Record) {
	s.memRecs = append(s.memRecs, r)
	switch r.Kind {
	case RecIdem:
		s.memIdem[string(r.Key)] = append(s.memIdem[string(r.Key)], r.Value)
		s.memBranchIdem = s.memBranchIdem || len(r.Key) > 0 && r.Key[0] != 0
	case RecSnapshot:
		if len(r.Value) == object.IDSize {
			s.memSnap[string(r.Key)] = object.ID(r.Value)
		}
	case RecLink:
		if len(r.Key) == object.IDSize {
			s.memLinks[object.ID(r.Key)] = r.Value
		}
	}
}

func (s *Store) applyRefRecord(kind uint8, key, value []byte) error {
	switch kind {
	case RecCheckpoint:
		v, err := refs.DecodeValue(value)
		if err != nil {
			return err
		}
		s.refs.Set(string(key), v)
	case RecRef:
		u, err := refs.DecodeUpdate(string(key), value)
		if err != nil {
			return err
		}
		s.refs.Apply(u)
	case RecSymref:
		if len(value) == 0 {
			// Detaching keeps HEAD's ID, which a RecRef sets next.
			id, _, _ := s.refs.Resolve(string(key))
			s.refs.Set(string(key), refs.Value{ID: id})
		} else {
			s.refs.Set(string(key), refs.Value{Symbolic: string(value)})
		}
	}
	return nil
}

// Refresh catches up with what other processes wrote since the store last
// looked: new frames, new segments, new or merged indexes.
func (s *Store) Refresh() error {
	s.refreshMu.Lock()
	if s.current.Load() {
		s.refreshMu.Unlock()
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.broken != nil {
			return s.broken
		}
		return s.readable()
	}
	// Most often nothing was written since: that is found holding the
	// tables for reading, so that readers do not take turns at holding
	// them for writing (each read of the facade refreshes first).
	s.mu.RLock()
	nothing := s.nothingNew()
	s.mu.RUnlock()
	if nothing {
		s.refreshMu.Unlock()
		return nil
	}
	s.mu.Lock()
	s.refreshMu.Unlock()
	defer s.mu.Unlock()
	return s.refresh(false)
}

// nothingNew reports whether a reader's catch-up would find nothing to
// read, as catchUp's fast path decides it: the same layout generation,
// no segment after the newest, no durable mark past what was scanned of
// it (scanSegment's check), and no frame after that. s.mu is held for
// reading; nothing is changed.
func (s *Store) nothingNew() bool {
	if s.closed || s.broken != nil || s.stale != nil || s.lock.gen() != s.gen {
		return false
	}
	if !s.listedLocked && s.exists(segName(s.last+1)) {
		return false
	}
	if m, ok := s.lock.mark(); ok && m.Seg == s.last && m.End > s.scanned {
		// More was synced than was read: a frame to read, or one lost,
		// which catching up reports (a helper's review).
		return false
	}
	seg := s.segs[s.last]
	return seg != nil && seg.NothingAt(s.scanned)
}

func (s *Store) refresh(locked bool) error {
	if s.closed {
		return ErrClosed
	}
	if s.broken != nil {
		return s.broken
	}
	if s.stale != nil {
		if err := s.reload(locked); err != nil {
			return err
		}
	} else if err := s.catchUp(locked); err != nil {
		// Part of what was read may be in the tables already: trust
		// nothing until a reload from scratch succeeds.
		if s.stale == nil {
			s.stale = fmt.Errorf("catching up with the log failed: %w", err)
		}
		return err
	}
	if locked && s.uncut != nil {
		// A writer would append after the torn tail it could not cut.
		return fmt.Errorf("cannot write: %w", s.uncut)
	}
	return nil
}

// catchUp reads what other processes wrote since the store last looked.
func (s *Store) catchUp(locked bool) error {
	if locked && !s.listedLocked {
		// The first write after a load without the lock (an Open that
		// found it held) loads again as a locked Open does: from each
		// segment's start, so that a torn tail is cut, whatever its
		// first bytes, before anything is appended after it.
		return s.reload(true)
	}
	g := s.lock.gen()
	fast := g == s.gen
	switch {
	case fast && locked:
		// A writer trusts only a listing taken under the lock (see
		// listedLocked): appending to a segment another writer sealed
		// would put a commit where no ref and no index sees it.
		fast = s.writableSeg == s.last && s.listedLocked
	case fast && !s.listedLocked:
		// A reader's listing may be as partial; the segment a seal or a
		// gc starts after the newest says so.
		fast = !s.exists(segName(s.last + 1))
	}
	if fast {
		return s.scanSegment(s.last, s.scanned, locked)
	}
	l, err := s.list()
	if err != nil {
		return err
	}
	last := l.segs[len(l.segs)-1]
	if !slices.Equal(l.names, s.idxNames) || last < s.last {
		return s.reload(locked)
	}
	if locked {
		// The writer needs the newest segment open for writing.
		if last != s.last || !s.writable(last) {
			return s.reload(true)
		}
		// The file set listed under the lock is the one the tables hold.
		s.listedLocked, s.gen = true, g
	}
	if err := s.scanSegment(s.last, s.scanned, locked); err != nil {
		return err
	}
	if last != s.last {
		return s.reload(locked)
	}
	return nil
}

func (s *Store) writable(n uint32) bool { return s.writableSeg == n }

// lookup finds an object's location.
func (s *Store) lookup(id object.ID) (pack.Location, bool) {
	if lookupSeen != nil {
		lookupSeen(id)
	}
	if loc, ok := s.memTable()[id]; ok {
		return loc, true
	}
	for _, ix := range s.indexes {
		if loc, ok := ix.Lookup(id); ok {
			return loc, true
		}
	}
	return pack.Location{}, false
}

// ReadOrder sorts ids into the order they are read cheapest: by where
// they lie, so that the objects of one frame come together and frames
// come in file order (the pack first); objects not found come last, in
// the order given. A reader of many objects decodes each frame once,
// where another order may decode one frame again for each object once
// the frames outgrow the frame cache (snapshot.ReadOrderer).
func (s *Store) ReadOrder(ids []object.ID) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.readOrderLocked(ids)
}

// readOrderLocked is ReadOrder for a caller holding s.mu.
func (s *Store) readOrderLocked(ids []object.ID) {
	if len(ids) < 2 {
		return
	}
	type placed struct {
		id    object.ID
		loc   pack.Location
		found bool
	}
	ps := make([]placed, len(ids))
	for i, id := range ids {
		ps[i].id = id
		ps[i].loc, ps[i].found = s.probably(id)
	}
	slices.SortStableFunc(ps, func(a, b placed) int {
		if a.found != b.found {
			if a.found {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.loc.Seg, b.loc.Seg), cmp.Compare(a.loc.Off, b.loc.Off), cmp.Compare(a.loc.Slot, b.loc.Slot))
	})
	for i := range ps {
		ids[i] = ps[i].id
	}
}

// probably returns where an object probably lies, unread: where the
// indexes say, else the pack's first entry whose prefix matches. A reader
// that only orders or reads ahead takes it; one that reads the object
// checks it by ID. s.mu is held.
func (s *Store) probably(id object.ID) (pack.Location, bool) {
	if loc, ok := s.lookup(id); ok {
		return loc, true
	}
	if s.packIdx != nil {
		if c := s.packIdx.Candidates(id); len(c) > 0 {
			return c[0], true
		}
	}
	return pack.Location{}, false
}

// objectIfAt returns the object at loc when it is id, as a guess of where
// id lies (a parent beside its child) is checked: ok is false when the
// frame cannot be read or holds something else there. s.mu is held.
func (s *Store) objectIfAt(id object.ID, loc pack.Location) (located, bool) {
	f, err := s.frame(loc)
	if err != nil {
		return located{}, false
	}
	o, err := f.Object(int(loc.Slot))
	if err != nil || o.ID != id {
		return located{}, false
	}
	return located{obj: o, f: f, loc: loc}, true
}

// lookupSeen, when set (by tests), is told of every index lookup.
var lookupSeen func(object.ID)

// Has reports whether the object is stored.
func (s *Store) Has(id object.ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.lookup(id); ok {
		return true
	}
	if s.packIdx != nil {
		_, err := s.readPacked(id, object.ZeroID)
		return err == nil
	}
	return false
}

// frame returns the decoded frame at a location, through the cache.
func (s *Store) frame(loc pack.Location) (*pack.Frame, error) {
	key := pack.FrameKey{Seg: loc.Seg, Off: loc.Off}
	if f, ok := s.cache.Get(key); ok {
		return f, nil
	}
	seg := s.segs[loc.Seg]
	if loc.Seg == 0 {
		seg = s.packData
	}
	if seg == nil {
		return nil, fmt.Errorf("%w: segment %d is missing", ErrCorrupt, loc.Seg)
	}
	// Decompressed as far as the entries read need (pack.Frame).
	f, err := seg.ReadLazyFrame(int64(loc.Off))
	if err != nil {
		return nil, err
	}
	s.cache.Put(key, f)
	return f, nil
}

// Get returns an object's kind, canonical body and, for an event, its
// data. The body is checked against the ID: damaged bytes are reported as
// ErrCorrupt, never returned.
func (s *Store) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.get(id)
}

func (s *Store) get(id object.ID) (object.Kind, []byte, []byte, error) {
	return s.getAfter(id, object.ZeroID)
}

// readable returns why the store cannot be read, or nil: closed, or a
// view gone stale. s.mu is held.
func (s *Store) readable() error {
	if s.closed {
		return ErrClosed
	}
	return s.stale
}

// getAfter is get with the first parent of id, should id be a commit,
// known to the caller (ZeroID: not known); see pack.Frame.ObjectAfter.
func (s *Store) getAfter(id, parent object.ID) (object.Kind, []byte, []byte, error) {
	r, err := s.readAfter(id, parent)
	return r.obj.Kind, r.obj.Body, r.obj.Data, err
}

// located is an object read, with the frame and place it was read from.
type located struct {
	obj pack.FrameObject
	f   *pack.Frame
	loc pack.Location
}

// readAfter is getAfter, reporting where the object was read. s.mu is
// held.
func (s *Store) readAfter(id, parent object.ID) (located, error) {
	if err := s.readable(); err != nil {
		return located{}, err
	}
	loc, ok := s.lookup(id)
	if !ok {
		if s.packIdx != nil {
			r, err := s.readPacked(id, parent)
			if errors.Is(err, ErrNotFound) {
				err = s.notFound(id)
			}
			return r, s.blame(id, err)
		}
		return located{}, s.notFound(id)
	}
	r, err := s.readAt(id, loc, parent)
	return r, s.blame(id, err)
}

// blame names a damaged index as the cause of a corrupt read, when one
// is: an index that points into the wrong place yields a slot out of
// range or an object that does not hash to its ID, and the message then
// named the object, not the file at fault (a helper's audit). The
// indexes are each checked whole once, the first time it is asked.
func (s *Store) blame(id object.ID, err error) error {
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return err
	}
	if ierr := s.checkIndexes(); ierr != nil {
		return fmt.Errorf("object %s: %w", id.Short(), ierr)
	}
	return err
}

// notFound is the error for an object no index and no unindexed segment
// holds. A damaged index may be why: each index is checked whole (once,
// the first time it is asked), and a damaged one is reported as
// corruption, naming the file, not as an object that does not exist.
func (s *Store) notFound(id object.ID) error {
	if err := s.checkIndexes(); err != nil {
		return fmt.Errorf("object %s: %w", id.Short(), err)
	}
	return fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
}

// CheckIndexes checks every index file whole, each once, and returns the
// first damage found: a prefix that matches nothing may be an ID that a
// damaged index no longer lists (Prefix itself does not check them).
func (s *Store) CheckIndexes() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkIndexes()
}

// checkIndexes checks every index file whole, each once (they never
// change once written), and returns the first damage found.
func (s *Store) checkIndexes() error {
	for _, ix := range s.indexes {
		if err := ix.Checked(); err != nil {
			return err
		}
	}
	if s.packIdx != nil {
		return s.packIdx.Checked()
	}
	return nil
}

// readPacked reads an object from the pack, trying each entry whose
// 8-byte prefix matches until one hashes to id.
func (s *Store) readPacked(id, parent object.ID) (located, error) {
	var firstErr error
	for _, loc := range s.packIdx.Candidates(id) {
		r, err := s.readAt(id, loc, parent)
		if err == nil {
			return r, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return located{}, firstErr
	}
	return located{}, fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
}

func (s *Store) getAt(id object.ID, loc pack.Location, parent object.ID) (object.Kind, []byte, []byte, error) {
	r, err := s.readAt(id, loc, parent)
	return r.obj.Kind, r.obj.Body, r.obj.Data, err
}

// readAt reads the object at loc, which must hash to id (see getAfter
// for parent).
func (s *Store) readAt(id object.ID, loc pack.Location, parent object.ID) (located, error) {
	f, err := s.frame(loc)
	if err != nil {
		return located{}, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	var o pack.FrameObject
	if parent.IsZero() {
		o, err = f.Object(int(loc.Slot))
	} else {
		o, err = f.ObjectAfter(int(loc.Slot), id, parent)
	}
	if err != nil {
		return located{}, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	if o.ID != id {
		return located{}, fmt.Errorf("%w: object %s does not match its hash", ErrCorrupt, id.Short())
	}
	return located{obj: o, f: f, loc: loc}, nil
}

// Commit reads a commit.
func (s *Store) Commit(id object.ID) (*object.Commit, error) {
	return s.CommitAfter(id, object.ZeroID)
}

// CommitAfter reads a commit whose first parent the caller knows (from an
// index of its line; ZeroID when it does not): a commit packed with the
// commits of its frame is then rebuilt alone, not with all of them. The
// commit is checked against its ID either way.
func (s *Store) CommitAfter(id, parent object.ID) (*object.Commit, error) {
	s.mu.RLock()
	kind, body, _, err := s.getAfter(id, parent)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if kind != object.KindCommit {
		return nil, fmt.Errorf("object %s is %s, not a commit: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	return object.DecodeCommit(body)
}

// Event reads an event with its data, checking the data against the
// event's data ID.
func (s *Store) Event(id object.ID) (*object.Event, error) {
	kind, body, data, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindEvent {
		return nil, fmt.Errorf("object %s is %s, not an event: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	e, err := object.DecodeEvent(body)
	if err != nil {
		return nil, err
	}
	e.Data = data // checked against e.DataID when its frame was first read
	return e, nil
}

// EventIs reports whether an event belongs to stream (when not empty)
// and has type typ (when not empty), reading only its names.
func (s *Store) EventIs(id object.ID, stream, typ string) (bool, error) {
	kind, body, _, err := s.Get(id)
	if err != nil {
		return false, err
	}
	if kind != object.KindEvent {
		return false, fmt.Errorf("object %s is %s, not an event: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	st, ty, err := object.EventNames(body)
	if err != nil {
		return false, err
	}
	return (stream == "" || string(st) == stream) && (typ == "" || string(ty) == typ), nil
}

// Tree reads a snapshot node.
func (s *Store) Tree(id object.ID) (*object.Tree, error) {
	kind, body, _, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindTree {
		return nil, fmt.Errorf("object %s is %s, not a tree: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	return object.DecodeTree(body)
}

// Blob reads a blob.
func (s *Store) Blob(id object.ID) ([]byte, error) {
	kind, body, _, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindBlob {
		return nil, fmt.Errorf("object %s is %s, not a blob: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	return body, nil
}

// Prefix returns the object IDs that start with a hex prefix, sorted, at
// most limit of them (all when limit <= 0).
func (s *Store) Prefix(hexPrefix string, limit int) []object.ID {
	hexPrefix = strings.ToLower(hexPrefix)
	odd := len(hexPrefix)%2 == 1
	padded := hexPrefix
	if odd {
		padded += "0"
	}
	prefix, err := hex.DecodeString(padded)
	if err != nil || len(prefix) == 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[object.ID]bool{}
	var out []object.ID
	for id := range s.memTable() {
		if strings.HasPrefix(id.String(), hexPrefix) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, ix := range s.indexes {
		for _, id := range ix.Prefix(prefix, odd, limit) {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	if s.packIdx != nil {
		// The pack's index keeps 8 bytes of each ID: a longer prefix is
		// searched by its first 8, and the IDs found checked whole below.
		search, searchOdd := prefix, odd
		if len(search) > 8 {
			search, searchOdd = search[:8], false
		}
		for _, loc := range s.packIdx.PrefixLocations(search, searchOdd, limit) {
			f, err := s.frame(loc)
			if err != nil {
				continue
			}
			o, err := f.Object(int(loc.Slot))
			if err != nil {
				continue
			}
			if id := o.ID; !seen[id] && strings.HasPrefix(id.String(), hexPrefix) {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	slices.SortFunc(out, func(a, b object.ID) int { return bytes.Compare(a[:], b[:]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Ref returns a ref's value.
func (s *Store) Ref(name string) (refs.Value, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.refs.Get(name)
}

// Resolve follows a ref, through HEAD's symbolic link, to an ID.
func (s *Store) Resolve(name string) (id object.ID, target string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.refs.Resolve(name)
}

// Refs returns a copy of every ref.
func (s *Store) Refs() map[string]refs.Value {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps_clone(s.refs.All())
}

func maps_clone(m map[string]refs.Value) map[string]refs.Value {
	c := make(map[string]refs.Value, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// records returns the values of records of a kind with an exact key, in
// log order, oldest first: indexes from oldest to newest, then memory.
func (s *Store) records(kind uint8, key []byte) ([][]byte, error) {
	var out [][]byte
	for i := len(s.indexes) - 1; i >= 0; i-- {
		for r, err := range s.indexes[i].Records(kind, key, true) {
			if err != nil {
				return nil, err
			}
			out = append(out, r.Value)
		}
	}
	if kind == RecIdem {
		return append(out, s.memIdem[string(key)]...), nil
	}
	for _, r := range s.memRecs {
		if r.Kind == kind && bytes.Equal(r.Key, key) {
			out = append(out, r.Value)
		}
	}
	return out, nil
}

// latestRecord returns the newest value of a record kind and key.
func (s *Store) latestRecord(kind uint8, key []byte) ([]byte, bool, error) {
	switch kind {
	case RecIdem:
		if vs := s.memIdem[string(key)]; len(vs) > 0 {
			return vs[len(vs)-1], true, nil
		}
	case RecSnapshot:
		if v, ok := s.memSnap[string(key)]; ok {
			return v[:], true, nil
		}
	case RecLink:
		if v, ok := s.memLinks[object.ID(key)]; ok {
			return v, true, nil
		}
	}
	for _, ix := range s.indexes {
		var last []byte
		for r, err := range ix.Records(kind, key, true) {
			if err != nil {
				return nil, false, err
			}
			last = r.Value
		}
		if last != nil {
			return last, true, nil
		}
	}
	return nil, false, nil
}

// Reflog returns a ref's moves, newest first, since it was last created.
func (s *Store) Reflog(name string) ([]refs.Update, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	vals, err := s.records(RecRef, []byte(name))
	if err != nil {
		return nil, err
	}
	var out []refs.Update
	for i := len(vals) - 1; i >= 0; i-- {
		u, err := refs.DecodeUpdate(name, vals[i])
		if err != nil {
			return nil, err
		}
		if u.Delete {
			break
		}
		out = append(out, u)
	}
	return out, nil
}

// HeadLog returns HEAD's own reflog, newest first: every move of HEAD and
// of the branch it was on, and every checkout (RecHeadLog). A repository
// written before HEAD kept one has none.
func (s *Store) HeadLog() ([]refs.Update, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	vals, err := s.records(RecHeadLog, []byte(refs.HEAD))
	if err != nil {
		return nil, err
	}
	out := make([]refs.Update, 0, len(vals))
	for i := len(vals) - 1; i >= 0; i-- {
		u, err := refs.DecodeUpdate(refs.HEAD, vals[i])
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// IdemKey returns the record key of an idempotency key on a branch. An
// empty branch is the key on any branch: each commit that used the key
// has a record of its own there, and the reader keeps those whose commit
// is on its line (evgit records every key so; earlier builds recorded
// each under its commit's branch).
func IdemKey(branch, key string) []byte {
	return append(append([]byte(branch), 0), key...)
}

// Idempotency looks up an idempotency key on a branch: the commit that
// used it and the digest of its events.
func (s *Store) Idempotency(branch, key string) (commit, digest object.ID, ok bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idempotency(branch, key)
}

// IdemUse is one use of an idempotency key: the commit that used it and
// the digest of its events.
type IdemUse struct {
	Commit object.ID // the commit that used the key
	Digest object.ID // the digest of the commit's events
}

// idempotencyAll returns every use recorded for an idempotency key on a
// branch, oldest first.
func (s *Store) idempotencyAll(branch, key string) ([]IdemUse, error) {
	vals, err := s.records(RecIdem, IdemKey(branch, key))
	if err != nil {
		return nil, err
	}
	out := make([]IdemUse, 0, len(vals))
	for _, v := range vals {
		u, err := decodeIdem(v)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// decodeIdem decodes an idempotency record's value.
func decodeIdem(v []byte) (IdemUse, error) {
	if len(v) != 2*object.IDSize {
		return IdemUse{}, fmt.Errorf("%w: idempotency record", ErrCorrupt)
	}
	return IdemUse{object.ID(v[:32]), object.ID(v[32:])}, nil
}

func (s *Store) idempotency(branch, key string) (commit, digest object.ID, ok bool, err error) {
	v, ok, err := s.latestRecord(RecIdem, IdemKey(branch, key))
	if err != nil || !ok {
		return commit, digest, false, err
	}
	u, err := decodeIdem(v)
	return u.Commit, u.Digest, err == nil, err
}

// branchIdem reports whether a key is recorded under a branch in memory
// or in an index (Tx.BranchIdem); s.mu is held. Such keys sort after
// every key recorded for no branch, whose IdemKey starts with a zero
// byte: one search of each index, remembered while the index lives.
func (s *Store) branchIdem() (bool, error) {
	if s.memBranchIdem {
		return true, nil
	}
	for _, ix := range s.indexes {
		s.branchIdems.Lock()
		some, known := s.branchIdems.of[ix]
		s.branchIdems.Unlock()
		if !known {
			var err error
			if some, err = ix.HasRecordFrom(RecIdem, []byte{1}); err != nil {
				return false, err
			}
			s.branchIdems.Lock()
			if len(s.branchIdems.of) > 2*len(s.indexes)+8 {
				s.branchIdems.of = nil // indexes merged away since
			}
			if s.branchIdems.of == nil {
				s.branchIdems.of = map[*pack.Index]bool{}
			}
			s.branchIdems.of[ix] = some
			s.branchIdems.Unlock()
		}
		if some {
			return true, nil
		}
	}
	return false, nil
}

// SnapshotKey returns the record key of a snapshot entry.
func SnapshotKey(commit, model object.ID) []byte {
	return append(append(make([]byte, 0, 64), commit[:]...), model[:]...)
}

// Snapshot returns the tree recorded against a commit and model.
func (s *Store) Snapshot(commit, model object.ID) (object.ID, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok, err := s.latestRecord(RecSnapshot, SnapshotKey(commit, model))
	if err != nil || !ok {
		return object.ZeroID, false, err
	}
	if len(v) != object.IDSize {
		return object.ZeroID, false, fmt.Errorf("%w: snapshot record", ErrCorrupt)
	}
	return object.ID(v), true, nil
}

// ctxErr is a helper for loops that honour cancellation.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}
