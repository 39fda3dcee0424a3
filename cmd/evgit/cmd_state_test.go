package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
)

// runState runs one evgit invocation with the state commands present
// (ls-tree, checkout, diff), whether or not main.go registers them yet.
func runState(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "EVGIT_ACTOR" {
			return "tester"
		}
		return ""
	}}
	root := newRootCommand(g)
	for _, c := range []*cobra.Command{newLsTreeCommand(g), newCheckoutCommand(g), newDiffCommand(g)} {
		if sub, _, err := root.Find([]string{c.Name()}); err != nil || sub == root {
			root.AddCommand(c)
		}
	}
	root.SetArgs(append([]string{"-C", dir}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if g.repo != nil {
		g.repo.Close()
	}
	if err != nil && !g.started {
		err = asUsage(err)
	}
	code = report(&errb, err)
	return out.String(), errb.String(), code
}

// stateRepo makes a repository with the banking model and a few commits.
func stateRepo(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r, _, err := evgit.Init(ctx, dir, evgit.InitOptions{})
	require.NoError(t, err)
	defer r.Close()
	_, err = r.SetModel(ctx, []byte(bankgen.Model), "tester")
	require.NoError(t, err)
	for _, evs := range [][]evgit.EventInput{
		{{Stream: "acc-1", Type: "AccountOpened", Data: json.RawMessage(`{"owner":"ann"}`)}, {Stream: "eu/acc-2", Type: "AccountOpened", Data: json.RawMessage(`{"owner":"bob"}`)}},
		{{Stream: "acc-1", Type: "MoneyDeposited", Data: json.RawMessage(`{"amount":120}`)}},
		{{Stream: "acc-3", Type: "AccountOpened", Data: json.RawMessage(`{"owner":"cy"}`)}},
	} {
		_, err := r.Append(ctx, evs, evgit.AppendOptions{Actor: "tester"})
		require.NoError(t, err)
	}
	return dir
}

func TestLsTreeCommand(t *testing.T) {
	dir := stateRepo(t)
	out, _, code := runState(t, dir, "ls-tree", "HEAD~1")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, "^2 [0-9a-f]{64}\tacc-1$", lines[0])
	assert.Regexp(t, "^1 [0-9a-f]{64}\teu/acc-2$", lines[1])

	out, _, code = runState(t, dir, "ls-tree", "HEAD", "--json")
	require.Equal(t, 0, code)
	var e struct {
		Stream  string `json:"stream"`
		Version uint64 `json:"version"`
		Hash    string `json:"hash"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Split(out, "\n")[1]), &e))
	assert.Equal(t, "acc-3", e.Stream)
	assert.Equal(t, uint64(1), e.Version)
	assert.Len(t, e.Hash, 64)

	_, errOut, code := runState(t, dir, "ls-tree", "nope")
	assert.Equal(t, 1, code)
	assert.True(t, strings.HasPrefix(errOut, "error: "), errOut)
	_, _, code = runState(t, dir, "ls-tree")
	assert.Equal(t, 2, code)
}

func TestDiffCommand(t *testing.T) {
	dir := stateRepo(t)
	out, _, code := runState(t, dir, "diff", "HEAD~2", "HEAD")
	require.Equal(t, 0, code)
	assert.Equal(t, `diff --evgit a/acc-1 b/acc-1
--- a/acc-1 (version 1)
+++ b/acc-1 (version 2)
-{"balance":0,"frozen":false,"owner":"ann"}
+{"balance":120,"frozen":false,"owner":"ann"}
diff --evgit a/acc-3 b/acc-3
--- /dev/null
+++ b/acc-3 (version 1)
+{"balance":0,"frozen":false,"owner":"cy"}
`, out)
	out, _, code = runState(t, dir, "diff", "HEAD", "HEAD~2", "--json")
	require.Equal(t, 0, code)
	assert.Equal(t, `{"stream":"acc-1","status":"changed","old":{"version":2,"state":{"balance":120,"frozen":false,"owner":"ann"}},"new":{"version":1,"state":{"balance":0,"frozen":false,"owner":"ann"}}}
{"stream":"acc-3","status":"removed","old":{"version":1,"state":{"balance":0,"frozen":false,"owner":"cy"}}}
`, out)
	_, _, code = runState(t, dir, "diff", "HEAD")
	assert.Equal(t, 2, code)
	_, _, code = runState(t, dir, "diff")
	assert.Equal(t, 2, code)
	// As in Git, A..B is A B, and an empty side is HEAD.
	want, _, code := runState(t, dir, "diff", "HEAD~2", "HEAD")
	require.Equal(t, 0, code)
	for _, rng := range []string{"HEAD~2..HEAD", "HEAD~2.."} {
		out, _, code = runState(t, dir, "diff", rng)
		require.Equal(t, 0, code, rng)
		assert.Equal(t, want, out, rng)
	}
	out, _, code = runState(t, dir, "diff", "..HEAD~2", "--json")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"status":"removed"`)
	// Three dots are no range: a revision that does not parse, exit 1, as
	// for log (it was a usage error, exit 2, naming the count of arguments).
	_, errOut, code := runState(t, dir, "diff", "HEAD~2...HEAD")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "symmetric range")
}

