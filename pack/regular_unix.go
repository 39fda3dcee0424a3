//go:build unix

package pack

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openNonblock opens with O_NONBLOCK, which an open of a FIFO needs not
// to wait for a writer. The flag is cleared again on what it opened: a
// regular file ignores it, but an open of one that a file lease holds
// (a Samba or NFS server's) fails at once with it, EWOULDBLOCK, so that
// case is opened again without it once the path is seen to be a regular
// file.
func openNonblock(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		if st, serr := os.Stat(name); serr == nil && st.Mode().IsRegular() {
			return os.OpenFile(name, flag, perm)
		}
	}
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), false) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
