package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// runCLI runs one invocation in process, as run does.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// fsckRepository makes a repository of two commits and a tag.
func fsckRepository(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	r, _, err := evgit.Init(ctx, dir, evgit.InitOptions{})
	require.NoError(t, err)
	defer r.Close()
	for i := range 2 {
		_, err = r.Append(ctx, []evgit.EventInput{{Stream: "acc-1", Type: "Deposited", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}, evgit.AppendOptions{Actor: "ann", Message: "m"})
		require.NoError(t, err)
	}
	_, err = r.CreateTag(ctx, "v1", "", "ann")
	require.NoError(t, err)
	return dir
}

// dangleRef points a new ref at a commit that does not exist, as only
// damage (or a bug) could.
func dangleRef(gitDir, name string) (object.ID, error) {
	missing := object.Hash(object.KindCommit, []byte("never written"))
	st, err := store.Open(gitDir, store.Options{})
	if err != nil {
		return missing, err
	}
	defer st.Close()
	return missing, st.Update(context.Background(), func(tx *store.Tx) error {
		return tx.UpdateRef(refs.Update{Name: name, New: missing, Actor: "test"})
	})
}

func TestFsckCommand(t *testing.T) {
	dir := fsckRepository(t)

	code, out, errs := runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitOK, code, errs)
	assert.Equal(t, "Checked 4 objects (2 commits, 2 events, 0 trees, 0 blobs), 3 refs, 5 reflog entries, 7 records: ok\n", out)
	assert.Empty(t, errs)

	code, out, _ = runCLI(t, "-C", dir, "fsck", "--json")
	assert.Equal(t, exitOK, code)
	assert.JSONEq(t, `{"ok":true,"objects":4,"problems":[]}`, out)

	code, _, errs = runCLI(t, "-C", dir, "fsck", "extra")
	assert.Equal(t, exitUsage, code, errs)

	missing, err := dangleRef(filepath.Join(dir, ".evgit"), "refs/tags/lost")
	require.NoError(t, err)
	code, out, errs = runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitError, code)
	assert.Empty(t, out)
	assert.Equal(t, "error: ref refs/tags/lost: commit "+missing.String()+" is missing\n"+
		"error: reflog refs/tags/lost@{0}: target "+missing.String()+" is missing\n"+
		"error: fsck found 2 problems\n", errs)

	code, out, errs = runCLI(t, "-C", dir, "fsck", "--json")
	assert.Equal(t, exitError, code)
	assert.Equal(t, "error: fsck found 2 problems\n", errs)
	var rep evgit.FsckReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.False(t, rep.OK)
	assert.Equal(t, 4, rep.Objects)
	require.Len(t, rep.Problems, 2)
	assert.Equal(t, evgit.FsckProblem{Kind: "ref", Name: "refs/tags/lost", Message: "commit " + missing.String() + " is missing"}, rep.Problems[0])
}

// A repository too damaged to open: one error line, or with --json still
// one document.
func TestFsckCommandUnopenable(t *testing.T) {
	dir := fsckRepository(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".evgit", "format"), []byte("evgit 9\n"), 0o644))

	code, out, errs := runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitError, code)
	assert.Empty(t, out)
	assert.Regexp(t, `^error: .* has format "evgit 9\\n" \(its file .*/format\); .*\n$`, errs)

	code, out, _ = runCLI(t, "-C", dir, "fsck", "--json")
	assert.Equal(t, exitError, code)
	var rep evgit.FsckReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.False(t, rep.OK)
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, "repository", rep.Problems[0].Kind)
}

// A damaged frame that keeps the repository from opening: fsck opens it
// past the frame, reports the frame, and names what the rest still names
// but only the frame held.
func TestFsckCommandPastDamage(t *testing.T) {
	dir := fsckRepository(t)
	r, err := evgit.Open(context.Background(), filepath.Join(dir, ".evgit"))
	require.NoError(t, err)
	first, err := r.Resolve(context.Background(), "HEAD~1")
	require.NoError(t, err)
	require.NoError(t, r.Close())
	seg := filepath.Join(dir, ".evgit", "log", "00000001.seg")
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	// The second frame holds the first commit: damage its last byte.
	at := bytes.Index(b, first[:])
	require.Positive(t, at, "the first commit's ID is in the frame of its ref move")
	b[at] ^= 0x10
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	code, _, errs := runCLI(t, "-C", dir, "log")
	assert.Equal(t, exitError, code, "other commands refuse the damaged repository")
	assert.Contains(t, errs, "checksum mismatch")

	code, out, errs := runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitError, code)
	assert.Empty(t, out)
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	assert.Equal(t, "error: repository: does not open: skipped 1 damaged frame; checked what the rest holds", lines[0])
	assert.Regexp(t, `^error: segment 00000001.seg: .*frame at \d+: .*checksum mismatch \(\d+ bytes unreadable, to offset \d+\)`, lines[1])
	assert.Contains(t, errs, "error: commit ")
	assert.Contains(t, errs, "parent "+first.String()+" is missing")
	assert.Regexp(t, `error: fsck found \d+ problems$`, lines[len(lines)-1])

	code, out, _ = runCLI(t, "-C", dir, "fsck", "--json")
	assert.Equal(t, exitError, code)
	var rep evgit.FsckReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.False(t, rep.OK)
	assert.Equal(t, "repository", rep.Problems[0].Kind)

	// Nothing was changed: the repository still refuses to open.
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.Equal(t, b, after)
}

