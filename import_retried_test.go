package evgit

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// Commits an import retried for their idempotency keys (the key was on
// the line already, so the commit is elsewhere) are where their keys
// name, for what of the input landed and for the commits a later revert
// in the input names (reviews of session 29).

// retryDay returns a commit time on the n-th day of 2025.
func retryDay(n int) time.Time { return time.Date(2025, 1, n, 0, 0, 0, 0, time.UTC) }

// appendRetry appends one event as a commit with a message, time and key.
func appendRetry(t *testing.T, r *Repository, msg string, n int, key, data string) *AppendResult {
	t.Helper()
	res, err := r.Append(context.Background(), []EventInput{ev("a", "Ev", data)}, AppendOptions{Message: msg, Time: retryDay(n), IdempotencyKey: key, Actor: "a"})
	require.NoError(t, err)
	return res
}

// exportOf returns r's export, in full or of one stream.
func exportOf(t *testing.T, r *Repository, stream string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, r.Export(context.Background(), &b, ExportOptions{Stream: stream}))
	return b.Bytes()
}

// revertsOfHead returns the commits the head of r's HEAD branch reverts.
func revertsOfHead(t *testing.T, r *Repository) []object.ID {
	t.Helper()
	c, err := r.Show(context.Background(), "HEAD")
	require.NoError(t, err)
	return c.Reverts
}

// TestImportRevertOfCommitBeforeRetried: the revert in the input names
// the commit the import's own run wrote, not another writer's commit of
// the same event that comes after it, before a commit retried for its
// key (read back from that commit, the other writer's was taken).
func TestImportRevertOfCommitBeforeRetried(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	appendRetry(t, src, "c0", 1, "", `{"n":0}`)
	appendRetry(t, src, "c1", 2, "", `{"n":1}`)
	appendRetry(t, src, "c2", 3, "k2", `{"n":2}`)
	_, err := src.Revert(ctx, "HEAD~1", RevertOptions{Time: retryDay(4), Actor: "a"})
	require.NoError(t, err)
	full := exportOf(t, src, "")
	lines := bytes.SplitAfter(full, []byte("\n"))

	dst := newRepo(t)
	appendRetry(t, dst, "base", 1, "", `{"base":true}`)
	first, err := dst.Import(ctx, bytes.NewReader(bytes.Join(lines[:2], nil)), ImportOptions{})
	require.NoError(t, err)
	appendRetry(t, dst, "c1", 2, "", `{"n":1}`)   // another writer's, the same event
	appendRetry(t, dst, "c2", 3, "k2", `{"n":2}`) // the input's next commit, by its key
	_, err = dst.Import(ctx, bytes.NewReader(full), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{first.Head}, revertsOfHead(t, dst))
}

// TestImportRevertOfCommitAfterRetried: the same where the commit
// retried comes before the run that wrote the commit reverted (imported
// first by another input: one stream's export), which the read back
// from the run's end passed over, leaving the revert naming a commit
// this repository does not hold.
func TestImportRevertOfCommitAfterRetried(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	appendRetry(t, src, "c0", 1, "", `{"n":0}`)
	appendRetry(t, src, "c1", 2, "", `{"n":1}`)
	_, err := src.Append(ctx, []EventInput{ev("b", "Ev", `{"n":2}`)}, AppendOptions{Message: "c2", Time: retryDay(3), IdempotencyKey: "k2", Actor: "a"})
	require.NoError(t, err)
	onlyB := exportOf(t, src, "b")
	three := exportOf(t, src, "")
	_, err = src.Revert(ctx, "HEAD~1", RevertOptions{Time: retryDay(4), Actor: "a"})
	require.NoError(t, err)
	full := exportOf(t, src, "")

	dst := newRepo(t)
	appendRetry(t, dst, "base", 1, "", `{"base":true}`)
	_, err = dst.Import(ctx, bytes.NewReader(onlyB), ImportOptions{})
	require.NoError(t, err)
	run, err := dst.Import(ctx, bytes.NewReader(three), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, run.Commits) // c0 and c1; c2 retried
	_, err = dst.Import(ctx, bytes.NewReader(full), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{run.Head}, revertsOfHead(t, dst))
}

