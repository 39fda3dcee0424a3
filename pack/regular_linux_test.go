package pack

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A repository file is opened without blocking but used blocking: the
// flag is cleared once the file is seen to be regular. A FIFO is refused.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o644))
	f, err := OpenRegular(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	var flags uintptr
	require.NoError(t, rc.Control(func(fd uintptr) {
		flags, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}))
	assert.Zero(t, flags&syscall.O_NONBLOCK, "O_NONBLOCK cleared")

	fifo := filepath.Join(dir, "p")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err = OpenRegular(fifo, os.O_RDONLY, 0)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "not a regular file")
	_, err = ReadRegular(fifo)
	require.ErrorIs(t, err, ErrCorrupt)
	b, err := ReadRegular(path)
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
}
