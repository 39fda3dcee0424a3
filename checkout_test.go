package evgit

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// workTreeFiles reads every file of a work tree but the repository.
func workTreeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == DirName {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if p != dir {
				if ents, _ := os.ReadDir(p); len(ents) == 0 {
					out[p+"/"] = "(empty folder)"
				}
			}
			return nil
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	require.NoError(t, err)
	return out
}

// fileInfos stats each file of the work tree, by its name.
func fileInfos(t *testing.T, dir string) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	for name := range workTreeFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		out[name] = fi
	}
	return out
}

func checkout(t *testing.T, r *Repository, rev string, opts CheckoutOptions) *CheckoutResult {
	t.Helper()
	res, err := r.Checkout(context.Background(), rev, opts)
	require.NoError(t, err)
	return res
}

func TestCheckoutFiles(t *testing.T) {
	r := modelRepo(t, bankModelEvery(3))
	c1 := appendOne(t, r, ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("eu/acc-2", "AccountOpened", `{"owner":"bob"}`))
	c2 := appendOne(t, r, ev("acc-1", "MoneyDeposited", `{"amount":12345678901234567}`), ev("eu/fr/acc-3", "AccountOpened", `{"owner":"<zoë>"}`))
	res := checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, CheckoutResult{Commit: c2, Branch: "main", Already: true, Written: 3}, *res)
	files := workTreeFiles(t, r.WorkTree())
	assert.Equal(t, map[string]string{
		"acc-1.json":       "{\n  \"balance\": 12345678901234567,\n  \"frozen\": false,\n  \"owner\": \"ann\"\n}\n",
		"eu/acc-2.json":    "{\n  \"balance\": 0,\n  \"frozen\": false,\n  \"owner\": \"bob\"\n}\n",
		"eu/fr/acc-3.json": "{\n  \"balance\": 0,\n  \"frozen\": false,\n  \"owner\": \"<zoë>\"\n}\n",
	}, files)

	// Back one commit: acc-3 goes, with its folder; acc-1 is rewritten.
	res = checkout(t, r, c1.String(), CheckoutOptions{})
	assert.Equal(t, CheckoutResult{Commit: c1, Detached: true, Written: 1, Removed: 1, Unchanged: 1}, *res)
	files = workTreeFiles(t, r.WorkTree())
	assert.NotContains(t, files, "eu/fr/acc-3.json")
	assert.NotContains(t, files, filepath.Join(r.WorkTree(), "eu", "fr")+"/")
	assert.Contains(t, files["acc-1.json"], `"balance": 0`)
	head, _ := r.st.Ref(refs.HEAD)
	assert.Equal(t, c1, head.ID)
	assert.False(t, head.IsSymbolic())
	assert.Equal(t, "", currentBranch(t, r))

	// And forward again: the same files as a fresh checkout.
	checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, "main", currentBranch(t, r))
	fresh := newRepo(t)
	_, err := fresh.SetModel(context.Background(), []byte(bankModelEvery(3)), "test")
	require.NoError(t, err)
	var exp strings.Builder
	require.NoError(t, r.Export(context.Background(), &exp, ExportOptions{}))
	_, err = fresh.Import(context.Background(), strings.NewReader(exp.String()), ImportOptions{})
	require.NoError(t, err)
	checkout(t, fresh, "main", CheckoutOptions{})
	assert.Equal(t, workTreeFiles(t, fresh.WorkTree()), workTreeFiles(t, r.WorkTree()))
}

// TestCheckoutWritesOnlyWhatChanged walks a banking history one commit
// at a time: each step writes exactly the files of the streams that
// commit touched; back at the tip the tree equals a fresh checkout.
func TestCheckoutWritesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	r, events := bankWorkload(t, 2000, 300, 100)
	tip, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	checkout(t, r, "HEAD~40", CheckoutOptions{})
	dir := r.WorkTree()
	for k := 1960; k < 2000; k++ {
		// A file checkout writes is a new file renamed into place: told
		// by its inode, however coarse the file system's clock (a kernel
		// that ticks every 10 ms may give two writes 2 ms apart one
		// mtime; a helper's review).
		before := fileInfos(t, dir)
		res := checkout(t, r, "main~"+strconv.Itoa(1999-k), CheckoutOptions{})
		after := fileInfos(t, dir)
		var changed []string
		for name, fi := range after {
			if b, ok := before[name]; !ok || !os.SameFile(b, fi) {
				changed = append(changed, name)
			}
		}
		want := []string{events[k].Stream + ".json"}
		if _, existed := before[want[0]]; !existed {
			assert.Equal(t, 1, res.Written)
		}
		assert.Equal(t, want, changed, "commit %d touched %s", k, events[k].Stream)
		assert.Equal(t, 1, res.Written)
	}
	got := workTreeFiles(t, dir)
	want := expectAt(events, 2000)
	assert.Len(t, got, len(want))
	for s, a := range want {
		assert.Contains(t, got[s+".json"], `"owner": "`+a.Owner+`"`)
	}
	head, err := r.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, tip, head)
}

