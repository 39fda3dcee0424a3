//go:build linux || darwin

package store

import "golang.org/x/sys/unix"

// freeSpace returns the bytes free to this user on the file system of
// dir; ok is false when it cannot tell, as where statfs reports no blocks
// at all (ramfs, a FUSE file system that does not say). A variable, so
// tests can fill a disk.
var freeSpace = func(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
