//go:build unix

package pack

import (
	"io/fs"
	"os"
	"syscall"
)

// openNonblock opens with O_NONBLOCK, which an open of a FIFO needs not
// to wait for a writer, and which a regular file ignores.
func openNonblock(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag|syscall.O_NONBLOCK, perm)
}
