//go:build unix

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// flock is the repository's write lock: an exclusive flock on .evgit/lock,
// which the kernel drops when the process dies, so a killed writer never
// leaves the repository locked.
type flock struct{ f *os.File }

func openLock(path string) (*flock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &flock{f: f}, nil
}

func (l *flock) lock() error {
	for {
		err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

func (l *flock) unlock() { _ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN) }

func (l *flock) close() { l.f.Close() }