func TestCheckoutRepairsHandEdits(t *testing.T) {
	r := newRepo(t)
	appendOne(t, r, ev("a", "Set", `{"v":1}`), ev("b", "Set", `{"v":2}`), ev("c", "Set", `{"v":3}`))
	checkout(t, r, "main", CheckoutOptions{})
	dir := r.WorkTree()
	want := workTreeFiles(t, dir)
	require.NoError(t, os.Remove(filepath.Join(dir, "a.json")))
	// Same size, at once: only the bytes tell.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.json"), []byte(strings.Replace(want["b.json"], "2", "9", 1)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "untracked.txt"), []byte("mine"), 0o644))
	res := checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 2, res.Written)
	assert.Equal(t, 1, res.Unchanged)
	got := workTreeFiles(t, dir)
	assert.Equal(t, "mine", got["untracked.txt"], "files checkout did not write stay")
	delete(got, "untracked.txt")
	assert.Equal(t, want, got)

	// A lost index: everything is written again, and right.
	require.NoError(t, os.Remove(filepath.Join(r.GitDir(), WorktreeIndexName)))
	res = checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 3, res.Written)
}

func TestCheckoutHeadAndStreams(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	c1 := appendOne(t, r, ev("a", "Set", `{"v":1}`), ev("b", "Set", `{"v":1}`))
	c2 := appendOne(t, r, ev("a", "Set", `{"v":2}`), ev("c", "Set", `{"v":1}`))
	checkout(t, r, "main", CheckoutOptions{})
	dir := r.WorkTree()

	// -- STREAM: only those files, HEAD stays.
	res := checkout(t, r, c1.String(), CheckoutOptions{Streams: []string{"a"}})
	assert.Equal(t, 1, res.Written)
	assert.Equal(t, "main", currentBranch(t, r))
	files := workTreeFiles(t, dir)
	assert.Contains(t, files["a.json"], `"v": 1`)
	assert.Contains(t, files, "c.json")
	_, err := r.Checkout(ctx, c1.String(), CheckoutOptions{Streams: []string{"c"}})
	require.ErrorIs(t, err, ErrNotFound)
	// The next full checkout sees a.json differs from main and fixes it.
	res = checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 1, res.Written)

	// -b: a new branch at the revision, HEAD on it.
	res = checkout(t, r, c1.String(), CheckoutOptions{Branch: "old"})
	assert.Equal(t, "old", res.Branch)
	assert.Equal(t, "old", currentBranch(t, r))
	id, err := r.Resolve(ctx, "old")
	require.NoError(t, err)
	assert.Equal(t, c1, id)
	_, err = r.Checkout(ctx, "main", CheckoutOptions{Branch: "old"})
	require.ErrorIs(t, err, ErrInvalid)
	// A checkout of streams leaves HEAD alone: it makes no branch.
	_, err = r.Checkout(ctx, "main", CheckoutOptions{Branch: "new", Streams: []string{"a"}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, "a checkout of streams makes no branch (-b); it leaves HEAD where it is", err.Error())
	_, err = r.Resolve(ctx, "new")
	require.ErrorIs(t, err, ErrNotFound)

	// --as-of detaches.
	res = checkout(t, r, "main", CheckoutOptions{AsOf: time.Now().Add(time.Hour)})
	assert.True(t, res.Detached)
	assert.Equal(t, c2, res.Commit)
	assert.Equal(t, "", currentBranch(t, r))
	res = checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, "main", res.Branch)
	// Appends go to the branch HEAD is on again.
	c3 := appendOne(t, r, ev("a", "Set", `{"v":3}`))
	id, err = r.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, c3, id)
}

func TestCheckoutStaysInTheWorkTree(t *testing.T) {
	r := newRepo(t)
	appendOne(t, r, ev("d/x", "Set", `{"v":1}`))
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(r.WorkTree(), "d")))
	_, err := r.Checkout(context.Background(), "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	ents, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, ents, "nothing written through the link")

	bare, _, err := Init(context.Background(), t.TempDir(), InitOptions{Bare: true})
	require.NoError(t, err)
	defer bare.Close()
	_, err = bare.Checkout(context.Background(), "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
}

// A stream whose file would land in the repository's folder where case
// is ignored (.Evgit/x on macOS), \ is a folder (a\.evgit\x on
// Windows), trailing dots and spaces are dropped or short names stand in
// (Windows), or some code points are ignored (HFS+), is not written, on
// every system, with nothing written; a checkout of another commit still
// runs, and removes such a file an older evgit wrote (helpers' audit and
// review).
func TestCheckoutRefusesTheRepositorysFolderInAnyCase(t *testing.T) {
	ctx := context.Background()
	for _, stream := range []string{".Evgit/x", "a/.EVGIT/x", `a\.evgit\x`, `x\..\.evgit\y`, ".evgit./x", ".evgit /x", "EVGIT~1/x", ".evgit\u200c/x"} {
		t.Run(stream, func(t *testing.T) {
			r := newRepo(t)
			appendOne(t, r, ev("ok", "Set", `{"v":1}`))
			appendOne(t, r, ev(stream, "Set", `{"v":2}`))
			before := folderFiles(t, r.WorkTree())
			_, err := r.Checkout(ctx, "main", CheckoutOptions{})
			require.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, "stream "+stream+" would be written into the repository's folder")
			_, err = r.Checkout(ctx, "main", CheckoutOptions{Streams: []string{stream}})
			require.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, before, folderFiles(t, r.WorkTree()), "nothing written")

			// Away from it: the checkout runs, and removes the file an
			// older evgit wrote there.
			old := filepath.Join(r.WorkTree(), filepath.FromSlash(stream)+".json")
			require.NoError(t, os.MkdirAll(filepath.Dir(old), 0o755))
			require.NoError(t, os.WriteFile(old, []byte("{\n  \"v\": 2\n}\n"), 0o644))
			res := checkout(t, r, "HEAD~1", CheckoutOptions{})
			assert.Equal(t, 1, res.Written)
			assert.Equal(t, 1, res.Removed)
			assert.NoFileExists(t, old)
		})
	}
}

