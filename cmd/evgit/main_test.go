package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

var update = flag.Bool("update", false, "rewrite the golden files of the scripts")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"evgit": func() {
			physicalPaths()
			os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the CLI scenarios in testdata/script. Besides the
// standard testscript commands they have:
//
//	exits N PROG ARGS...   run PROG and require exit code N (stdout and stderr
//	                       are kept for the following assertions)
//	gen-events N FILE      write N banking events (bankgen, seed 1) as NDJSON
//	shared-prefix FILE VAR set VAR to a 4-digit hex prefix that two lines of
//	                       FILE (log --oneline output) start with
//	append FILE TEXT       append TEXT to FILE
//	blob-id FILE VAR       set VAR to the object ID of FILE's bytes as a blob
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("EVGIT_ACTOR", "tester")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":         cmdExits,
			"gen-events":    cmdGenEvents,
			"shared-prefix": cmdSharedPrefix,
			"append":        cmdAppend,
			"blob-id":       cmdBlobID,
			"mask-sizes":    cmdMaskSizes,
		},
	})
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = exitErr.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdGenEvents(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gen-events N FILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	ts.Check(bankgen.Write(f, bankgen.Config{Seed: 1, Events: n, Accounts: 50}))
	ts.Check(f.Close())
}

func cmdSharedPrefix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: shared-prefix FILE VAR")
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 4 {
			continue
		}
		p := line[:4]
		if seen[p] {
			ts.Setenv(args[1], p)
			return
		}
		seen[p] = true
	}
	ts.Fatalf("no two lines of %s share a 4-digit prefix", args[0])
}

func cmdAppend(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: append FILE TEXT")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_APPEND, 0)
	ts.Check(err)
	_, err = f.WriteString(args[1])
	ts.Check(err)
	ts.Check(f.Close())
}

func cmdBlobID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: blob-id FILE VAR")
	}
	ts.Setenv(args[1], object.Hash(object.KindBlob, []byte(ts.ReadFile(args[0]))).String())
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, exitOK},
		{"usage", usagef("wrong"), exitUsage},
		{"usage wrapping a conflict stays usage", asUsage(fmt.Errorf("x: %w", evgit.ErrConflict)), exitUsage},
		{"invalid", invalidf("bad"), exitError},
		{"not found", fmt.Errorf("x: %w", evgit.ErrNotFound), exitError},
		{"corrupt", fmt.Errorf("x: %w", evgit.ErrCorrupt), exitError},
		{"nothing to commit", evgit.ErrNothingToCommit, exitError},
		{"unknown revision", fmt.Errorf("%w \"x\"", walk.ErrUnknownRevision), exitError},
		{"bad revision", fmt.Errorf("x: %w", walk.ErrBadRevision), exitError},
		{"ambiguous", walk.ErrAmbiguous, exitError},
		{"other", errors.New("disk on fire"), exitError},
		{"conflict", &evgit.ExpectError{Stream: "s", Expected: 1, Found: 2}, exitConflict},
		{"rule", fmt.Errorf("x: %w", evgit.ErrRule), exitRule},
		{"fatal", fatalf("not a repository"), exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, exitCode(tt.err))
		})
	}
}

