package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evgit/evgit"
)

// Exit codes, SPEC §3.
const (
	exitOK       = 0
	exitError    = 1 // invalid value, not found, corrupt data, nothing to commit, anything else
	exitUsage    = 2 // an unknown flag or a wrong number of arguments
	exitConflict = 3 // an --expect did not hold, an idempotency key reused with other events
	exitRule     = 4 // a model rule refused the events
)

// usageError is a command line cobra (or a command) could not make sense
// of: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func asUsage(err error) error {
	var u *usageError
	if err == nil || errors.As(err, &u) {
		return err
	}
	return &usageError{err: err}
}

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// fatalError is printed after "fatal: " instead of "error: ", as Git does
// for a missing repository.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func fatalf(format string, args ...any) error {
	return &fatalError{err: fmt.Errorf(format, args...)}
}

// notRepository turns a failure to find or open the repository into the
// fatal line of SPEC §1.
func notRepository(err error) error {
	if errors.Is(err, evgit.ErrNotRepository) {
		return &fatalError{err: err}
	}
	return err
}

// cliError is an error the CLI finds itself (a flag value the library
// never sees, a stream that does not exist): its message stands alone and
// it matches a sentinel of the library, which decides its exit code.
type cliError struct {
	msg      string
	sentinel error
}

func (e *cliError) Error() string        { return e.msg }
func (e *cliError) Is(target error) bool { return target == e.sentinel }

// invalidf returns an error matching evgit.ErrInvalid.
func invalidf(format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), sentinel: evgit.ErrInvalid}
}

// notFoundf returns an error matching evgit.ErrNotFound.
func notFoundf(format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), sentinel: evgit.ErrNotFound}
}

// exitCode maps an error to the exit code of SPEC §3. It is the only place
// that does.
func exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, evgit.ErrConflict):
		return exitConflict
	case errors.Is(err, evgit.ErrRule):
		return exitRule
	default:
		return exitError
	}
}

// report prints err as one line on w and returns the exit code.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	prefix := "error: "
	var f *fatalError
	if errors.As(err, &f) {
		prefix = "fatal: "
	}
	msg := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(strings.TrimSpace(err.Error()))
	if errors.Is(err, context.Canceled) {
		// Ctrl-C: Go's "context canceled" says little to a user; what
		// the message adds after it (an import's commits that landed)
		// stays.
		_, after, _ := strings.Cut(msg, context.Canceled.Error())
		msg = "interrupted" + after
	}
	fmt.Fprintf(w, "%s%s\n", prefix, shortened(printable(msg)))
	return exitCode(err)
}

// maxErrorLine is the longest error line printed whole: a message that
// echoes a value as given (a 100 KB branch name, a line of digits) is cut
// after it, saying how much was left out.
const maxErrorLine = 2000

// shortened cuts msg after maxErrorLine bytes, at a character's start.
func shortened(msg string) string {
	if len(msg) <= maxErrorLine {
		return msg
	}
	cut := maxErrorLine
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", msg[:cut], len(msg)-cut)
}

// printable escapes what a terminal would act on or garble, as Go's %q
// writes it: control characters (\x1b starts a terminal's escape
// sequences), format characters (U+202E turns the text after it
// around), line and paragraph separators, and bytes that are not UTF-8.
// Most messages quote the values they name already; a path or a flag's
// value, echoed as given, may not.
func printable(msg string) string {
	if utf8.ValidString(msg) && !strings.ContainsFunc(msg, unprintable) {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", msg[i])
		case unprintable(r):
			q := strconv.QuoteRune(r) // '\x01', '\t', '\u0085', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(msg[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unprintable reports whether printable escapes r.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