// TestImportCutAfterRetriedFirstCommit: an export cut inside its second
// commit, whose first was retried for its key (another writer had made
// it), then imported whole: refused, as the cut commit's first event
// would be there twice (the run, none of whose commits held the retried
// one, was not counted, so the refusal looked at the first commit).
func TestImportCutAfterRetriedFirstCommit(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	appendRetry(t, src, "c1", 1, "k1", `{"n":1}`)
	_, err := src.Append(ctx, []EventInput{ev("a", "Ev", `{"n":2}`), ev("a", "Ev", `{"n":3}`)}, AppendOptions{Message: "c2", Time: retryDay(2), Actor: "a"})
	require.NoError(t, err)
	full := exportOf(t, src, "")
	lines := bytes.SplitAfter(full, []byte("\n"))

	dst := newRepo(t)
	appendRetry(t, dst, "other", 1, "", `{"other":true}`)
	appendRetry(t, dst, "c1", 1, "k1", `{"n":1}`)
	_, err = dst.Import(ctx, bytes.NewReader(bytes.Join(lines[:2], nil)), ImportOptions{})
	require.NoError(t, err)
	before, err := dst.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	_, err = dst.Import(ctx, bytes.NewReader(full), ImportOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "ended inside this commit")
	after, err := dst.Resolve(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

// TestImportRevertOfCommitInRun: a stream's export, whose commits an
// import of the whole export wrote (renamed: the destination has a
// commit of its own before them), is found landed by that import's run
// alone, and its revert names the commit the run holds (findLanded's
// held: no prefix key names where to read back from).
func TestImportRevertOfCommitInRun(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	appendRetry(t, src, "c1", 1, "", `{"n":1}`)
	appendRetry(t, src, "c2", 2, "", `{"n":2}`)
	_, err := src.Append(ctx, []EventInput{ev("b", "Ev", `{"n":3}`)}, AppendOptions{Message: "c3", Time: retryDay(3), Actor: "a"})
	require.NoError(t, err)
	_, err = src.Revert(ctx, "HEAD~1", RevertOptions{Time: retryDay(4), Actor: "a"})
	require.NoError(t, err)
	whole := exportOf(t, src, "")
	lines := bytes.SplitAfter(whole, []byte("\n"))
	onlyA := exportOf(t, src, "a")

	dst := newRepo(t)
	appendRetry(t, dst, "base", 1, "", `{"base":true}`)
	_, err = dst.Import(ctx, bytes.NewReader(bytes.Join(lines[:3], nil)), ImportOptions{}) // c1, c2, c3
	require.NoError(t, err)
	c2, err := dst.Resolve(ctx, "HEAD~1")
	require.NoError(t, err)
	res, err := dst.Import(ctx, bytes.NewReader(onlyA), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, res.Commits) // the revert
	assert.Equal(t, []object.ID{c2}, revertsOfHead(t, dst))
}

// TestImportRevertPastAnotherWritersCopy: an input imported in three
// parts, another writer's copy of one of its commits (same event,
// message, actor and time) made between the second and third: the
// revert in the input names the import's own commit, found by the runs
// the imports wrote, not the copy, which a read back from where the
// second import ended reached first once the keyed commit after it was
// found by its key (a review of session 29).
func TestImportRevertPastAnotherWritersCopy(t *testing.T) {
	ctx := context.Background()
	src := newRepo(t)
	appendRetry(t, src, "c0", 2, "", `{"n":0}`)
	appendRetry(t, src, "g0", 2, "", `{"n":1}`)
	_, err := src.Append(ctx, []EventInput{ev("b", "Ev", `{"m":1}`)}, AppendOptions{Message: "g1", Time: retryDay(2), IdempotencyKey: "K", Actor: "a"})
	require.NoError(t, err)
	_, err = src.Append(ctx, []EventInput{ev("c", "Ev", `{"x":1}`)}, AppendOptions{Message: "g2", Time: retryDay(2), Actor: "a"})
	require.NoError(t, err)
	_, err = src.Revert(ctx, "HEAD~2", RevertOptions{Time: retryDay(2), Actor: "a"})
	require.NoError(t, err)
	full := exportOf(t, src, "")
	lines := bytes.SplitAfter(full, []byte("\n"))

	dst := newRepo(t)
	appendRetry(t, dst, "base", 1, "", `{"b":1}`)
	_, err = dst.Import(ctx, bytes.NewReader(bytes.Join(lines[:3], nil)), ImportOptions{})
	require.NoError(t, err)
	g0, err := dst.Resolve(ctx, "HEAD~1")
	require.NoError(t, err)
	appendRetry(t, dst, "g0", 2, "", `{"n":1}`) // the copy
	_, err = dst.Import(ctx, bytes.NewReader(bytes.Join(lines[:4], nil)), ImportOptions{})
	require.NoError(t, err)
	_, err = dst.Import(ctx, bytes.NewReader(full), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{g0}, revertsOfHead(t, dst))
}
