//go:build linux

package pack

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData flushes a file's data and the metadata needed to read it back
// (fdatasync): the size after an append, not the modification time.
func syncData(f File) error {
	if osf, ok := f.(*os.File); ok {
		for {
			err := unix.Fdatasync(int(osf.Fd()))
			if err != unix.EINTR {
				return err
			}
		}
	}
	return f.Sync()
}