// folderFiles lists every file under dir, the repository's included,
// with its size.
func folderFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			out[p] = fi.Size()
		}
		return err
	}))
	return out
}

func TestStateFile(t *testing.T) {
	b, err := StateFile([]byte(`{"b":[1,{"c":null}],"a":"\u00e9"}`))
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"a\": \"é\",\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ]\n}\n", string(b))
	_ = bankgen.Model
}

// The index's text is docs/format.md's, written and read field by field:
// one written by fmt, as before session 23, reads the same and is
// written back byte for byte; one of version 2 (before session 28, no
// ctime and inode) reads with those unknown.
func TestWorktreeIndexText(t *testing.T) {
	h1, h2 := object.Hash(object.KindBlob, []byte("1")), object.Hash(object.KindBlob, []byte("2"))
	var body, v2 strings.Builder
	fmt.Fprintf(&body, "evgit worktree 3\ncommit %s\nwritten %d\n", h2, int64(1795782720037738100))
	fmt.Fprintf(&body, "%s %d %d %d %d %d %s %s\n", h1, 3, 120, int64(1795782720000000001), int64(1795782720000000002), uint64(1)<<40, h2, "a b/c")
	fmt.Fprintf(&body, "%s %d %d %d %d %d %s %s\n", object.ZeroID, 0, 0, 0, 0, 0, object.ZeroID, "acc-1")
	fmt.Fprintf(&body, "%s %d %d %d %d %d %s %s\n", h2, uint64(1)<<63, -1, int64(-5), int64(-6), uint64(1)<<63, h1, "z")
	fmt.Fprintf(&v2, "evgit worktree 2\ncommit %s\nwritten %d\n", h2, int64(1795782720037738100))
	fmt.Fprintf(&v2, "%s %d %d %d %s %s\n", h1, 3, 120, int64(1795782720000000001), h2, "a b/c")
	checked := func(body string) string { return body + fmt.Sprintf("check %x\n", blake3.Sum256([]byte(body))) }
	text := checked(body.String())
	x, err := decodeWorktreeIndex([]byte(text))
	require.NoError(t, err)
	assert.Equal(t, &worktreeIndex{commit: h2, written: time.Unix(0, 1795782720037738100), entries: map[string]worktreeEntry{
		"a b/c": {hash: h1, version: 3, size: 120, mtime: 1795782720000000001, ctime: 1795782720000000002, ino: 1 << 40, file: h2},
		"acc-1": {},
		"z":     {hash: h2, version: 1 << 63, size: -1, mtime: -5, ctime: -6, ino: 1 << 63, file: h1},
	}}, x)
	assert.Equal(t, text, string(x.encode()))
	old, err := decodeWorktreeIndex([]byte(checked(v2.String())))
	require.NoError(t, err)
	assert.Equal(t, map[string]worktreeEntry{"a b/c": {hash: h1, version: 3, size: 120, mtime: 1795782720000000001, file: h2}}, old.entries)
	// Lines that end in CRLF read the same, as they did through
	// bufio.Scanner.
	crlf, err := decodeWorktreeIndex([]byte(checked(strings.ReplaceAll(body.String(), "\n", "\r\n"))))
	require.NoError(t, err)
	assert.Equal(t, x, crlf)
	b := body.String()
	for _, bad := range []string{
		checked(strings.Replace(b, "worktree 3", "worktree 4", 1)),
		checked(strings.Replace(b, "worktree 3", "worktree 2", 1)), // seven fields read as five
		checked(strings.Replace(v2.String(), "worktree 2", "worktree 3", 1)),
		checked(strings.Replace(b, "commit ", "commit x", 1)),
		checked(strings.Replace(b, "written ", "written x", 1)),
		checked(strings.Replace(b, " 120 ", " 12x ", 1)),
		checked(strings.Replace(b, " 120 ", " 120", 1)),
		checked(strings.Replace(b, " 1795782720000000002 ", " x ", 1)),
		checked(strings.Replace(b, " 1099511627776 ", " -1 ", 1)),
		checked(strings.Replace(b, " a b/c\n", "\n", 1)),
		checked(strings.Replace(b, " z\n", " ../z\n", 1)),
		checked(b + strings.SplitAfter(b, "\n")[3]), // a stream twice
		checked("evgit worktree 3\ncommit " + object.ZeroID.String() + "\n"),
		text[:len(text)-1],
		strings.Replace(text, " 120 ", " 121 ", 1),
	} {
		_, err := decodeWorktreeIndex([]byte(bad))
		assert.ErrorIs(t, err, ErrCorrupt, "%q", bad)
	}
}

func FuzzWorktreeIndex(f *testing.F) {
	x := &worktreeIndex{written: time.Unix(0, 42), entries: map[string]worktreeEntry{"a b": {version: 3, size: 10, mtime: 7}, "x/y": {}}}
	good := x.encode()
	f.Add(good)
	for i := range good {
		f.Add(good[:i])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := decodeWorktreeIndex(b)
		if err != nil {
			return
		}
		y, err := decodeWorktreeIndex(x.encode())
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		assert.Equal(t, x, y)
	})
}

// currentBranch returns the branch HEAD names.
func currentBranch(t *testing.T, r *Repository) string {
	t.Helper()
	b, err := r.CurrentBranch(context.Background())
	require.NoError(t, err)
	return b
}

