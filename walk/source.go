package walk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evgit/evgit/object"
)

// Source is what walk needs from a repository. Implementations must be safe
// for the calls of one walk at a time; walk never changes what they return.
type Source interface {
	// Commit returns the commit named id. A missing commit is an error
	// matching ErrNotFound.
	Commit(ctx context.Context, id object.ID) (*object.Commit, error)
	// Event returns the event named id. A missing event is an error
	// matching ErrNotFound.
	Event(ctx context.Context, id object.ID) (*object.Event, error)
	// Ref returns the commit a full ref name points to: "HEAD" (resolved
	// through a symbolic HEAD), "refs/heads/x" or "refs/tags/x". The bool
	// is false when the ref does not exist. walk only asks for names that
	// pass refs.CheckRefName.
	Ref(name string) (object.ID, bool, error)
	// Reflog returns the changes of a full ref name, newest first. A ref
	// without a reflog gives no entries (or an error matching ErrNotFound).
	Reflog(name string) ([]ReflogEntry, error)
	// Lookup returns every commit whose hex ID starts with prefix: lower-case
	// hex of at least 4 digits.
	Lookup(prefix string) ([]object.ID, error)
}

// BranchSource is implemented by a Source that knows the branch HEAD is
// on: a bare @{N} then reads that branch's reflog, as in Git, and
// HEAD's only while HEAD is detached.
type BranchSource interface {
	// CurrentBranch returns the branch HEAD names (refs/heads/…), and
	// false when HEAD is detached.
	CurrentBranch() (ref string, ok bool)
}

// Warner is implemented by a Source that is told what Git warns of while
// a revision resolves: a name that more than one ref has (a branch and a
// tag "v1"), which resolves as Git resolves it, to the first of
// RefCandidates.
type Warner interface {
	Warn(msg string)
}

// EventMatcher is implemented by a Source that can tell whether an event
// has a stream and type (an empty one matches any) without loading it
// whole; Log then loads the events of matching commits only.
type EventMatcher interface {
	// EventIs reports whether event id has the stream and the type.
	EventIs(ctx context.Context, id object.ID, stream, typ string) (bool, error)
}

// ReflogEntry is one change of a ref: it moved from Old to New. A zero Old
// means the ref was created, a zero New that it was deleted.
type ReflogEntry struct {
	Old     object.ID // where the ref was before; zero when created
	New     object.ID // where the ref moved to; zero when deleted
	Time    time.Time // when it moved
	Actor   string    // who moved it; empty: none given
	Message string    // why, such as "commit: Open"
}

// ErrNotFound is returned when an object or ref does not exist. Source
// implementations must wrap it (fmt.Errorf("...: %w", walk.ErrNotFound))
// so that walk can tell a missing object from a broken repository.
var ErrNotFound = object.ErrNotFound

// ErrUnknownRevision is returned when a revision names no commit: an
// unknown name or hex prefix, a step beyond the root, a reflog entry that
// does not exist, or an as-of time before the first commit. It matches
// ErrNotFound too.
var ErrUnknownRevision error = &kindError{msg: "unknown revision", kind: ErrNotFound}

// ErrBadRevision is returned for a revision whose syntax is wrong, where
// nothing was looked up: an empty one, a bad suffix (HEAD~-1), a name no
// ref can have, a range (A..B) where one commit is wanted. It matches
// object.ErrInvalid, not ErrNotFound, so a caller can tell a typo from a
// commit that is not there. Its message starts "unknown revision", as
// Git's does for both.
var ErrBadRevision error = &kindError{msg: "bad revision", kind: object.ErrInvalid}

// badRevision returns an error matching ErrBadRevision that names rev
// and why.
func badRevision(rev, reason string) error {
	return &wrapError{msg: fmt.Sprintf("unknown revision %q: %s", rev, reason), err: ErrBadRevision}
}

// kindError is a sentinel error that is also a kind of a wider one.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// ErrAmbiguous is returned when an abbreviated hex ID matches more than
// one commit. The message lists the candidates.
var ErrAmbiguous = errors.New("ambiguous revision")

// ErrInvalidTime is returned by ParseTime for text that is neither RFC 3339
// nor YYYY-MM-DD.
var ErrInvalidTime = errors.New("invalid time")

// Given returns the error Resolve gives for an empty revision when rev is
// empty, and nil otherwise: for a command that takes HEAD when its
// revision is left out, not when it is given empty (as Git refuses
// `git log ""`).
func Given(rev string) error {
	if rev == "" {
		return badRevision(rev, "empty revision")
	}
	return nil
}

// unknownRevision returns an error matching ErrUnknownRevision that names
// rev and, when known, why.
func unknownRevision(rev, reason string) error {
	if reason == "" {
		return fmt.Errorf("%w %q", ErrUnknownRevision, rev)
	}
	return fmt.Errorf("%w %q: %s", ErrUnknownRevision, rev, reason)
}

// wrapError carries its own message and matches a sentinel.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// commit loads a commit and guards against a Source that returns neither
// a commit nor an error.
func commit(ctx context.Context, src Source, id object.ID) (*object.Commit, error) {
	c, err := src.Commit(ctx, id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("commit %s: %w", id, ErrNotFound)
	}
	return c, nil
}
