//go:build unix

package pack

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a file read-only, or reads it whole when it is not an
// *os.File (a test's fault-injecting wrapper).
func mapFile(f File) ([]byte, func() error, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if osf, ok := f.(*os.File); ok && size > 0 {
		data, err := unix.Mmap(int(osf.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
		if err == nil {
			return data, func() error { return unix.Munmap(data) }, nil
		}
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
