package evgit

import (
	"errors"
	"fmt"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotFound is returned when a revision, ref, stream or object does
	// not exist.
	ErrNotFound = store.ErrNotFound
	// ErrConflict is returned when an expected version does not hold
	// (*ExpectError), an idempotency key is reused with other events
	// (*KeyReusedError, which no retry mends), or a ref moved under a
	// compare-and-swap.
	ErrConflict = refs.ErrConflict
	// ErrRule is returned when a model rule refuses events: a require
	// that is false, an expression that fails, an integer overflow.
	ErrRule = model.ErrRule
	// ErrCorrupt is returned when stored data is damaged. Damaged bytes are
	// never returned as data.
	ErrCorrupt = object.ErrCorrupt
	// ErrInvalid is returned for bad input: a stream or type name, JSON,
	// a time, a ref name, a revision's syntax (walk.ErrBadRevision), an
	// option.
	ErrInvalid = object.ErrInvalid
	// ErrNothingToCommit is returned when there is nothing to write: Append
	// of no events, Import of an input without events, Revert of a range
	// that holds no commit.
	ErrNothingToCommit = errors.New("nothing to commit")
	// ErrNotRepository is returned when no repository is found.
	ErrNotRepository = store.ErrNotRepository
	// ErrClosed is returned by a Repository used after Close.
	ErrClosed = store.ErrClosed
)

// RuleError is the error a model rule refuses events with: the stream,
// the event type and the rule (errors.As finds it; it matches ErrRule).
// It is model.RuleError, named here so that a caller of the facade need
// not import the model package to inspect it.
type RuleError = model.RuleError

// invalidError is bad input: its message stands alone (the CLI prints it
// after "error: ") and it matches ErrInvalid.
type invalidError struct {
	msg string
	err error // what it says more of, if anything (errors.Is reaches it)
}

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }
func (e *invalidError) Unwrap() error        { return e.err }

// invalidWrap returns an error matching ErrInvalid, and err's sentinels,
// with err's message alone: a message that names its kind already
// (invalid model: ...) needs no second prefix.
func invalidWrap(err error) error { return &invalidError{msg: err.Error(), err: err} }

// invalidIfTooLarge makes a transaction the store refused as larger
// than a frame holds (store.ErrTooLarge) an error matching ErrInvalid:
// the input was too large.
func invalidIfTooLarge(err error) error {
	if errors.Is(err, store.ErrTooLarge) {
		return invalidWrap(fmt.Errorf("commit too large: %w", err))
	}
	return err
}

// conflictError is a conflict whose message stands alone; it matches
// ErrConflict.
type conflictError struct{ msg string }

func (e *conflictError) Error() string        { return e.msg }
func (e *conflictError) Is(target error) bool { return target == ErrConflict }

// conflictf returns an error matching ErrConflict with the given message.
func conflictf(format string, args ...any) error {
	return &conflictError{msg: fmt.Sprintf(format, args...)}
}

// notFoundError is a missing thing whose message stands alone; it
// matches ErrNotFound.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// notFoundf returns an error matching ErrNotFound with the given message.
func notFoundf(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// invalidf returns an error matching ErrInvalid with the given message.
func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
