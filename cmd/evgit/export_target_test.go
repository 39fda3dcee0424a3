package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// export -o through a link writes the file it names (whole, or not at
// all), and into a named pipe (as into /dev/null, a device) writes into
// it, as a shell's redirection would: neither is replaced by a file
// renamed over it. Found when /dev/null turned into a regular file on
// this machine.
func TestExportIntoALinkOrAPipe(t *testing.T) {
	dir, cli := repoWithACommit(t)
	target := filepath.Join(dir, "target.ndjson")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	link := filepath.Join(dir, "link.ndjson")
	require.NoError(t, os.Symlink(target, link))
	code, stderr := cli("export", "-o", "link.ndjson")
	require.Equal(t, exitOK, code, stderr)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "still a link")
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"stream":"a"`)
	// A failed export through the link leaves the file it names whole
	// (found by a helper's review: it was emptied), and a link to a
	// file not there yet makes it.
	code, _ = cli("export", "nosuchbranch", "-o", "link.ndjson")
	require.NotEqual(t, exitOK, code)
	again, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, b, again)
	dangling := filepath.Join(dir, "dangling.ndjson")
	require.NoError(t, os.Symlink(filepath.Join(dir, "made.ndjson"), dangling))
	code, stderr = cli("export", "-o", "dangling.ndjson")
	require.Equal(t, exitOK, code, stderr)
	made, err := os.ReadFile(filepath.Join(dir, "made.ndjson"))
	require.NoError(t, err)
	assert.Equal(t, b, made)
	fi, err = os.Lstat(dangling)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "still a link")

	pipe := filepath.Join(dir, "pipe")
	require.NoError(t, unix.Mkfifo(pipe, 0o644))
	read := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(pipe)
		read <- string(b)
	}()
	code, stderr = cli("export", "-o", "pipe")
	require.Equal(t, exitOK, code, stderr)
	fi, err = os.Lstat(pipe)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeNamedPipe, "still a pipe")
	select {
	case got := <-read:
		assert.Contains(t, got, `"stream":"a"`)
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was written into the pipe")
	}
}
