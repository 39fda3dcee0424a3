package evgit

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

// StateOptions choose which state of a stream State returns.
type StateOptions struct {
	// AsOf, when set, takes the newest commit on the revision's
	// first-parent line whose time is at or before AsOf instead of the
	// revision itself (SPEC §3 --as-of).
	AsOf time.Time
	// Version, when > 0, asks for the state after the stream's Version-th
	// event on that first-parent line instead of after all of them. A
	// Version past the stream's last event is an error matching
	// ErrNotFound.
	Version uint64
}

// State returns a stream's version and state at a revision ("" for
// HEAD): the fold of
// its events on the revision's first-parent line through the model, found
// from the nearest snapshot at or below it (SPEC §3 `show REV:STREAM`). A
// stream exists once it has an event; one without an event there is an
// error matching ErrNotFound.
func (r *Repository) State(ctx context.Context, rev, stream string, opts StateOptions) (*StreamState, error) {
	if err := object.ValidateStream(stream); err != nil {
		return nil, invalidf("%v", err)
	}
	id, err := r.resolveAt(ctx, rev, opts.AsOf)
	if err != nil {
		return nil, err
	}
	mdl, mdlID, err := r.model()
	if err != nil {
		return nil, err
	}
	l := newLoader(r, r.st, mdl, mdlID)
	l.ctx = ctx
	st, err := l.load(id, stream, opts.Version)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", stream, revAt(rev, opts.AsOf, id), err)
	}
	if st.version == 0 {
		return nil, notFoundf("stream %s does not exist at %s", stream, revAt(rev, opts.AsOf, id))
	}
	// The caller's copy: the state may be the head cache's or a
	// snapshot node's, which a caller changing it would change for every
	// later read.
	return &StreamState{Stream: stream, Version: st.version, State: bytes.Clone(st.state), Commit: id}, nil
}

// revAt names, in a message, what resolveAt(rev, asOf) found (id): the
// revision as given, or with a time the commit it led to.
func revAt(rev string, asOf time.Time, id object.ID) string {
	if rev == "" {
		rev = "HEAD"
	}
	if asOf.IsZero() {
		return rev
	}
	return fmt.Sprintf("%s (%s as of %s)", id.Short(), rev, asOf.UTC().Format(time.RFC3339Nano))
}

// resolveAt resolves a revision, then with a time the newest commit at or
// before it on the revision's first-parent line.
func (r *Repository) resolveAt(ctx context.Context, rev string, asOf time.Time) (object.ID, error) {
	if rev == "" {
		rev = "HEAD"
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil || asOf.IsZero() {
		return id, err
	}
	return r.CommitAsOf(ctx, id, asOf)
}

// CommitAsOf returns the newest commit on tip's first-parent line whose
// time is at or before t. Times never decrease along that line, so when
// the process's line index holds tip it is a binary search; otherwise it
// follows the skip links recorded every hundred events.
// When even the first commit is newer than t, the error matches
// ErrNotFound (walk.ErrUnknownRevision).
func (r *Repository) CommitAsOf(ctx context.Context, tip object.ID, t time.Time) (object.ID, error) {
	if err := ctx.Err(); err != nil {
		return object.ZeroID, err
	}
	c, err := r.st.Commit(tip)
	if err != nil {
		return object.ZeroID, err
	}
	if v, ok := r.derived().line.covers(tip, c.Offset); ok {
		p := v.asOf(walk.ClampNano(t))
		if p < 0 {
			return object.ZeroID, fmt.Errorf("%w: no commit at or before %s", walk.ErrUnknownRevision, t.UTC().Format(time.RFC3339Nano))
		}
		return v.ids[p], nil
	}
	return r.asOf(ctx, tip, t)
}
