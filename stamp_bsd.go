//go:build darwin || freebsd || netbsd

package evgit

import (
	"os"
	"syscall"
)

// fileStamp returns what, beside its size and modification time, says a
// file changed: its inode change time, which every write, chmod and
// rename sets and a touch that puts an old modification time back sets
// too, and its inode number, which a file put in its place has another
// of. ok is false where the system does not say.
func fileStamp(fi os.FileInfo) (ctime int64, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Ctimespec.Nano(), uint64(st.Ino), true
}
