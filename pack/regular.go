package pack

import (
	"bytes"
	"fmt"
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
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil {
		buf.Grow(int(st.Size()) + bytes.MinRead) // room to see EOF without growing
	}
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
