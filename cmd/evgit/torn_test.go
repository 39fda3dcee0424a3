package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A command that opened the repository while another process held its
// lock cuts a torn tail at its first write, not at open: it says so as it
// says a cut at open, once.
func TestTornTailCutAtTheFirstWriteIsReported(t *testing.T) {
	dir, cli := repoWithACommit(t)
	seg := filepath.Join(dir, ".evgit", "log", "00000001.seg")
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("torn!")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// Another process holds the lock while the command opens.
	lk, err := os.OpenFile(filepath.Join(dir, ".evgit", "lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer lk.Close()
	require.NoError(t, unix.Flock(int(lk.Fd()), unix.LOCK_EX))
	done := make(chan string, 1)
	go func() {
		code, stderr := cli("commit", "b", "T", "{}")
		assert.Equal(t, exitOK, code, stderr)
		done <- stderr
	}()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, unix.Flock(int(lk.Fd()), unix.LOCK_UN))
	stderr := <-done
	assert.Regexp(t, `^warning: cut [0-9]+ bytes of a torn write left by a crash \(kept in \.evgit/lost-found/00000001-[0-9]+\.torn\)\n$`, stderr)
	code, stderr := cli("log", "--oneline")
	assert.Equal(t, exitOK, code)
	assert.Empty(t, stderr)
}

// repoWithACommit makes a repository holding one commit and returns its
// folder and a function that runs evgit in it, in process, giving the
// exit code and standard error.
func repoWithACommit(t *testing.T) (string, func(args ...string) (int, string)) {
	t.Helper()
	dir := t.TempDir()
	cli := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		code := runWith(context.Background(), append([]string{"-C", dir}, args...), strings.NewReader(""), io.Discard, &stderr, func(string) string { return "" })
		return code, stderr.String()
	}
	for _, args := range [][]string{{"init"}, {"commit", "a", "T", "{}"}} {
		code, stderr := cli(args...)
		require.Equal(t, exitOK, code, stderr)
	}
	return dir, cli
}
