//go:build unix

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// flock is the repository's write lock: an exclusive flock on .evgit/lock,
// which the kernel drops when the process dies, so a killed writer never
// leaves the repository locked. An flock belongs to the open file, not to
// a goroutine: mu makes the lock exclusive between the goroutines of this
// process too, so one goroutine's unlock cannot release the file while
// another still works under it.
type flock struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	closed bool // the store was closed: lock fails with ErrClosed
	// readOnly: this process may not write the file, so it may not
	// write the repository either; why is the error opening it to write
	// gave (EACCES, or EROFS on a read-only file system).
	readOnly bool
	why      error
}

// openLock opens the lock file, for reading only when this process may
// not write it (a user who may only read the repository): flock works on
// such a file too, so readers still wait for writers, and such a process
// reads and cannot write.
func openLock(path string) (*flock, error) {
	// waitFree opens it again: by a path that a change of folder does
	// not move.
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	var why error
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
		why = err
		f, err = os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			// Not there, and not ours to create: say that, not "no
			// such file" (a helper's audit).
			return nil, cannotWrite(path, "could not be created", why)
		}
	}
	if err != nil {
		return nil, err
	}
	return &flock{f: f, path: path, readOnly: why != nil, why: why}, nil
}

// lockInit opens and takes the lock file at path for Init, and again when
// the file it took was removed meanwhile: an init that fails takes back
// the lock file it made, holding it, and a lock on a file no longer there
// keeps out no one who opens the path after. It makes the lock's folder
// again when that was taken back too. made lists what this init made,
// for it to take back if it fails: the lock file, when the open that took
// the lock made it, then the folders it made on any try, deepest first.
func lockInit(path string) (lk *flock, made []string, err error) {
	// dirs are the folders this init made on any try: one made on an
	// earlier try is still this init's when a later try finds it there
	// (a review found it left behind when the init then failed).
	var dirs []string
	for tries := 0; ; tries++ {
		missing := false
		for p := filepath.Dir(path); p != filepath.Dir(p); p = filepath.Dir(p) {
			if _, err := os.Lstat(p); err == nil {
				break
			}
			missing = true
			if !slices.Contains(dirs, p) {
				dirs = append(dirs, p)
			}
		}
		if missing {
			// The folder too was taken back (by the init that made it):
			// made again, as this init made it at first.
			// A parent taken back between MkdirAll's steps fails it
			// with ErrNotExist: made again on the next try.
			if err := os.MkdirAll(filepath.Dir(path), 0o755); errors.Is(err, fs.ErrNotExist) && tries < 100 {
				continue
			} else if err != nil {
				return nil, nil, err
			}
		}
		// Made here only if made exclusively: a file another init made
		// between a look and the open is not this one's to take back.
		lk, err := openLockFile(path, os.O_CREATE|os.O_EXCL)
		madeFile := err == nil
		if errors.Is(err, fs.ErrExist) {
			// Without O_CREATE: a file removed since is made again by
			// the exclusive open, as this init's.
			lk, err = openLockFile(path, 0)
		}
		if errors.Is(err, fs.ErrNotExist) && tries < 100 {
			continue // the folder was taken back meanwhile
		}
		if err != nil {
			return nil, nil, err
		}
		if err := lk.lock(); err != nil {
			lk.f.Close()
			return nil, nil, err
		}
		held, err := lk.f.Stat()
		if err == nil {
			var now fs.FileInfo
			if now, err = os.Stat(lk.path); err == nil && os.SameFile(held, now) {
				if madeFile {
					made = append(made, path)
				}
				// Deepest first: each is taken back only when empty.
				slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
				return lk, append(made, dirs...), nil
			}
		}
		lk.unlock()
		lk.f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
}

// openLockFile opens the lock file at path to read and write, with the
// extra flags of os.OpenFile (O_CREATE|O_EXCL: made here, or fs.ErrExist).
func openLockFile(path string, flags int) (*flock, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &flock{f: f, path: path}, nil
}

// cannotWrite says that what could not be opened (or created) to write,
// and why: a file system mounted read-only, or a user who may only read
// the repository. It matches fs.ErrPermission.
func cannotWrite(what, verb string, why error) error {
	if errors.Is(why, unix.EROFS) {
		return readOnlyFS("cannot write: " + what + " " + verb + ": the file system is mounted read-only")
	}
	return fmt.Errorf("cannot write: %s %s (%w); a user who may only read the repository can read it, not write", what, verb, fs.ErrPermission)
}

// readOnlyFS is cannotWrite's error for a read-only file system.
type readOnlyFS string

func (e readOnlyFS) Error() string { return string(e) }
func (e readOnlyFS) Unwrap() error { return fs.ErrPermission }

func (l *flock) lock() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	for {
		err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.mu.Unlock()
		}
		return err
	}
}

// tryLock is lock when the lock is free; it reports false, holding
// nothing, when another process holds it.
func (l *flock) tryLock() (bool, error) {
	l.mu.Lock()
	return l.tryFlock()
}

// tryLockNow is tryLock that does not wait for another goroutine of
// this process either: false when anyone holds the lock.
func (l *flock) tryLockNow() (bool, error) {
	if !l.mu.TryLock() {
		return false, nil
	}
	return l.tryFlock()
}

