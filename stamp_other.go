//go:build !linux && !darwin && !freebsd && !netbsd

package evgit

import "os"

// fileStamp cannot tell a file's inode change time and number here:
// checkout judges its files by size and modification time alone.
func fileStamp(fi os.FileInfo) (ctime int64, ino uint64, ok bool) { return 0, 0, false }