// TestCheckoutWithoutATrustedIndex: the work tree index is derived data;
// missing or damaged (garbage, cut at a line's end, a stream name
// changed), it is not trusted, and a checkout still removes the files of
// streams the revision does not have, as the index would have listed
// them. An index that is not a file stops the checkout before it writes.
func TestCheckoutWithoutATrustedIndex(t *testing.T) {
	damages := map[string]func(t *testing.T, path string){
		"missing": func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) },
		"garbage": func(t *testing.T, path string) { require.NoError(t, os.WriteFile(path, []byte("garbage\n"), 0o644)) },
		"cut at a line's end": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			lines := strings.SplitAfter(string(b), "\n")
			require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-3], "")), 0o644))
		},
		"a stream name changed": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), " acc-2\n", " acc-9\n", 1)), 0o644))
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			r := newRepo(t)
			c1 := appendOne(t, r, ev("acc-1", "Opened", `{"n":1}`))
			appendOne(t, r, ev("acc-2", "Opened", `{"n":2}`))
			checkout(t, r, "main", CheckoutOptions{})
			damage(t, filepath.Join(r.GitDir(), WorktreeIndexName))
			res := checkout(t, r, c1.String(), CheckoutOptions{})
			assert.Equal(t, 1, res.Removed)
			assert.Equal(t, map[string]string{"acc-1.json": "{\n  \"n\": 1\n}\n"}, workTreeFiles(t, r.WorkTree()))
		})
	}
	t.Run("not a file", func(t *testing.T) {
		r := newRepo(t)
		appendOne(t, r, ev("acc-1", "Opened", `{"n":1}`))
		path := filepath.Join(r.GitDir(), WorktreeIndexName)
		require.NoError(t, os.Mkdir(path, 0o755))
		_, err := r.Checkout(context.Background(), "main", CheckoutOptions{})
		require.ErrorContains(t, err, "is not a file")
		assert.Empty(t, workTreeFiles(t, r.WorkTree()), "nothing written")
	})
}

// TestCheckoutNewBranchRefusedWritesNothing: a new branch whose name
// clashes with another's path (x against x/y) is refused before the
// work tree is touched.
func TestCheckoutNewBranchRefusedWritesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	c1 := appendOne(t, r, ev("a", "E", `{"v":1}`))
	appendOne(t, r, ev("a", "E", `{"v":2}`), ev("z", "E", `{}`))
	checkout(t, r, "main", CheckoutOptions{})
	_, err := r.CreateBranch(ctx, "x", "main", "test")
	require.NoError(t, err)
	before := workTreeFiles(t, r.WorkTree())
	_, err = r.Checkout(ctx, c1.String(), CheckoutOptions{Branch: "x/y"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, before, workTreeFiles(t, r.WorkTree()), "the work tree as it was")
	assert.Equal(t, "main", currentBranch(t, r))
}

// A checkout refused on one stream's path (a folder where its file goes,
// a file where its folder goes) has written no other stream's file and
// made no folder: every path is checked before the first is written.
// Found by a helper's audit: the other streams' files were written.
func TestCheckoutRefusedOnAPathWritesNothing(t *testing.T) {
	ctx := context.Background()
	for _, obstacle := range []string{"folder", "file"} {
		r := newRepo(t)
		appendOne(t, r, ev("m", "E", `{"v":1}`))
		checkout(t, r, "main", CheckoutOptions{})
		appendOne(t, r, ev("a", "E", `{"v":1}`), ev("b", "E", `{"v":1}`), ev("x/y", "E", `{"v":1}`), ev("z/w", "E", `{"v":1}`))
		wt := r.WorkTree()
		if obstacle == "folder" {
			require.NoError(t, os.Mkdir(filepath.Join(wt, "b.json"), 0o755))
		} else {
			require.NoError(t, os.WriteFile(filepath.Join(wt, "z"), []byte("mine"), 0o644))
		}
		before := workTreeFiles(t, wt)
		_, err := r.Checkout(ctx, "main", CheckoutOptions{})
		require.ErrorIs(t, err, ErrInvalid, obstacle)
		assert.Equal(t, before, workTreeFiles(t, wt), "%s: the work tree as it was", obstacle)
		_, err = r.Checkout(ctx, "main", CheckoutOptions{Streams: []string{"a", "b", "z/w"}})
		require.ErrorIs(t, err, ErrInvalid, obstacle)
		assert.Equal(t, before, workTreeFiles(t, wt), "%s, some streams: the work tree as it was", obstacle)
	}
}

// A checkout that empties the folder the process stands in leaves that
// folder (as Git does since 2.35): the user's shell is in it, and the
// next command would fail to find its own folder. Folders emptied
// elsewhere go, as before (a helper's audit of the CLI).
func TestCheckoutKeepsTheCurrentFolder(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "1", ev("top", "T", `{}`))
	commitEvents(t, r, "2", ev("d/s", "T", `{"v":1}`), ev("e/s", "T", `{"v":1}`))
	_, err := r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	t.Chdir(filepath.Join(r.WorkTree(), "d"))
	_, err = r.Checkout(ctx, "HEAD~1", CheckoutOptions{})
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(r.WorkTree(), "d", "s.json"))
	assert.DirExists(t, filepath.Join(r.WorkTree(), "d"), "the current folder stays")
	assert.NoDirExists(t, filepath.Join(r.WorkTree(), "e"), "another emptied folder goes")
}

