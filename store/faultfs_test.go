package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evgit/evgit/pack"
)

// faultFS is a pack.FS for crash and fault tests. It delegates to pack.OS
// and
//
//   - numbers every call (OpenFile, Rename, Remove, ReadDir, MkdirAll,
//     SyncDir, and on files ReadAt, WriteAt, Sync, Truncate, Stat, Close)
//     and can fail one of them: an error, or for WriteAt a short write of
//     half the bytes with io.ErrShortWrite;
//   - keeps a model of what a power loss would keep: per file, its content
//     at its last successful Sync and the byte ranges changed since; per
//     folder, the names at its last successful SyncDir. Crash writes a copy
//     of the repository as a power loss at that moment could leave it.
//
// Syncs are simulated: the real fsync is skipped (the page cache serves
// every read anyway), which keeps a sweep over hundreds of crash points
// fast.
type faultFS struct {
	mu sync.Mutex
	n  int // calls so far

	failAt int  // fail this call (1-based); 0: none
	short  bool // a WriteAt chosen to fail writes half of it
	// dead makes every call fail: the machine lost power.
	dead bool
	// failed is the call that failed, when one did.
	failed *fsCall
	// before, when set, runs before each call is made (outside the lock).
	before func(c fsCall)
	trace  []fsCall
	// syncDelay is how long a file sync takes.
	syncDelay time.Duration

	names   map[string]*inode // current name → file
	durable map[string]*inode // name → file, as of the folder's last SyncDir
	nextIno int
}

// fsCall is one numbered call.
type fsCall struct {
	N    int
	Op   string
	Path string
	Off  int64
	Len  int64
}

func (c fsCall) String() string {
	name := filepath.Base(c.Path)
	if c.Op == "Rename" {
		name = strings.TrimPrefix(c.Path, filepath.Dir(strings.Split(c.Path, " -> ")[0])+"/")
	}
	s := fmt.Sprintf("#%d %s %s", c.N, c.Op, name)
	switch c.Op {
	case "ReadAt", "WriteAt":
		s += fmt.Sprintf(" off=%d len=%d", c.Off, c.Len)
	case "Truncate":
		s += fmt.Sprintf(" size=%d", c.Off)
	}
	return s
}

// errInjected is the error an injected failure returns.
var errInjected = errors.New("injected I/O error")

// errPowerLoss is returned by every call after a simulated power loss.
var errPowerLoss = errors.New("power lost")

// inode is a file as the power-loss model sees it.
type inode struct {
	id     int
	path   string // current name; "" once it has none
	synced []byte // content at the last Sync; nil before the first
	dirty  []span // ranges written or cut since the last Sync
	gone   []byte // content when it lost its last name
}

type span struct{ lo, hi int64 }

func newFaultFS() *faultFS {
	return &faultFS{names: map[string]*inode{}, durable: map[string]*inode{}}
}

// step numbers a call and decides whether it fails.
func (f *faultFS) step(op, path string, off, n int64) (fsCall, error) {
	f.mu.Lock()
	f.n++
	c := fsCall{N: f.n, Op: op, Path: path, Off: off, Len: n}
	f.trace = append(f.trace, c)
	hook := f.before
	f.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return c, fmt.Errorf("%s %s: %w", op, path, errPowerLoss)
	}
	if c.N == f.failAt {
		f.failed = &c
		return c, fmt.Errorf("%s %s: %w", op, path, errInjected)
	}
	return c, nil
}

