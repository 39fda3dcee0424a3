//go:build unix

package evgit

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WorktreeLockName is the file, in the repository folder, whose flock a
// checkout holds while it writes the work tree and its index: two
// checkouts of one work tree at once would interleave their files, and
// the second's index could vouch for a file the first wrote. The second
// waits; the kernel drops the lock of a process that dies.
const WorktreeLockName = "worktree.lock"

// lockWorktree takes the work tree's lock and returns its release.
func (r *Repository) lockWorktree() (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.gitDir, WorktreeLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkout: the work tree's lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checkout: the work tree's lock: %w", err)
	}
	return func() { f.Close() }, nil // closing drops the flock
}