// A full checkout refuses to overwrite a file no checkout wrote (as git
// checkout refuses an untracked file in the way) and writes nothing; a
// file that already holds the state is taken as it is; naming the stream
// (checkout REV -- STREAM) overwrites it (a helper's audit of the CLI).
func TestCheckoutKeepsFilesItDidNotWrite(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "1", ev("top", "T", `{}`))
	_, err := r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	mine := filepath.Join(r.WorkTree(), "n.json")
	require.NoError(t, os.WriteFile(mine, []byte(`{"mine":1}`+"\n"), 0o644))
	commitEvents(t, r, "2", ev("n", "T", `{"v":9}`), ev("o", "T", `{"v":8}`))
	_, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "n.json, which no checkout wrote")
	b, err := os.ReadFile(mine)
	require.NoError(t, err)
	assert.Equal(t, `{"mine":1}`+"\n", string(b), "left as it was")
	assert.NoFileExists(t, filepath.Join(r.WorkTree(), "o.json"), "nothing written")

	res, err := r.Checkout(ctx, "main", CheckoutOptions{Streams: []string{"n"}})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Written)
	require.NoError(t, os.Remove(mine))
	want, err := StateFile([]byte(`{"v":8}`))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(r.WorkTree(), "o.json"), want, 0o644))
	res, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err, "a file that holds its state already is no obstacle")
	b, err = os.ReadFile(mine)
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":9}`, string(b))
}

// A checkout refused for a file in the way had already made the folders
// of its new streams, and left them empty (a helper's audit): the
// refusals now come before any folder is made, with -b too.
func TestRefusedCheckoutMakesNoFolder(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "1", ev("a/b/c", "Set", `{"v":1}`), ev("n", "Set", `{"v":2}`))
	wt := r.WorkTree()
	require.NoError(t, os.WriteFile(filepath.Join(wt, "n.json"), []byte("mine\n"), 0o644))
	for _, opts := range []CheckoutOptions{{}, {Branch: "nb"}} {
		_, err := r.Checkout(ctx, "main", opts)
		require.ErrorIs(t, err, ErrInvalid)
		assert.ErrorContains(t, err, "n.json, which no checkout wrote")
		assert.NoDirExists(t, filepath.Join(wt, "a"), "branch %q", opts.Branch)
	}

	// A file it would remove, which no checkout wrote, is refused the
	// same way.
	require.NoError(t, os.Remove(filepath.Join(wt, "n.json")))
	c2 := commitEvents(t, r, "2", ev("x/y", "Set", `{"v":3}`))
	commitEvents(t, r, "3", ev("gone", "Set", `{"v":4}`))
	checkout(t, r, "main", CheckoutOptions{})
	require.NoError(t, os.RemoveAll(filepath.Join(wt, "x")))
	require.NoError(t, os.RemoveAll(filepath.Join(wt, "a")))
	require.NoError(t, os.Remove(filepath.Join(r.GitDir(), WorktreeIndexName)))
	require.NoError(t, os.WriteFile(filepath.Join(wt, "gone.json"), []byte("mine\n"), 0o644))
	_, err := r.Checkout(ctx, c2.String(), CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "gone.json, which no checkout wrote")
	assert.NoDirExists(t, filepath.Join(wt, "x"))
	assert.NoDirExists(t, filepath.Join(wt, "a"))
}

// Before any checkout ran (no index), files in the places of streams at
// HEAD were taken for what a checkout wrote: the first checkout removed
// or overwrote a user's files. Now only a file holding its stream's
// state at HEAD counts as checkout's; any other stops the checkout
// before anything is written (a helper's audit of time travel).
func TestFirstCheckoutKeepsTheUsersFiles(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	c1 := commitEvents(t, r, "a", ev("a", "Set", `{"v":1}`))
	commitEvents(t, r, "b", ev("c", "Set", `{"v":1}`), ev("a", "Set", `{"v":2}`))
	wt := r.WorkTree()
	for _, name := range []string{"c.json", "a.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(wt, name), []byte("my notes\n"), 0o644))
		before := workTreeFiles(t, wt)
		for _, rev := range []string{c1.String(), "main"} {
			_, err := r.Checkout(ctx, rev, CheckoutOptions{})
			require.ErrorIs(t, err, ErrInvalid, "%s in the way, checkout %s", name, rev)
			assert.ErrorContains(t, err, name+", which no checkout wrote")
			assert.Equal(t, before, workTreeFiles(t, wt), "%s, checkout %s: the work tree as it was", name, rev)
		}
		require.NoFileExists(t, filepath.Join(r.GitDir(), WorktreeIndexName))
		require.NoError(t, os.Remove(filepath.Join(wt, name)))
	}

	// Files that hold HEAD's states are taken as a lost checkout's: the
	// checkout of c1 removes c.json and rewrites a.json.
	for stream, state := range map[string]string{"a": `{"v":2}`, "c": `{"v":1}`} {
		b, err := StateFile([]byte(state))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(wt, stream+".json"), b, 0o644))
	}
	res := checkout(t, r, c1.String(), CheckoutOptions{})
	assert.Equal(t, 1, res.Removed)
	assert.Equal(t, map[string]string{"a.json": "{\n  \"v\": 1\n}\n"}, workTreeFiles(t, wt))
}

// checkedOutWithAStreamToRemove returns a repository whose work tree holds
// main (streams top and new/s) and main's parent, which lacks new/s.
func checkedOutWithAStreamToRemove(t *testing.T) (*Repository, object.ID) {
	t.Helper()
	r := newRepo(t)
	c1 := commitEvents(t, r, "1", ev("top", "Set", `{"v":1}`))
	commitEvents(t, r, "2", ev("top", "Set", `{"v":2}`), ev("new/s", "Set", `{"v":1}`))
	checkout(t, r, "main", CheckoutOptions{})
	return r, c1
}