// calls returns how many calls were made.
func (f *faultFS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// inodeFor returns the file a name holds, adopting one that existed
// before the wrapper saw it as durable.
func (f *faultFS) inodeFor(path string) *inode {
	if ino := f.names[path]; ino != nil {
		return ino
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	f.nextIno++
	ino := &inode{id: f.nextIno, path: path, synced: b}
	f.names[path] = ino
	f.durable[path] = ino
	return ino
}

func (ino *inode) markDirty(lo, hi int64) {
	if hi > lo {
		ino.dirty = append(ino.dirty, span{lo, hi})
	}
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (pack.File, error) {
	if _, err := f.step("OpenFile", name, int64(flag), 0); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, statErr := os.Stat(name)
	file, err := pack.OS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	var ino *inode
	if statErr != nil {
		// Created: a new file that no folder sync has made durable.
		f.nextIno++
		ino = &inode{id: f.nextIno, path: name}
		f.names[name] = ino
	} else {
		ino = f.inodeFor(name)
		if flag&os.O_TRUNC != 0 {
			ino.markDirty(0, st.Size())
		}
	}
	return &faultFile{fs: f, f: file, ino: ino, path: name}, nil
}

// lose records that a file lost a name, keeping its content.
func (f *faultFS) lose(path string) {
	ino := f.names[path]
	if ino == nil {
		return
	}
	if b, err := os.ReadFile(path); err == nil {
		ino.gone = b
	}
	ino.path = ""
	delete(f.names, path)
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if _, err := f.step("Rename", oldpath+" -> "+filepath.Base(newpath), 0, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ino := f.inodeFor(oldpath)
	if err := pack.OS.Rename(oldpath, newpath); err != nil {
		return err
	}
	f.lose(newpath)
	delete(f.names, oldpath)
	if ino != nil {
		ino.path = newpath
		f.names[newpath] = ino
	}
	return nil
}

func (f *faultFS) Remove(name string) error {
	if _, err := f.step("Remove", name, 0, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inodeFor(name)
	b, _ := os.ReadFile(name)
	if err := pack.OS.Remove(name); err != nil {
		return err
	}
	if ino := f.names[name]; ino != nil {
		ino.gone, ino.path = b, ""
		delete(f.names, name)
	}
	return nil
}

func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if _, err := f.step("ReadDir", name, 0, 0); err != nil {
		return nil, err
	}
	return pack.OS.ReadDir(name)
}

func (f *faultFS) MkdirAll(name string, perm fs.FileMode) error {
	if _, err := f.step("MkdirAll", name, 0, 0); err != nil {
		return err
	}
	return pack.OS.MkdirAll(name, perm)
}

// SyncDir makes the folder's names durable. The real folder sync is
// skipped, as file syncs are.
func (f *faultFS) SyncDir(name string) error {
	if _, err := f.step("SyncDir", name, 0, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for p := range f.durable {
		if filepath.Dir(p) == name && f.names[p] == nil {
			delete(f.durable, p)
		}
	}
	for p, ino := range f.names {
		if filepath.Dir(p) == name {
			f.durable[p] = ino
		}
	}
	return nil
}

// faultFile is a file opened through faultFS.
type faultFile struct {
	fs   *faultFS
	f    pack.File
	ino  *inode
	path string
}

func (ff *faultFile) ReadAt(b []byte, off int64) (int, error) {
	if _, err := ff.fs.step("ReadAt", ff.path, off, int64(len(b))); err != nil {
		return 0, err
	}
	return ff.f.ReadAt(b, off)
}

func (ff *faultFile) WriteAt(b []byte, off int64) (int, error) {
	c, err := ff.fs.step("WriteAt", ff.path, off, int64(len(b)))
	ff.fs.mu.Lock()
	defer ff.fs.mu.Unlock()
	if err != nil {
		if !ff.fs.short || !errors.Is(err, errInjected) || len(b) < 2 {
			return 0, err
		}
		// A short write: half the bytes reach the file.
		n, werr := ff.f.WriteAt(b[:len(b)/2], off)
		ff.ino.markDirty(off, off+int64(n))
		if werr != nil {
			return n, werr
		}
		return n, fmt.Errorf("%s: %w", c, io.ErrShortWrite)
	}
	n, err := ff.f.WriteAt(b, off)
	ff.ino.markDirty(off, off+int64(n))
	return n, err
}

// Sync records the file's content as durable; the real fsync is skipped.
func (ff *faultFile) Sync() error {
	if _, err := ff.fs.step("Sync", ff.path, 0, 0); err != nil {
		return err
	}
	if ff.fs.syncDelay > 0 {
		time.Sleep(ff.fs.syncDelay)
	}
	ff.fs.mu.Lock()
	defer ff.fs.mu.Unlock()
	b, err := readAll(ff.f)
	if err != nil {
		return err
	}
	ff.ino.synced, ff.ino.dirty = b, nil
	return nil
}

func (ff *faultFile) Truncate(size int64) error {
	if _, err := ff.fs.step("Truncate", ff.path, size, 0); err != nil {
		return err
	}
	ff.fs.mu.Lock()
	defer ff.fs.mu.Unlock()
	st, err := ff.f.Stat()
	if err != nil {
		return err
	}
	if err := ff.f.Truncate(size); err != nil {
		return err
	}
	ff.ino.markDirty(min(size, st.Size()), max(size, st.Size()))
	return nil
}

func (ff *faultFile) Stat() (fs.FileInfo, error) {
	if _, err := ff.fs.step("Stat", ff.path, 0, 0); err != nil {
		return nil, err
	}
	return ff.f.Stat()
}

func (ff *faultFile) Close() error {
	// The descriptor is closed whatever happens: a failed close must not
	// leak files across hundreds of trials.
	_, err := ff.fs.step("Close", ff.path, 0, 0)
	if cerr := ff.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readAll(f pack.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// crashMode says what a simulated power loss keeps of the bytes written
// since a file's last sync, and of the names changed since a folder's.
type crashMode int

const (
	crashDrop    crashMode = iota // none of it
	crashKeepAll                  // all of it (the writes reached the disk)
	crashPrefix                   // the file's dirty bytes up to a random point
	crashSectors                  // each 512-byte sector old or new, at random
	crashGarble                   // each sector old, new, or garbage at random
	numCrashModes
)

func (m crashMode) String() string {
	return [...]string{"drop", "keep-all", "prefix", "sectors", "garble"}[m]
}

const sectorSize = 512

// crash writes to dst a copy of the tree at root as a power loss now
// could leave it. Files the wrapper never saw (the lock file) are copied
// as they are. The caller makes sure no call is under way.
func (f *faultFS) crash(root, dst string, mode crashMode, rng *rand.Rand) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tracked := map[string]bool{}
	for p := range f.names {
		tracked[p] = true
	}
	for p := range f.durable {
		tracked[p] = true
	}
	// Folders, and files the model does not track, as they are.
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if tracked[p] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(tracked))
	for p := range tracked {
		paths = append(paths, p)
	}
	slices.Sort(paths) // deterministic use of rng
	for _, p := range paths {
		if !strings.HasPrefix(p, root+string(filepath.Separator)) {
			continue
		}
		cur, dur := f.names[p], f.durable[p]
		pick := cur
		if cur != dur {
			switch mode {
			case crashDrop:
				pick = dur
			case crashKeepAll:
				pick = cur
			default:
				if rng.IntN(2) == 0 {
					pick = dur
				}
			}
		}
		if pick == nil {
			continue
		}
		b, err := f.image(pick, mode, rng)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if err := os.WriteFile(filepath.Join(dst, rel), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// image returns what a power loss leaves of a file's content.
func (f *faultFS) image(ino *inode, mode crashMode, rng *rand.Rand) ([]byte, error) {
	cur := ino.gone
	if ino.path != "" {
		b, err := os.ReadFile(ino.path)
		if err != nil {
			return nil, err
		}
		cur = b
	}
	old := ino.synced
	if len(ino.dirty) == 0 && len(old) == len(cur) {
		return cur, nil
	}
	at := func(b []byte, i int64) byte {
		if i < int64(len(b)) {
			return b[i]
		}
		return 0
	}
	inDirty := func(i int64) bool {
		for _, d := range ino.dirty {
			if i >= d.lo && i < d.hi {
				return true
			}
		}
		return false
	}
	switch mode {
	case crashDrop:
		return slices.Clone(old), nil
	case crashKeepAll:
		return cur, nil
	case crashPrefix:
		lo, hi := int64(len(cur)), int64(0)
		for _, d := range ino.dirty {
			lo, hi = min(lo, d.lo), max(hi, d.hi)
		}
		if hi <= lo {
			lo, hi = int64(min(len(old), len(cur))), int64(max(len(old), len(cur)))
		}
		c := lo + rng.Int64N(hi-lo+1)
		n := max(int64(len(old)), c)
		if c >= hi {
			n = int64(len(cur))
		}
		out := make([]byte, n)
		for i := range n {
			if i < c {
				out[i] = at(cur, i)
			} else {
				out[i] = at(old, i)
			}
		}
		return out, nil
	}
	// Sectors: each dirty sector comes from the old content, the new, or
	// (garble) garbage over its dirty bytes; the size is either.
	n := int64(len(old))
	if rng.IntN(2) == 0 {
		n = int64(len(cur))
	}
	out := make([]byte, n)
	for s := int64(0); s < n; s += sectorSize {
		e := min(s+sectorSize, n)
		choice := 1 // new
		dirty := false
		for i := s; i < e; i++ {
			if inDirty(i) {
				dirty = true
				break
			}
		}
		if dirty {
			k := 2
			if mode == crashGarble {
				k = 3
			}
			choice = rng.IntN(k)
		}
		for i := s; i < e; i++ {
			switch {
			case !inDirty(i):
				out[i] = at(cur, i)
			case choice == 0:
				out[i] = at(old, i)
			case choice == 1:
				out[i] = at(cur, i)
			default:
				out[i] = byte(rng.IntN(256))
			}
		}
	}
	return out, nil
}
