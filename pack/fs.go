package pack

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is the part of *os.File the storage uses. Tests wrap it to inject
// failed and short writes and failed syncs.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes what was written durable (fsync).
	Sync() error
	// Truncate cuts or extends the file to size bytes.
	Truncate(size int64) error
	// Stat describes the file.
	Stat() (fs.FileInfo, error)
}

// FS is the file system the storage runs on. OS is the real one; a test
// passes a wrapper that fails the k-th call.
type FS interface {
	// OpenFile opens a file as os.OpenFile does.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename renames a file, replacing newpath, as os.Rename does.
	Rename(oldpath, newpath string) error
	// Remove removes a file or an empty folder.
	Remove(name string) error
	// ReadDir lists a folder, sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// MkdirAll makes a folder and the folders above it it needs.
	MkdirAll(name string, perm fs.FileMode) error
	// SyncDir makes the names in a folder durable after a create, rename
	// or remove.
	SyncDir(name string) error
}

// OS is the operating system's file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := OpenRegular(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic writes a whole file durably: a temporary name in the same
// folder, fsync, rename over the final name, fsync of the folder. A crash
// leaves either the old file or the new one, never a mix.
func WriteFileAtomic(fsys FS, name string, data []byte) error {
	tmp := name + ".tmp"
	if err := WriteTemp(fsys, tmp, data); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(filepath.Dir(name))
}

// WriteTemp writes data durably to the file tmp, which a rename then
// publishes (WriteFileAtomic does both at once). On failure tmp is
// removed.
func WriteTemp(fsys FS, tmp string, data []byte) error {
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := writeFull(f, data, 0); err != nil {
		f.Close()
		fsys.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		fsys.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		fsys.Remove(tmp)
		return err
	}
	return nil
}

// writeFull writes all of b at off, failing on a short write.
func writeFull(f File, b []byte, off int64) error {
	n, err := f.WriteAt(b, off)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