// A checkout refused because a file it would remove cannot be (its
// folder is a link, or a folder stands in the file's place) had already
// rewritten the other files, and HEAD no longer matched them: removals
// are checked with the writes now, before anything is written (a
// helper's audit of time travel).
func TestCheckoutRefusedOnARemovalWritesNothing(t *testing.T) {
	ctx := context.Background()
	for _, obstacle := range []string{"link", "folder"} {
		t.Run(obstacle, func(t *testing.T) {
			r, c1 := checkedOutWithAStreamToRemove(t)
			wt := r.WorkTree()
			switch obstacle {
			case "link":
				elsewhere := t.TempDir()
				require.NoError(t, os.Rename(filepath.Join(wt, "new", "s.json"), filepath.Join(elsewhere, "s.json")))
				require.NoError(t, os.Remove(filepath.Join(wt, "new")))
				require.NoError(t, os.Symlink(elsewhere, filepath.Join(wt, "new")))
			case "folder":
				require.NoError(t, os.Remove(filepath.Join(wt, "new", "s.json")))
				require.NoError(t, os.MkdirAll(filepath.Join(wt, "new", "s.json", "keep"), 0o755))
			}
			top := filepath.Join(wt, "top.json")
			before, err := os.ReadFile(top)
			require.NoError(t, err)
			_, err = r.Checkout(ctx, c1.String(), CheckoutOptions{})
			require.ErrorIs(t, err, ErrInvalid)
			after, err := os.ReadFile(top)
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "top.json as it was")
			assert.Equal(t, "main", currentBranch(t, r))
		})
	}
}

// A branch's full name (refs/heads/x) detaches HEAD, as in Git; its
// short name attaches (a helper's audit of time travel).
func TestCheckoutFullBranchNameDetaches(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	first := appendOne(t, r, ev("a", "E", `{"v":1}`))
	res, err := r.Checkout(ctx, "refs/heads/main", CheckoutOptions{})
	require.NoError(t, err)
	assert.True(t, res.Detached)
	assert.Equal(t, "", currentBranch(t, r))
	res, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.NoError(t, err)
	assert.False(t, res.Detached)
	assert.Equal(t, "main", currentBranch(t, r))

	// A branch named refs/heads/x is a branch of its own, which the
	// name checks out, attached, as git checkout does, at its own
	// commit (x's is another); it used to detach (a helper's audit).
	_, err = r.CreateBranch(ctx, "refs/heads/x", "main", "t")
	require.NoError(t, err)
	appendOne(t, r, ev("a", "E", `{"v":2}`))
	_, err = r.CreateBranch(ctx, "x", "main", "t")
	require.NoError(t, err)
	res, err = r.Checkout(ctx, "refs/heads/x", CheckoutOptions{})
	require.NoError(t, err)
	assert.False(t, res.Detached)
	assert.Equal(t, "refs/heads/x", currentBranch(t, r))
	assert.Equal(t, first, res.Commit)
}

// A stream to remove whose file cannot be there (a file stands where its
// folder goes, or its folder is a link to a folder without it) has
// nothing to remove: the checkout goes on, where it used to fail after
// writing the other files (a helper's review).
func TestCheckoutRemovalWithNothingThere(t *testing.T) {
	ctx := context.Background()
	for _, obstacle := range []string{"file in the folder's place", "link to a folder without it"} {
		t.Run(obstacle, func(t *testing.T) {
			r, c1 := checkedOutWithAStreamToRemove(t)
			wt := r.WorkTree()
			require.NoError(t, os.RemoveAll(filepath.Join(wt, "new")))
			if obstacle == "file in the folder's place" {
				require.NoError(t, os.WriteFile(filepath.Join(wt, "new"), []byte("x"), 0o644))
			} else {
				require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(wt, "new")))
			}
			res, err := r.Checkout(ctx, c1.String(), CheckoutOptions{})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Removed)
			b, err := os.ReadFile(filepath.Join(wt, "top.json"))
			require.NoError(t, err)
			assert.JSONEq(t, `{"v":1}`, string(b))
			_, err = os.Lstat(filepath.Join(wt, "new"))
			require.NoError(t, err, "what stands there is left")
		})
	}
}

// Without an index, anything but a regular file in the place of a
// stream at HEAD is not checkout's: left as it is, never read (a FIFO
// there hung the checkout, a dangling link failed it; a helper's review).
func TestFirstCheckoutLeavesSpecialFiles(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"dangling link", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			r := newRepo(t)
			c1 := commitEvents(t, r, "1", ev("a", "Set", `{"v":1}`))
			commitEvents(t, r, "2", ev("b", "Set", `{"v":1}`))
			p := filepath.Join(r.WorkTree(), "b.json")
			if kind == "fifo" {
				require.NoError(t, syscall.Mkfifo(p, 0o644))
			} else {
				require.NoError(t, os.Symlink(filepath.Join(r.WorkTree(), "nowhere"), p))
			}
			done := make(chan error, 1)
			go func() {
				_, err := r.Checkout(ctx, c1.String(), CheckoutOptions{})
				done <- err
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close() // let the reader go
				}
				t.Fatal("checkout waits on the FIFO")
			}
			_, err := os.Lstat(p)
			require.NoError(t, err, "left as it is")
		})
	}
}