// tryFlock takes the file lock if it is free, l.mu held; it lets go of
// l.mu unless it took the lock.
func (l *flock) tryFlock() (bool, error) {
	if l.closed {
		l.mu.Unlock()
		return false, ErrClosed
	}
	for {
		err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EWOULDBLOCK:
			l.mu.Unlock()
			return false, nil
		case err != nil:
			l.mu.Unlock()
			return false, err
		}
		return true, nil
	}
}

// waitFree waits, in the kernel, until no process holds the lock, and
// returns without holding it: through a file of its own, and without
// mu, so that this process can close the store meanwhile. A waiter that
// must be able to give up (lockFor) waits so, then tries the lock.
func (l *flock) waitFree() error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		return unix.Flock(int(f.Fd()), unix.LOCK_UN)
	}
}

func (l *flock) unlock() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.mu.Unlock()
}

// lockLocal takes the lock among this process's goroutines only, not
// across processes: for closing the store, which writes nothing.
func (l *flock) lockLocal() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// unlockLocal releases what lockLocal took.
func (l *flock) unlockLocal() { l.mu.Unlock() }

// closeHeld closes the lock file of a store being closed, while the caller
// holds the lock: every later lock fails with ErrClosed.
func (l *flock) closeHeld() {
	l.closed = true
	l.f.Close()
}

// gen reads the layout generation: a counter in the lock file that a
// writer bumps, under the lock, whenever it adds or removes files of the
// log (a new segment, an index, a merge, gc). A reader whose generation is
// current knows the file set without listing the folder.
func (l *flock) gen() uint64 {
	var b [8]byte
	if n, _ := l.f.ReadAt(b[:], 0); n < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// bumpGen advances the generation; the caller holds the lock.
func (l *flock) bumpGen() error {
	if err := l.writable(); err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], l.gen()+1)
	_, err := l.f.WriteAt(b[:], 0)
	return err
}

// writable fails when the lock file could only be opened for reading: the
// user may read the repository, not write it.
func (l *flock) writable() error {
	if l.readOnly {
		// gc, seal: "bad file descriptor" said nothing (a helper's audit).
		return cannotWrite(l.path, "could not be opened for writing", l.why)
	}
	return nil
}

// The durable mark follows the generation in the lock file: the newest
// segment's number (u32le), how many of its bytes were synced (u64le),
// the payload size (u32le) and CRC (u32le) of the frame that ends there,
// as its header says them, and a CRC-32C of those 20 bytes (u32le). Part
// of the format. Before session 30 it was 16 bytes, the number, the
// bytes and a CRC-32C of those 12 (markSize16): read still, without the
// frame, and taken by nothing once this evgit writes (its CRC fails there).
const (
	markOff    = 8
	markSize   = 24
	markSize16 = 16
)

// setMark records that segment seg holds its first end bytes durably,
// the last frame synced having the given header. A writer calls it,
// holding the lock, after the segment's sync returned, and never syncs
// it: whatever of it a power loss keeps, old or new, says no more than
// the disk holds. An error is ignored (the mark only lets damage be told
// from a torn write; without it a damaged last frame is cut as torn, as
// it always was).
func (l *flock) setMark(seg uint32, end int64, frameSize, frameCRC uint32) {
	var b [markSize]byte
	binary.LittleEndian.PutUint32(b[0:], seg)
	binary.LittleEndian.PutUint64(b[4:], uint64(end))
	binary.LittleEndian.PutUint32(b[12:], frameSize)
	binary.LittleEndian.PutUint32(b[16:], frameCRC)
	binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	_, _ = l.f.WriteAt(b[:], markOff)
}

// mark reads the durable mark: ok is false when there is none (a lock
// file an older evgit wrote) or it does not check (read while a writer
// wrote it, or damaged), and then nothing is claimed.
func (l *flock) mark() (m Mark, ok bool) {
	var b [markSize]byte
	n, _ := l.f.ReadAt(b[:], markOff)
	switch {
	case n == markSize && crc32.Checksum(b[:20], castagnoli) == binary.LittleEndian.Uint32(b[20:]):
		m.FrameSize, m.FrameCRC, m.Framed = binary.LittleEndian.Uint32(b[12:]), binary.LittleEndian.Uint32(b[16:]), true
	case n >= markSize16 && crc32.Checksum(b[:12], castagnoli) == binary.LittleEndian.Uint32(b[12:]):
		// An older evgit's mark (it writes 16 bytes, whatever follows).
	default:
		return Mark{}, false
	}
	m.Seg, m.End = binary.LittleEndian.Uint32(b[0:]), int64(binary.LittleEndian.Uint64(b[4:]))
	return m, m.End >= 0
}

// processAlive reports whether a process with this ID runs (or may: one
// this process may not signal counts as running).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	return unix.Kill(pid, 0) != unix.ESRCH
}

// LockFile takes an exclusive flock on the file at path, made if
// missing, waiting while another process holds it, and returns its
// release; the kernel drops it if the process dies. For a lock of
// something beside the store: checkout's of the work tree. It is taken
// to write: a file this process may not write is an error saying so.
func LockFile(path string) (unlock func(), err error) {
	l, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if l.readOnly {
		l.f.Close()
		return nil, cannotWrite(l.path, "could not be opened for writing", l.why)
	}
	if err := l.lock(); err != nil {
		l.f.Close()
		return nil, err
	}
	return func() {
		l.unlock()
		l.closeHeld()
	}, nil
}