func TestCheckoutCommand(t *testing.T) {
	dir := stateRepo(t)
	_, errOut, code := runState(t, dir, "checkout", "main")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Already on 'main'\n3 files written, 0 removed, 0 unchanged\n", errOut)
	b, err := os.ReadFile(filepath.Join(dir, "acc-1.json"))
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"balance\": 120,\n  \"frozen\": false,\n  \"owner\": \"ann\"\n}\n", string(b))

	_, errOut, code = runState(t, dir, "checkout", "HEAD~2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "HEAD is now at ")
	assert.Contains(t, errOut, "1 file written, 1 removed, 1 unchanged")
	assert.NoFileExists(t, filepath.Join(dir, "acc-3.json"))

	_, errOut, code = runState(t, dir, "checkout", "main", "--", "acc-3")
	require.Equal(t, 0, code, errOut)
	assert.FileExists(t, filepath.Join(dir, "acc-3.json"))
	assert.Contains(t, errOut, "Updated 1 file from ")

	_, errOut, code = runState(t, dir, "checkout", "-b", "old", "HEAD")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Switched to a new branch 'old'")

	out, _, code := runState(t, dir, "checkout", "main", "--json")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"branch":"main"`)

	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no revision", []string{"checkout"}, 2},
		{"two revisions", []string{"checkout", "a", "b"}, 2},
		{"nothing before --", []string{"checkout", "--", "acc-1"}, 2},
		{"unknown flag", []string{"checkout", "main", "--nope"}, 2},
		{"absent stream", []string{"checkout", "main", "--", "acc-9"}, 1},
		{"bad stream", []string{"checkout", "main", "--", "../x"}, 1},
		{"bad time", []string{"checkout", "main", "--as-of", "yesterday"}, 1},
		{"branch exists", []string{"checkout", "-b", "old", "main"}, 1},
		{"unknown revision", []string{"checkout", "nope"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runState(t, dir, tt.args...)
			assert.Equal(t, tt.code, code, errOut)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		})
	}
}

func TestShowStreamState(t *testing.T) {
	dir := stateRepo(t)
	show := func(opts showOptions, rev, stream string) (string, int) {
		var out, errb bytes.Buffer
		g := &globalOptions{dir: dir, stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := showStreamState(context.Background(), opts, g, rev, stream)
		if g.repo != nil {
			g.repo.Close()
		}
		return out.String(), report(&errb, err)
	}
	out, code := show(showOptions{}, "HEAD", "acc-1")
	require.Equal(t, 0, code)
	assert.Equal(t, "{\n  \"balance\": 120,\n  \"frozen\": false,\n  \"owner\": \"ann\"\n}\n", out)
	out, code = show(showOptions{json: true, version: 1}, "HEAD", "acc-1")
	require.Equal(t, 0, code)
	assert.Equal(t, `{"stream":"acc-1","version":1,"state":{"balance":0,"frozen":false,"owner":"ann"}}`+"\n", out)
	_, code = show(showOptions{version: 3}, "HEAD", "acc-1")
	assert.Equal(t, 1, code)
	_, code = show(showOptions{}, "HEAD~2", "acc-3")
	assert.Equal(t, 1, code)
	_, code = show(showOptions{asOf: "2000-01-01"}, "HEAD", "acc-1")
	assert.Equal(t, 1, code)
	out, code = show(showOptions{asOf: "2999-01-01"}, "HEAD", "acc-1")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `"balance": 120`)
}
