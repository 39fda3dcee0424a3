package object

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// DecodeJSON parses JSON into plain Go values: nil, bool, string, int64 for
// integers that fit, uint64 for larger ones up to 2^64-1, float64 for every
// other number, []any and map[string]any. Integers never pass through
// float64, so amounts stay exact.
func DecodeJSON(raw []byte) (any, error) {
	p := valueParser{jsonParser{in: raw}}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return nil, p.errorf("unexpected %q after the value", p.in[p.pos])
	}
	return v, nil
}

type valueParser struct{ jsonParser }

// smallObject is the most members an object gathers before it makes its
// map: JSON states and event data are mostly this small.
const smallObject = 8

type member struct {
	k string
	v any
}

// key reads an object key. Short keys without escapes come from a table
// shared by all parsers, so that the same few names (balance, amount,
// ...) decoded again and again are not allocated again and again.
func (p *jsonParser) key() (string, error) {
	start := p.pos + 1
	var high byte // ASCII alone needs no UTF-8 check
	for i := start; i < len(p.in) && i-start <= maxInterned; i++ {
		c := p.in[i]
		if c == '"' {
			b := p.in[start:i]
			if high >= utf8.RuneSelf && !utf8.Valid(b) {
				break // str reports it
			}
			p.pos = i + 1
			return intern(b), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		high |= c
	}
	return p.str()
}

// maxInterned is the longest key the table keeps.
const maxInterned = 32

// interned is the table of interned keys: a slot per hash, each holding the
// last key that landed there. Slots are replaced whole, atomically, so
// parsers on any goroutine share it without a lock.
var interned [1024]atomic.Pointer[string]

func intern(b []byte) string {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &interned[h%uint32(len(interned))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

func (p *valueParser) value(depth int) (any, error) {
	if p.pos >= len(p.in) {
		return nil, p.errorf("unexpected end of input")
	}
	if tooDeep(p.in[p.pos], depth) {
		return nil, p.errorf("nested deeper than %d", maxJSONDepth)
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		p.pos++
		p.skipSpace()
		if p.pos < len(p.in) && p.in[p.pos] == '}' {
			p.pos++
			return map[string]any{}, nil
		}
		// The members of a small object are gathered first, so that its
		// map is made at its size; a larger one goes on in a map.
		var small [smallObject]member
		members := small[:0]
		var m map[string]any
		for {
			p.skipSpace()
			if p.pos >= len(p.in) || p.in[p.pos] != '"' {
				return nil, p.errorf("expected a string key")
			}
			k, err := p.key()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			if p.pos >= len(p.in) || p.in[p.pos] != ':' {
				return nil, p.errorf("expected ':'")
			}
			p.pos++
			p.skipSpace()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if m == nil {
				for _, mb := range members {
					if mb.k == k {
						return nil, p.errorf("duplicate key %q", k)
					}
				}
				if len(members) < smallObject {
					members = append(members, member{k, v})
				} else {
					m = make(map[string]any, 2*smallObject)
					for _, mb := range members {
						m[mb.k] = mb.v
					}
				}
			}
			if m != nil {
				if _, dup := m[k]; dup {
					return nil, p.errorf("duplicate key %q", k)
				}
				m[k] = v
			}
			p.skipSpace()
			if p.pos >= len(p.in) {
				return nil, p.errorf("unexpected end of input in object")
			}
			if p.in[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.in[p.pos] == '}' {
				p.pos++
				if m == nil {
					m = make(map[string]any, len(members))
					for _, mb := range members {
						m[mb.k] = mb.v
					}
				}
				return m, nil
			}
			return nil, p.errorf("expected ',' or '}'")
		}
	case c == '[':
		p.pos++
		a := []any{}
		p.skipSpace()
		if p.pos < len(p.in) && p.in[p.pos] == ']' {
			p.pos++
			return a, nil
		}
		for {
			p.skipSpace()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.skipSpace()
			if p.pos >= len(p.in) {
				return nil, p.errorf("unexpected end of input in array")
			}
			if p.in[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.in[p.pos] == ']' {
				p.pos++
				return a, nil
			}
			return nil, p.errorf("expected ',' or ']'")
		}
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		if v, ok := p.smallInt(); ok {
			return v, nil
		}
		canon, err := p.number(nil)
		if err != nil {
			return nil, err
		}
		text := string(canon) // 9007199254740993.0 is the integer it says
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(text, 10, 64); err == nil {
			return u, nil
		}
		f, _ := strconv.ParseFloat(text, 64)
		return f, nil
	default:
		switch {
		case hasLiteral(p.in[p.pos:], "true"):
			p.pos += 4
			return true, nil
		case hasLiteral(p.in[p.pos:], "false"):
			p.pos += 5
			return false, nil
		case hasLiteral(p.in[p.pos:], "null"):
			p.pos += 4
			return nil, nil
		}
		return nil, p.errorf("unexpected %q", c)
	}
}

func hasLiteral(b []byte, lit string) bool {
	return len(b) >= len(lit) && string(b[:len(lit)]) == lit
}

// EncodeJSON returns the canonical JSON of a value built from the types
// DecodeJSON returns (other Go integer and float kinds, map[string]string
// and []string are accepted too). A float64 is printed as its shortest
// decimal that round-trips, as CanonicalJSON prints a number that is not
// a whole one: one that holds an integer below 1e21 without a fraction or
// exponent. So a float64 holding 70000000000000008 prints
// 70000000000000010, while CanonicalJSON of the text 70000000000000008.0,
// and EncodeJSON of what DecodeJSON makes of it (an int64), print
// 70000000000000008: the value a float holds is rounded already.
func EncodeJSON(v any) ([]byte, error) {
	return AppendJSON(nil, v)
}

// AppendJSON appends the canonical JSON of v to dst; see EncodeJSON.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendJSONString(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float32:
		return appendFloatValue(dst, float64(x))
	case float64:
		return appendFloatValue(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendJSON(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e)
		}
		return append(dst, ']'), nil
	case []int: // expr-lang's range 1..3
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(e), 10)
		}
		return append(dst, ']'), nil
	case map[string]any:
		var small [smallObject]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = AppendJSON(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, x[k])
		}
		return append(dst, '}'), nil
	default:
		return dst, fmt.Errorf("%w: cannot encode a %T", ErrJSON, v)
	}
}

func appendFloatValue(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%w: %v is not a JSON number", ErrJSON, f)
	}
	// Its shortest digits (70000000000000010), not its exact value
	// (70000000000000008): a float computed is rounded already, and
	// CanonicalJSON prints a float it reads so.
	return AppendJSONFloat(dst, f), nil
}

// smallInt reads an integer of at most 18 digits, the common case, which
// always fits an int64, without allocating; ok is false, and nothing is
// read, for any other number (value parses those, and reports errors).
func (p *jsonParser) smallInt() (int64, bool) {
	i, neg := p.pos, false
	if p.in[i] == '-' {
		i, neg = i+1, true
	}
	start := i
	var v int64
	for i < len(p.in) && i-start < 19 && p.in[i] >= '0' && p.in[i] <= '9' {
		v = v*10 + int64(p.in[i]-'0')
		i++
	}
	n := i - start
	if n == 0 || n > 18 || (p.in[start] == '0' && n > 1) {
		return 0, false
	}
	if i < len(p.in) {
		if c := p.in[i]; c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9') {
			return 0, false
		}
	}
	p.pos = i
	if neg {
		v = -v
	}
	return v, true
}