// A flipped bit in the newest segment's last frame was cut as a crash's
// torn tail, with a warning: the acknowledged commit in it was gone, the
// branch went back one commit, and fsck said ok (a helper's audit). The
// lock file's mark says that frame was synced, so it is damage: every
// command refuses the repository, fsck names the segment and offset, and
// nothing is cut.
func TestFsckDamagedLastFrame(t *testing.T) {
	dir := fsckRepository(t)
	lock, err := os.ReadFile(filepath.Join(dir, ".evgit", "lock"))
	require.NoError(t, err)
	require.Len(t, lock, 32, "the generation, then the durable mark")
	end := int64(binary.LittleEndian.Uint64(lock[12:20]))
	seg := filepath.Join(dir, ".evgit", "log", fmt.Sprintf("%08d.seg", binary.LittleEndian.Uint32(lock[8:12])))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[end-20] ^= 0x40 // inside the last frame, the tag's
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	code, _, errs := runCLI(t, "-C", dir, "log", "--oneline")
	assert.Equal(t, exitError, code)
	assert.Regexp(t, `^error: corrupt: segment 1: its whole frames end at offset \d+, but \d+ bytes of it were synced`, errs)
	assert.NotContains(t, errs, "warning: cut")

	code, _, errs = runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitError, code)
	assert.Regexp(t, `error: segment 00000001.seg: its whole frames end at offset \d+, but `+fmt.Sprint(end)+` bytes of it were synced`, errs)
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.Equal(t, b, after, "nothing was cut")
	_, err = os.Stat(filepath.Join(dir, ".evgit", "lost-found"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The newest segment of another copy of the repository, diverged from
// this one and longer than what this one synced, put in its place: read
// as this repository's before, exit 0, and gc then dropped the commits
// only this copy held (a helper's review). The lock file's mark names the
// frame this copy synced last, which that file does not hold.
func TestFsckSegmentOfAnotherCopy(t *testing.T) {
	dir := fsckRepository(t)
	other := t.TempDir()
	require.NoError(t, os.CopyFS(other, os.DirFS(dir)))
	for d, n := range map[string]int{dir: 1, other: 3} {
		for i := range n {
			code, _, errs := runCLI(t, "-C", d, "commit", "-m", "more", "--actor", "ann", "s", "T", fmt.Sprintf(`{"i":%d}`, 10*n+i))
			require.Equal(t, 0, code, errs)
		}
	}
	b, err := os.ReadFile(filepath.Join(other, ".evgit", "log", "00000001.seg"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".evgit", "log", "00000001.seg"), b, 0o644))

	code, _, errs := runCLI(t, "-C", dir, "log", "--oneline")
	assert.Equal(t, exitError, code)
	assert.Regexp(t, `^error: corrupt: segment 1: the frame synced last \(\d+ bytes, CRC [0-9a-f]{8}, ending at offset \d+, as the lock file's mark says\) is not there: the file was replaced by another copy\n$`, errs)
	code, _, errs = runCLI(t, "-C", dir, "fsck")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "error: segment 00000001.seg: the frame synced last (")
	code, _, _ = runCLI(t, "-C", dir, "gc", "--prune=now")
	assert.Equal(t, exitError, code, "nothing dropped")
}

// TestFsckScripts runs the scenarios of testdata/fsck (they exec the
// evgit that TestMain builds).
func TestFsckScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/fsck",
		Setup: func(env *testscript.Env) error {
			env.Setenv("EVGIT_ACTOR", "tester")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": cmdExits,
			"dangle-ref": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: dangle-ref GITDIR REF")
				}
				_, err := dangleRef(ts.MkAbs(args[0]), args[1])
				ts.Check(err)
			},
			"flip": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: flip FILE OFFSET")
				}
				off, err := strconv.Atoi(args[1])
				ts.Check(err)
				path := ts.MkAbs(args[0])
				b, err := os.ReadFile(path)
				ts.Check(err)
				b[off] ^= 0x10
				ts.Check(os.WriteFile(path, b, 0o644))
			},
		},
	})
}