func TestReportPrintsOneLine(t *testing.T) {
	var b strings.Builder
	code := report(&b, fmt.Errorf("model: line 3:\nbad thing: %w", evgit.ErrInvalid))
	assert.Equal(t, exitError, code)
	assert.Equal(t, "error: model: line 3: bad thing: invalid input\n", b.String())

	b.Reset()
	report(&b, notRepository(fmt.Errorf("%w (or any parent): /x", evgit.ErrNotRepository)))
	assert.Equal(t, "fatal: not an evgit repository (or any parent): /x\n", b.String())

	// Ctrl-C: what happened, not Go's "context canceled" (a helper's
	// stress run).
	// A value echoed as given (a path, a flag's value) is escaped: a
	// terminal would act on \x1b, and bytes that are not UTF-8 garble.
	b.Reset()
	report(&b, fmt.Errorf("cannot change to '%s': no such directory", "a\x1b[31m\tb\xff\u0085é"))
	assert.Equal(t, `error: cannot change to 'a\x1b[31m\tb\xff\u0085é': no such directory`+"\n", b.String())
	// A value echoed whole would make a line of any length: cut, saying
	// how much was left out.
	b.Reset()
	report(&b, fmt.Errorf("invalid name %s", strings.Repeat("é", 100_000)))
	assert.Less(t, b.Len(), 2100)
	assert.True(t, utf8.ValidString(b.String()))
	assert.Regexp(t, `^error: invalid name (é)+… \(\d+ more bytes\)\n$`, b.String())

	b.Reset()
	report(&b, fmt.Errorf("branch %s: not found", "evil\u202eexe.txt\u2028"))
	assert.Equal(t, `error: branch evil\u202eexe.txt\u2028: not found`+"\n", b.String())

	b.Reset()
	code = report(&b, fmt.Errorf("import: %w", context.Canceled))
	assert.Equal(t, exitError, code)
	assert.Equal(t, "error: interrupted\n", b.String())
	b.Reset()
	report(&b, fmt.Errorf("%w (5 commits landed)", context.Canceled))
	assert.Equal(t, "error: interrupted (5 commits landed)\n", b.String())
}

func TestShellJoin(t *testing.T) {
	assert.Equal(t, `commit -m 'Open accounts' acc-1 T '{"a":1}' 'it'\''s' ''`,
		shellJoin([]string{"commit", "-m", "Open accounts", "acc-1", "T", `{"a":1}`, "it's", ""}))
}

// sizePattern matches the sizes gc prints, which vary by a few bytes with
// the compression of frames holding the current time.
var sizePattern = regexp.MustCompile(`[0-9.]+ (B|[KMG]iB)( \([0-9]+ bytes\))?`)

// cmdMaskSizes rewrites the sizes in a file of the work folder to SIZE.
func cmdMaskSizes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mask-sizes FILE")
	}
	name := ts.MkAbs(args[0])
	b, err := os.ReadFile(name)
	ts.Check(err)
	ts.Check(os.WriteFile(name, sizePattern.ReplaceAll(b, []byte("SIZE")), 0o644))
}

// fullWriter fails every write, as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestLostOutputFails: a command whose output cannot be written exits 1,
// even one that prints with no error check of its own.
func TestLostOutputFails(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	getenv := func(string) string { return "" }
	var stderr strings.Builder
	for _, args := range [][]string{{"init", dir}, {"-C", dir, "commit", "acc-1", "Opened", "{}"}} {
		require.Equal(t, exitOK, runWith(ctx, args, strings.NewReader(""), io.Discard, &stderr, getenv), "%v: %s", args, stderr.String())
	}
	for _, args := range [][]string{{"-C", dir, "rev-parse", "HEAD"}, {"init", dir}, {"-C", dir, "branch"}, {"-C", dir, "log"}, {"-C", dir, "show", "HEAD"}, {"-C", dir, "export"}} {
		stderr.Reset()
		code := runWith(ctx, args, strings.NewReader(""), fullWriter{}, &stderr, getenv)
		assert.Equal(t, exitError, code, "%v", args)
		// Whether the command stopped on the write or went on, it is
		// said alike.
		assert.Equal(t, "error: writing the output: no space left on device\n", stderr.String(), "%v", args)
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: one line", args)
	}

	// A commit, revert or import whose output is lost still exits 1, and
	// says it was written, so a script does not write it again (a
	// helper's audit: the message read as a failure).
	landed := regexp.MustCompile(`^error: writing the output: no space left on device \((commit [0-9a-f]{7}|the import of 1 commits, head [0-9a-f]{7},) was written\)\n$`)
	for _, args := range [][]string{
		{"-C", dir, "commit", "acc-1", "Set", `{"x":1}`},
		{"-C", dir, "revert", "HEAD"},
		{"-C", dir, "import", "-"},
		{"-C", dir, "commit", "--json", "acc-1", "Opened", "{}"},
	} {
		stderr.Reset()
		code := runWith(ctx, args, strings.NewReader(`{"stream":"acc-2","type":"Opened","data":{}}`+"\n"), fullWriter{}, &stderr, getenv)
		assert.Equal(t, exitError, code, "%v", args)
		assert.Regexp(t, landed, stderr.String(), "%v", args)
	}
	// A retry that finds its commit by its key wrote nothing.
	for range 2 {
		stderr.Reset()
		runWith(ctx, []string{"-C", dir, "commit", "--idempotency-key", "k", "acc-3", "Opened", "{}"}, strings.NewReader(""), fullWriter{}, &stderr, getenv)
	}
	assert.Equal(t, "error: writing the output: no space left on device\n", stderr.String())
}

