package refs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Well-known ref names and prefixes.
const (
	// HEAD names the current branch (symbolic) or commit (detached).
	HEAD = "HEAD"
	// HeadsPrefix starts the full name of every branch.
	HeadsPrefix = "refs/heads/"
	// TagsPrefix starts the full name of every tag.
	TagsPrefix = "refs/tags/"
)

// ErrInvalidName is returned when a ref, branch or tag name breaks Git's
// ref-name rules (git check-ref-format), or a branch or tag name is one a
// revision could not tell apart (it starts with "-" or is "HEAD").
var ErrInvalidName = errors.New("invalid ref name")

// nameError names the bad name and the rule it breaks.
type nameError struct {
	kind   string // "ref", "branch" or "tag"
	name   string
	reason string
}

func (e *nameError) Error() string {
	return fmt.Sprintf("invalid %s name %q: %s", e.kind, e.name, e.reason)
}

func (e *nameError) Unwrap() error { return ErrInvalidName }

// CheckRefName checks a full ref name such as "refs/heads/main" against
// Git's check-ref-format rules: it has at least one "/" (only "HEAD" is
// allowed without one); no "/"-separated component is empty, begins with
// "." or ends with ".lock"; it contains no "..", no "@{", no ASCII control
// character, space, "~", "^", ":", "?", "*", "[" or "\"; it does not end
// with "." and is not "@". Unlike Git it also requires valid UTF-8, since
// names are printed in JSON. The error matches ErrInvalidName.
func CheckRefName(name string) error {
	if reason := refNameProblem(name); reason != "" {
		return &nameError{kind: "ref", name: name, reason: reason}
	}
	return nil
}

// CheckBranchName checks a short branch name such as "main": it must make
// a valid ref name as "refs/heads/<short>", must not start with "-" (it
// would read as a flag) and must not be "HEAD" or "@" (which names HEAD).
// The error matches ErrInvalidName.
func CheckBranchName(short string) error {
	return checkShortName("branch", HeadsPrefix, short)
}

// CheckTagName checks a short tag name such as "v1.0" with the rules of
// CheckBranchName, as "refs/tags/<short>". The error matches
// ErrInvalidName.
func CheckTagName(short string) error {
	return checkShortName("tag", TagsPrefix, short)
}

func checkShortName(kind, prefix, short string) error {
	var reason string
	switch {
	case short == "":
		reason = "empty"
	case strings.HasPrefix(short, "-"):
		reason = `begins with "-"`
	case short == HEAD:
		reason = `"HEAD" is reserved`
	case short == "@":
		reason = `"@" is reserved (it names HEAD)`
	case strings.HasPrefix(short, "/"):
		reason = `begins with "/"`
	case strings.HasSuffix(short, "/"):
		reason = `ends with "/"`
	default:
		reason = refNameProblem(prefix + short)
	}
	if reason != "" {
		return &nameError{kind: kind, name: short, reason: reason}
	}
	return nil
}

// refNameProblem returns the first rule name breaks, or "" when it is
// valid.
func refNameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case name == HEAD:
		return ""
	case name == "@":
		return `"@" is reserved`
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("contains the control character %q", c)
		case strings.IndexByte(" ~^:?*[\\", c) >= 0:
			return fmt.Sprintf("contains %q", c)
		}
	}
	switch {
	case strings.Contains(name, ".."):
		return `contains ".."`
	case strings.Contains(name, "@{"):
		return `contains "@{"`
	case strings.HasPrefix(name, "/"):
		return `begins with "/"`
	case strings.HasSuffix(name, "/"):
		return `ends with "/"`
	case strings.Contains(name, "//"):
		return `contains "//"`
	case strings.HasSuffix(name, "."):
		return `ends with "."`
	case !strings.Contains(name, "/"):
		return `has no "/" (want a full name such as refs/heads/main)`
	}
	for comp := range strings.SplitSeq(name, "/") {
		switch {
		case strings.HasPrefix(comp, "."):
			return fmt.Sprintf("component %q begins with \".\"", comp)
		case strings.HasSuffix(comp, ".lock"):
			return fmt.Sprintf("component %q ends with \".lock\"", comp)
		}
	}
	return ""
}
