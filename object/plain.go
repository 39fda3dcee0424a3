package object

import (
	"bytes"
	"unicode/utf8"
)

// IsPlainCanonical reports whether b is one whole value of plain canonical
// JSON: canonical (CanonicalJSON would return it unchanged), with no escape
// in any string and no number but integers of at most 18 digits. Such
// bytes can be taken as canonical without decoding them; anything else
// may be canonical too, and is for CanonicalJSON to say.
func IsPlainCanonical(b []byte) bool {
	end, ok := scanPlain(b, 0, 0)
	return ok && end == len(b)
}

// scanPlain checks the plain canonical value at b[i:] and returns where it
// ends.
func scanPlain(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || tooDeep(b[i], depth) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for {
			kEnd, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			key := b[i+1 : kEnd-1]
			if prev != nil && bytes.Compare(prev, key) >= 0 {
				return 0, false // out of order or repeated: not canonical
			}
			prev = key
			if kEnd >= len(b) || b[kEnd] != ':' {
				return 0, false
			}
			if i, ok = scanPlain(b, kEnd+1, depth+1); !ok || i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanPlain(b, i, depth+1); !ok || i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '"':
		return scanString(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		start := i
		if c == '-' {
			i++
		}
		digits := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		n := i - digits
		if n == 0 || n > 18 || (b[digits] == '0' && (n > 1 || digits > start)) {
			return 0, false // none, too long, a leading zero, or -0
		}
		if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
			return 0, false
		}
		return i, true
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), true
			}
		}
		return 0, false
	}
}

// scanString checks the string at b[i:] — valid UTF-8, no escape, no
// control character — and returns where it ends.
func scanString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	start := i + 1
	var high byte // the bits of every byte: ASCII alone needs no UTF-8 check
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, high < utf8.RuneSelf || utf8.Valid(b[start:j])
		case c == '\\' || c < 0x20:
			return 0, false
		default:
			high |= c
		}
	}
	return 0, false
}

// PlainMembers walks the members of an object that IsPlainCanonical
// accepted, in order: NewPlainMembers(nil) walks none. On other bytes it
// stops where they stop being plain canonical JSON, without failing.
type PlainMembers struct {
	b   []byte
	pos int
}

// NewPlainMembers returns a walk over the members of obj.
func NewPlainMembers(obj []byte) *PlainMembers { return &PlainMembers{b: obj} }

// Next returns the next member's key (as written, without its quotes)
// and value; ok is false after the last.
func (m *PlainMembers) Next() (key, value []byte, ok bool) {
	if len(m.b) == 0 {
		return nil, nil, false
	}
	if m.pos == 0 {
		m.pos = 1
	}
	if m.pos >= len(m.b) || m.b[m.pos] == '}' {
		return nil, nil, false
	}
	kEnd, ok := scanString(m.b, m.pos)
	if !ok || kEnd >= len(m.b) || m.b[kEnd] != ':' {
		return nil, nil, false // not what IsPlainCanonical accepts: stop
	}
	vEnd, ok := scanPlain(m.b, kEnd+1, 0)
	if !ok || vEnd >= len(m.b) {
		return nil, nil, false
	}
	key, value = m.b[m.pos+1:kEnd-1], m.b[kEnd+1:vEnd]
	m.pos = vEnd
	if m.b[m.pos] == ',' {
		m.pos++
	}
	return key, value, true
}
