package model

import (
	"bytes"
	"unicode/utf8"
)

// mergeCanonical is mergePatch on canonical JSON bytes, without decoding
// either side: the members of two canonical objects come in key order, so
// the result is a merge of the two lists, and every value it keeps is
// copied as it is, canonical already. It handles only the plainest
// canonical JSON — no escapes in strings, integers of at most 18 digits —
// and reports ok false for anything else, valid or not, for the decoding
// path to deal with; where it reports ok, its result is byte for byte what
// that path gives. An empty state is null.
func mergeCanonical(state, patch []byte) ([]byte, bool) {
	if len(patch) == 0 || !plainValue(patch) || (len(state) > 0 && !plainValue(state)) {
		return nil, false
	}
	out := make([]byte, 0, len(state)+len(patch))
	return mergeValue(out, state, patch), true
}

// plainValue reports whether b is one whole value of plain canonical JSON.
func plainValue(b []byte) bool {
	end, ok := scanPlain(b, 0, 0)
	return ok && end == len(b)
}

// scanPlain checks the plain canonical value at b[i:] and returns where it
// ends.
func scanPlain(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxPlainDepth {
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

// maxPlainDepth bounds the nesting scanPlain follows; deeper values take
// the decoding path, which has its own limit.
const maxPlainDepth = 64

// scanString checks the string at b[i:] — valid UTF-8, no escape, no
// control character — and returns where it ends.
func scanString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	start := i + 1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, utf8.Valid(b[start:j])
		case c == '\\' || c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// mergeValue appends to out the merge of patch onto target, both plain
// canonical values (target may be empty: null).
func mergeValue(out, target, patch []byte) []byte {
	if patch[0] != '{' {
		return append(out, patch...)
	}
	if len(target) == 0 || target[0] != '{' {
		target = nil // not an object: the patch merges onto {}
	}
	out = append(out, '{')
	open := len(out) // no comma before the first member
	member := func(out, key []byte) []byte {
		if len(out) > open {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, key...)
		return append(out, '"', ':')
	}
	t, p := members{b: target}, members{b: patch}
	tk, tv, tok := t.next()
	pk, pv, pok := p.next()
	for tok || pok {
		c := 0
		switch {
		case !pok:
			c = -1
		case !tok:
			c = 1
		default:
			c = bytes.Compare(tk, pk)
		}
		switch {
		case c < 0: // the target's alone: kept
			out = append(member(out, tk), tv...)
			tk, tv, tok = t.next()
			continue
		case c == 0: // both: the patch's wins, merged if an object
			var merged []byte
			if pv[0] == '{' {
				merged = tv
			}
			if string(pv) != "null" {
				out = mergeValue(member(out, pk), merged, pv)
			}
			tk, tv, tok = t.next()
		default: // the patch's alone: added, its nulls dropped
			if string(pv) != "null" {
				out = mergeValue(member(out, pk), nil, pv)
			}
		}
		pk, pv, pok = p.next()
	}
	return append(out, '}')
}

// members walks the members of a plain canonical object; b nil walks
// none.
type members struct {
	b   []byte
	pos int
}

func (m *members) next() (key, value []byte, ok bool) {
	if len(m.b) == 0 {
		return nil, nil, false
	}
	if m.pos == 0 {
		m.pos = 1
	}
	if m.pos >= len(m.b) || m.b[m.pos] == '}' {
		return nil, nil, false
	}
	kEnd, _ := scanString(m.b, m.pos)
	key = m.b[m.pos+1 : kEnd-1]
	vEnd, _ := scanPlain(m.b, kEnd+1, 0)
	value = m.b[kEnd+1 : vEnd]
	m.pos = vEnd
	if m.b[m.pos] == ',' {
		m.pos++
	}
	return key, value, true
}