// A checkout stopped while it writes (Ctrl-C) leaves HEAD where it was,
// and the files it wrote are listed as checkout's: the next checkout of
// HEAD removes those of streams HEAD lacks and rewrites the others. Not
// listed, they were left behind as if the user had made them (a
// helper's audit).
func TestCheckoutStoppedWhileWritingIsUndoneByTheNext(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("shared", "E", `{"on":"main"}`))
	checkout(t, r, "main", CheckoutOptions{})
	want := workTreeFiles(t, r.WorkTree())
	_, err := r.CreateBranch(ctx, "feat", "main", "test")
	require.NoError(t, err)
	var events []EventInput
	for i := range 300 {
		events = append(events, ev(fmt.Sprintf("feat-%03d", i), "E", `{"n":1}`))
	}
	events = append(events, ev("shared", "E", `{"on":"feat"}`))
	_, err = r.Append(ctx, events, AppendOptions{Branch: "feat", Actor: "test"})
	require.NoError(t, err)

	stop, cancel := context.WithCancel(ctx)
	var once sync.Once
	checkoutFileWritten = func() { once.Do(cancel) }
	defer func() { checkoutFileWritten = nil }()
	_, err = r.Checkout(stop, "feat", CheckoutOptions{})
	require.ErrorIs(t, err, context.Canceled)
	checkoutFileWritten = nil
	assert.Equal(t, "main", currentBranch(t, r))
	left := workTreeFiles(t, r.WorkTree())
	require.Greater(t, len(left), 1, "some of feat's files were written")
	require.Less(t, len(left), 302, "not all")

	res := checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, want, workTreeFiles(t, r.WorkTree()), "the work tree is main's again")
	assert.Equal(t, len(left)-len(want), res.Removed)
}

// A file whose write fails (a full disk) is left as it was: the bytes go
// to a file beside it, renamed over it once whole. Checkout used to
// truncate the file and write in place, and a full disk left half of
// the new state, matching no commit (a helper's audit).
func TestCheckoutWriteFailureLeavesTheOldFile(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "Set", `{"v":"old"}`), ev("b", "Set", `{"v":1}`))
	appendOne(t, r, ev("a", "Set", `{"v":"`+strings.Repeat("new", 3000)+`"}`), ev("c", "Set", `{"v":2}`))
	checkout(t, r, "HEAD~1", CheckoutOptions{})
	before := workTreeFiles(t, r.WorkTree())
	require.Contains(t, before, "a.json")

	defer func(w func(*os.File, []byte) (int, error)) { writeWorkFile = w }(writeWorkFile)
	writeWorkFile = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	_, err := r.Checkout(ctx, "main", CheckoutOptions{})
	require.ErrorIs(t, err, syscall.ENOSPC)
	// The message names the stream's file, not the one beside it.
	assert.Regexp(t, `^cannot write .*/[ac]\.json: no space left on device`, err.Error())
	assert.Equal(t, before, workTreeFiles(t, r.WorkTree()), "every file whole and as it was, none beside them")

	writeWorkFile = (*os.File).Write
	checkout(t, r, "main", CheckoutOptions{})
	after := workTreeFiles(t, r.WorkTree())
	assert.Contains(t, after["a.json"], "newnew")
	assert.Contains(t, after, "c.json")
}

// A folder swapped for a link to elsewhere after checkout checked it and
// before a file is written into it: the write is refused, nothing lands
// outside the work tree. The checks ran first and the writes went by
// path, so they followed the link (a helper's audit: 67 files landed
// outside). Every write now goes through an os.Root of the work tree.
func TestCheckoutNeverWritesThroughASwappedLink(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("base", "Set", `{}`))
	_, err := r.CreateBranch(ctx, "other", "main", "")
	require.NoError(t, err)
	var events []EventInput
	for i := range 20 {
		events = append(events, ev(fmt.Sprintf("d/u%02d", i), "Set", fmt.Sprintf(`{"v":%d}`, i)))
	}
	_, err = r.Append(ctx, events, AppendOptions{Branch: "other"})
	require.NoError(t, err)
	checkout(t, r, "main", CheckoutOptions{})
	outside := t.TempDir()
	d := filepath.Join(r.WorkTree(), "d")

	defer func() { beforeWorkFile = nil }()
	var once sync.Once
	beforeWorkFile = func(p string) {
		if filepath.Dir(p) != d {
			return
		}
		once.Do(func() {
			require.NoError(t, os.Rename(d, d+".real"))
			require.NoError(t, os.Symlink(outside, d))
		})
	}
	_, err = r.Checkout(ctx, "other", CheckoutOptions{})
	require.Error(t, err)
	ents, rerr := os.ReadDir(outside)
	require.NoError(t, rerr)
	assert.Empty(t, ents, "nothing written outside the work tree")
}

// A checkout that fails changes nothing in the repository folder, the
// first one too (a helper's audit: an unknown revision left the work
// tree's lock file behind, which init now makes).
func TestFailedFirstCheckoutChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	appendOne(t, r, ev("a", "T", `{}`))
	list := func() map[string]int64 {
		out := map[string]int64{}
		require.NoError(t, filepath.WalkDir(r.GitDir(), func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if fi, err := d.Info(); err == nil && !d.IsDir() {
				out[p] = fi.Size()
			}
			return nil
		}))
		return out
	}
	before := list()
	_, err := r.Checkout(ctx, "nope", CheckoutOptions{})
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, before, list())
}

