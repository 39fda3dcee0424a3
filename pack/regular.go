package pack

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// OpenRegular opens a repository file, refusing anything but a regular
// file: a FIFO put in a file's place would block the open, and every
// command with it, fsck included, until something wrote to it. It opens
// without blocking (openNonblock), then checks.
func OpenRegular(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := openNonblock(name, flag, perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%w: %s is not a regular file (%s)", ErrCorrupt, name, st.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadRegular reads a whole repository file, as os.ReadFile does, through
// OpenRegular.
func ReadRegular(name string) ([]byte, error) {
	f, err := OpenRegular(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int
	if st, err := f.Stat(); err == nil {
		size = int(st.Size())
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
