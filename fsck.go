package evgit

import (
	"context"
	"fmt"

	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/store"
)

// FsckOptions tune Fsck.
type FsckOptions = fsck.Options

// FsckReport is what Fsck found; its JSON is `evgit fsck --json`.
type FsckReport = fsck.Report

// FsckProblem is one thing Fsck found wrong.
type FsckProblem = fsck.Problem

// Fsck checks the whole repository: every object against its ID and its
// encoding, every link between objects, the invariants of commits (offset
// and time against the first parent), every ref and reflog entry, the
// snapshot and idempotency records, and the checksums of every log file.
// Problems found are in the report (OK is false); the error is for a check
// that could not run.
func (r *Repository) Fsck(ctx context.Context, opts FsckOptions) (*FsckReport, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	return fsck.Run(ctx, r.st, opts)
}

// FsckDamaged checks a repository that damage keeps Open from opening
// (the folder gitDir, as FindGitDir gives it): it opens the storage past
// the damaged frames, read only, and checks what is left as Fsck does. The
// report lists each damaged frame, and the objects that something still
// names but that only a damaged frame held (a commit's events, a ref's
// commit) as missing. The error is for a repository it cannot open even
// so.
func FsckDamaged(ctx context.Context, gitDir string, opts FsckOptions) (*FsckReport, error) {
	st, err := store.Open(gitDir, store.Options{Salvage: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rep, err := fsck.Run(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	if skipped := st.Salvaged(); len(skipped) > 0 {
		rep.OK = false
		what := "frames"
		if len(skipped) == 1 {
			what = "frame"
		}
		p := FsckProblem{Kind: "repository", Message: fmt.Sprintf("does not open: %d damaged %s; checked what the rest holds", len(skipped), what)}
		rep.Problems = append([]FsckProblem{p}, rep.Problems...)
	}
	return rep, nil
}
