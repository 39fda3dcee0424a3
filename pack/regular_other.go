//go:build !unix

package pack

import (
	"io/fs"
	"os"
)

// openNonblock is a plain open where FIFOs do not block one.
func openNonblock(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
