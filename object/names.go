package object

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidName is returned when a stream or event type name breaks the
// rules of SPEC §2.
var ErrInvalidName = errors.New("invalid name")

// Limits on names. Part of the input contract.
const (
	MaxStreamLen  = 255
	MaxSegmentLen = 200
	MaxTypeLen    = 128
)

// ValidateStream checks a stream name: 1–255 bytes of UTF-8 without
// control characters, '/'-separated segments none of which is empty, ".",
// "..", ".evgit", ends in ".json" or exceeds 200 bytes. Checkout maps a
// stream to the file <stream>.json, so these rules keep every stream inside
// the work tree and apart from every other.
func ValidateStream(s string) error {
	if len(s) == 0 || len(s) > MaxStreamLen {
		return fmt.Errorf("%w: stream %q must be 1 to %d bytes", ErrInvalidName, s, MaxStreamLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: stream %q is not UTF-8", ErrInvalidName, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: stream %q has a control character", ErrInvalidName, s)
		}
	}
	switch {
	case strings.HasPrefix(s, "/"):
		return fmt.Errorf("%w: stream %q starts with /", ErrInvalidName, s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("%w: stream %q ends with /", ErrInvalidName, s)
	}
	for seg := range strings.SplitSeq(s, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: stream %q has an empty segment", ErrInvalidName, s)
		case seg == "." || seg == ".." || seg == ".evgit":
			return fmt.Errorf("%w: stream %q has the segment %q", ErrInvalidName, s, seg)
		case strings.HasSuffix(seg, ".json"):
			return fmt.Errorf("%w: stream %q has a segment ending in .json", ErrInvalidName, s)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("%w: stream %q has a segment over %d bytes", ErrInvalidName, s, MaxSegmentLen)
		}
	}
	return nil
}

// ValidateType checks an event type: [A-Za-z_][A-Za-z0-9_.:-]*, at most
// 128 bytes.
func ValidateType(t string) error {
	if len(t) == 0 || len(t) > MaxTypeLen {
		return fmt.Errorf("%w: type %q must be 1 to %d bytes", ErrInvalidName, t, MaxTypeLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if i > 0 {
			ok = ok || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-'
		}
		if !ok {
			// Named whole, not by its first byte; a byte that is not
			// UTF-8 is named as such, not as U+FFFD.
			r, n := utf8.DecodeRuneInString(t[i:])
			if r == utf8.RuneError && n <= 1 {
				return fmt.Errorf("%w: type %q: byte %q is not UTF-8", ErrInvalidName, t, t[i:i+1])
			}
			return fmt.Errorf("%w: type %q: character %q not allowed", ErrInvalidName, t, r)
		}
	}
	return nil
}