// TestReadOnlyUserReads: a user who may read the repository but not write
// it (here nobody, on a repository root made) can log, show and fsck, and
// a commit fails with one line saying why. Needs root to switch users.
func TestReadOnlyUserReads(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run evgit as another user")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	// A folder the other user can enter: the test binary, named evgit
	// (testscript.Main runs evgit's main for that name), and a repository.
	dir, err := os.MkdirTemp("", "evgit-readonly-*")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "evgit")
	b, err := os.ReadFile(exe) // a copy: the build folder is the owner's alone
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	repo := filepath.Join(dir, "repo")
	var stderr strings.Builder
	getenv := func(string) string { return "" }
	for _, args := range [][]string{{"init", repo}, {"-C", repo, "commit", "acc-1", "Opened", "{}"}} {
		require.Equal(t, exitOK, runWith(context.Background(), args, strings.NewReader(""), io.Discard, &stderr, getenv), stderr.String())
	}
	require.NoError(t, filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}))
	asNobody := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if errors.Is(err, syscall.EPERM) {
			t.Skip("this system does not let the test switch users:", err)
		}
		require.NoError(t, err, string(out))
		return string(out), 0
	}
	for _, args := range [][]string{{"log", "--oneline"}, {"show", "HEAD"}, {"fsck"}} {
		out, code := asNobody(append([]string{"-C", repo}, args...)...)
		assert.Equal(t, exitOK, code, "%v: %s", args, out)
	}
	// Each write says why it cannot (gc said "bad file descriptor" and
	// checkout "no such file or directory"; a helper's audit).
	for _, args := range [][]string{{"commit", "acc-1", "Noted", "{}"}, {"gc", "--prune=now"}, {"checkout", "HEAD"}} {
		out, code := asNobody(append([]string{"-C", repo}, args...)...)
		assert.Equal(t, exitError, code, "%v: %s", args, out)
		assert.Equal(t, 1, strings.Count(out, "\n"), "%v: %s", args, out)
		assert.Contains(t, out, "permission denied", "%v", args)
		assert.Contains(t, out, "may only read the repository", "%v", args)
	}
}

// A command cancelled before it starts (Ctrl-C at once) says it was
// interrupted, not that no repository is there (a review found the second
// once the command line opened its repository with options).
func TestCancelledBeforeOpenIsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"-C", t.TempDir(), "log"}, strings.NewReader(""), &out, &errb)
	assert.Equal(t, exitError, code)
	assert.Equal(t, "error: interrupted\n", errb.String())
}

// The collector is set for the command that runs: 300 for the bulk
// writers, Go's 100 for the rest, which under 300 held twice the memory
// (fsck of a million events: 2.6 GB against 1.2 GB). Subcommands pass
// their own name (model set: "set").
func TestCollectorSetPerCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	getenv := func(string) string { return "" }
	var told []string
	tuneGC = func(command string) { told = append(told, command) }
	t.Cleanup(func() { tuneGC = nil })
	var stderr strings.Builder
	for _, args := range [][]string{{"init", dir}, {"-C", dir, "commit", "acc-1", "Opened", "{}"}, {"-C", dir, "fsck"}, {"-C", dir, "model", "show"}} {
		runWith(ctx, args, strings.NewReader(""), io.Discard, &stderr, getenv)
	}
	assert.Equal(t, []string{"init", "commit", "fsck", "show"}, told)
	for command, want := range map[string]int{"import": 300, "commit": 300, "revert": 300, "fsck": 100, "gc": 100, "export": 100, "log": 100, "set": 100, "checkout": 100} {
		assert.Equal(t, want, gcPercent(command), command)
	}
}
