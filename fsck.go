package evgit

import (
	"context"

	"github.com/evgit/evgit/fsck"
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