// A file edited by hand to other bytes of the same size, its old
// modification time put back (sed -i then touch -r, or cp -p), is seen
// by its inode change time and number, as Git's index sees it, and
// rewritten (a helper's audit: it was taken for unchanged).
func TestCheckoutSeesAnEditThatPutsTheTimeBack(t *testing.T) {
	r := modelRepo(t, bankModelEvery(3))
	appendOne(t, r, ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	checkout(t, r, "main", CheckoutOptions{})
	p := filepath.Join(r.WorkTree(), "acc-1.json")
	fi, err := os.Stat(p)
	require.NoError(t, err)
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	idx := filepath.Join(r.gitDir, WorktreeIndexName)
	if ctime, ino, ok := fileStamp(fi); ok {
		// What checkout wrote, it stamped: no read of it next time.
		x, ok := readWorktreeIndex(idx)
		require.True(t, ok)
		assert.Equal(t, [2]int64{ctime, int64(ino)}, [2]int64{x.entries["acc-1"].ctime, int64(x.entries["acc-1"].ino)})
	}
	// Time passes: the file is older than the index, which then vouches
	// for it by its stamps alone (no hash of its bytes).
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(idx, later, later))

	for _, edit := range []func(t *testing.T){
		func(t *testing.T) { // in place
			require.NoError(t, os.WriteFile(p, bytes.Replace(want, []byte("ann"), []byte("bob"), 1), 0o644))
		},
		func(t *testing.T) { // another file put in its place
			tmp := p + ".new"
			require.NoError(t, os.WriteFile(tmp, bytes.Replace(want, []byte("ann"), []byte("eve"), 1), 0o644))
			require.NoError(t, os.Rename(tmp, p))
		},
	} {
		edit(t)
		require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		res := checkout(t, r, "main", CheckoutOptions{})
		assert.Equal(t, 1, res.Written)
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		fi, err = os.Stat(p)
		require.NoError(t, err)
		require.NoError(t, os.Chtimes(idx, later, later))
	}
	// Left alone, it is left alone.
	res := checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 0, res.Written)

	// A chmod sets the change time, not the bytes: read, not rewritten,
	// and the index takes the stamp the file has now.
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.Chtimes(idx, later, later))
	res = checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 0, res.Written)
	fi, err = os.Stat(p)
	require.NoError(t, err)
	x, ok := readWorktreeIndex(idx)
	require.True(t, ok)
	ctime, ino, stamped := fileStamp(fi)
	require.True(t, stamped)
	assert.Equal(t, ctime, x.entries["acc-1"].ctime)
	assert.Equal(t, ino, x.entries["acc-1"].ino)

	// An entry without a stamp (an index of version 2) is judged by the
	// file's bytes.
	e := x.entries["acc-1"]
	e.ctime, e.ino = 0, 0
	x.entries["acc-1"] = e
	require.NoError(t, os.WriteFile(idx, x.encode(), 0o644))
	require.NoError(t, os.Chtimes(idx, later, later))
	require.NoError(t, os.WriteFile(p, bytes.Replace(want, []byte("ann"), []byte("bob"), 1), 0o600))
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	res = checkout(t, r, "main", CheckoutOptions{})
	assert.Equal(t, 1, res.Written)
}

// A checkout refused for a file in the way says so when the work tree
// index is there but does not read: that is why it no longer knows the
// file for its own (a helper's audit of damaged files). Without an
// index at all the refusal is as before.
func TestRefusalNamesADamagedIndex(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "1", ev("n", "T", `{"v":1}`))
	checkout(t, r, "main", CheckoutOptions{})
	commitEvents(t, r, "2", ev("n", "T", `{"v":2}`))
	mine := filepath.Join(r.WorkTree(), "n.json")
	require.NoError(t, os.WriteFile(mine, []byte(`{"mine":1}`+"\n"), 0o644))
	idx := filepath.Join(r.GitDir(), WorktreeIndexName)
	f, err := os.OpenFile(idx, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("x")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "n.json, which no checkout wrote")
	assert.ErrorContains(t, err, "the work tree index, .evgit/"+WorktreeIndexName+", did not read: ")

	require.NoError(t, os.Remove(idx))
	_, err = r.Checkout(ctx, "main", CheckoutOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "n.json, which no checkout wrote")
	assert.NotContains(t, err.Error(), "did not read")
}

// A checkout syncs the folders whose names it changed (files renamed
// into place, removed, folders made or removed above them) before it
// writes the index that vouches for them: a power loss could keep the
// index and lose a removal, and the file then stayed for good, taken for
// the user's (a helper's audit). A folder removed is not synced; nothing
// else is.
func TestCheckoutSyncsTheFoldersItChanged(t *testing.T) {
	r := modelRepo(t, bankModelEvery(3))
	c1 := appendOne(t, r, ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("eu/acc-2", "AccountOpened", `{"owner":"bob"}`))
	appendOne(t, r, ev("acc-1", "MoneyDeposited", `{"amount":5}`), ev("eu/fr/acc-3", "AccountOpened", `{"owner":"cy"}`))
	var synced []string
	checkoutDirSynced = func(dir string) { synced = append(synced, dir) }
	defer func() { checkoutDirSynced = nil }()
	wt := r.WorkTree()
	checkout(t, r, "main", CheckoutOptions{})
	assert.ElementsMatch(t, []string{wt, filepath.Join(wt, "eu"), filepath.Join(wt, "eu", "fr")}, synced)

	synced = nil
	checkout(t, r, c1.String(), CheckoutOptions{}) // acc-1 rewritten, eu/fr/acc-3 and eu/fr removed
	assert.ElementsMatch(t, []string{wt, filepath.Join(wt, "eu")}, synced)

	synced = nil
	checkout(t, r, c1.String(), CheckoutOptions{}) // nothing changes
	assert.Empty(t, synced)
}
