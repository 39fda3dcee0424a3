package object

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrJSON is returned when event data or a state is not valid JSON.
var ErrJSON = errors.New("invalid JSON")

// MaxJSONDepth is the deepest nesting of arrays and objects a JSON value
// may have (the top-level one counts as 1); deeper input is refused, so
// that hostile input cannot exhaust the stack.
const MaxJSONDepth = 512

const maxJSONDepth = MaxJSONDepth

// tooDeep reports whether a value starting with c, inside depth
// containers, would be a container past MaxJSONDepth: one at level 513,
// even empty (until session 18 an empty one there was taken, which the
// import of its export then refused).
func tooDeep(c byte, depth int) bool {
	return depth >= maxJSONDepth && (c == '{' || c == '[')
}

// CanonicalJSON validates raw and returns its canonical form: object keys
// sorted by their UTF-8 bytes, no insignificant white space, strings with
// the minimal escapes, integers that fit in 64 bits kept digit for digit
// (also when written with a fraction or an exponent: 9007199254740993.0
// is 9007199254740993), other numbers printed as the shortest float64
// that round-trips (an integer literal beyond 64 bits that a float64 does
// not hold exactly is an error, never rounded). Two JSON
// texts with the same meaning have the same canonical bytes, so they hash
// alike.
func CanonicalJSON(raw []byte) ([]byte, error) {
	return AppendCanonicalJSON(nil, raw)
}

// AppendCanonicalJSON appends the canonical form of raw to dst.
func AppendCanonicalJSON(dst, raw []byte) ([]byte, error) {
	p := jsonParser{in: raw}
	p.skipSpace()
	out, err := p.value(dst, 0)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return dst, p.errorf("unexpected %q after the value", p.in[p.pos])
	}
	return out, nil
}

type jsonParser struct {
	in  []byte
	pos int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrJSON, p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value appends the canonical form of the value at p.pos, which depth
// containers hold (0 for a top-level value).
func (p *jsonParser) value(dst []byte, depth int) ([]byte, error) {
	if p.pos >= len(p.in) {
		return dst, p.errorf("unexpected end of input")
	}
	if tooDeep(p.in[p.pos], depth) {
		return dst, p.errorf("nested deeper than %d", maxJSONDepth)
	}
	switch c := p.in[p.pos]; {
	case (c == '{' || c == '[' || c == '"') && p.plain(&dst, depth):
		return dst, nil // canonical as written
	case c == '{':
		return p.object(dst, depth)
	case c == '[':
		return p.array(dst, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return dst, err
		}
		return appendJSONString(dst, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(dst)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.in[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return append(dst, lit...), nil
			}
		}
		return dst, p.errorf("unexpected %q", c)
	}
}

// plain appends the value at p.pos as it is written, and moves past it,
// if it is plain canonical JSON (IsPlainCanonical): what canonicalizing
// it would give.
func (p *jsonParser) plain(dst *[]byte, depth int) bool {
	end, ok := scanPlain(p.in, p.pos, depth)
	if ok {
		*dst = append(*dst, p.in[p.pos:end]...)
		p.pos = end
	}
	return ok
}

type jsonMember struct {
	key   string
	start int // offset of the canonical value in the scratch buffer
	end   int
}

func (p *jsonParser) object(dst []byte, depth int) ([]byte, error) {
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return append(dst, '{', '}'), nil
	}
	var members []jsonMember
	var scratch []byte
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return dst, p.errorf("expected a string key")
		}
		key, err := p.key()
		if err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return dst, p.errorf("expected ':'")
		}
		p.pos++
		p.skipSpace()
		start := len(scratch)
		scratch, err = p.value(scratch, depth+1)
		if err != nil {
			return dst, err
		}
		members = append(members, jsonMember{key: key, start: start, end: len(scratch)})
		p.skipSpace()
		if p.pos >= len(p.in) {
			return dst, p.errorf("unexpected end of input in object")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] == '}' {
			p.pos++
			break
		}
		return dst, p.errorf("expected ',' or '}'")
	}
	slices.SortStableFunc(members, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 && members[i-1].key == m.key {
			return dst, p.errorf("duplicate key %q", m.key)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, scratch[m.start:m.end]...)
	}
	return append(dst, '}'), nil
}

func (p *jsonParser) array(dst []byte, depth int) ([]byte, error) {
	p.pos++ // [
	dst = append(dst, '[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return append(dst, ']'), nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		p.skipSpace()
		var err error
		dst, err = p.value(dst, depth+1)
		if err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) {
			return dst, p.errorf("unexpected end of input in array")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] == ']' {
			p.pos++
			return append(dst, ']'), nil
		}
		return dst, p.errorf("expected ',' or ']'")
	}
}

// str parses a JSON string at p.pos and returns it unescaped.
func (p *jsonParser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes. ASCII alone (every byte's high bit clear)
	// needs no UTF-8 check.
	var high byte
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '"' {
			s := p.in[start:p.pos]
			p.pos++
			if high >= utf8.RuneSelf && !utf8.Valid(s) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		high |= c
		p.pos++
	}
	var b []byte
	b = append(b, p.in[start:p.pos]...)
	for {
		if p.pos >= len(p.in) {
			return "", p.errorf("unterminated string")
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(b) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.in) {
			return "", p.errorf("unterminated escape")
		}
		e := p.in[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if r >= 0xD800 && r < 0xDC00 { // high surrogate: a low one must follow
				if p.pos+6 <= len(p.in) && p.in[p.pos] == '\\' && p.in[p.pos+1] == 'u' {
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					if r2 < 0xDC00 || r2 > 0xDFFF {
						return "", p.errorf("invalid surrogate pair")
					}
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
				} else {
					return "", p.errorf("lone surrogate")
				}
			} else if r >= 0xDC00 && r <= 0xDFFF {
				return "", p.errorf("lone surrogate")
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.errorf("invalid escape %q", []byte{'\\', e})
		}
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(p.in[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errorf("invalid \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}

func (p *jsonParser) number(dst []byte) ([]byte, error) {
	start := p.pos
	if p.in[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits {
		return dst, p.errorf("invalid number")
	}
	if p.in[digits] == '0' && p.pos-digits > 1 {
		return dst, p.errorf("leading zero in number")
	}
	integer := true
	if p.pos < len(p.in) && p.in[p.pos] == '.' {
		integer = false
		p.pos++
		d := p.pos
		for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == d {
			return dst, p.errorf("invalid number")
		}
	}
	if p.pos < len(p.in) && (p.in[p.pos] == 'e' || p.in[p.pos] == 'E') {
		integer = false
		p.pos++
		if p.pos < len(p.in) && (p.in[p.pos] == '+' || p.in[p.pos] == '-') {
			p.pos++
		}
		d := p.pos
		for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == d {
			return dst, p.errorf("invalid number")
		}
	}
	if integer && p.pos-digits <= 18 { // fits int64 whatever the digits
		if p.pos-start == 2 && p.in[start] == '-' && p.in[digits] == '0' {
			return append(dst, '0'), nil // -0
		}
		return append(dst, p.in[start:p.pos]...), nil
	}
	text := string(p.in[start:p.pos])
	if integer {
		if _, err := strconv.ParseInt(text, 10, 64); err == nil {
			if text == "-0" {
				return append(dst, '0'), nil
			}
			return append(dst, text...), nil
		}
		if _, err := strconv.ParseUint(text, 10, 64); err == nil {
			return append(dst, text...), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, p.errorf("invalid number %q", text)
	}
	if math.IsInf(f, 0) {
		return dst, p.errorf("number %q out of range", text)
	}
	if !integer && f == math.Trunc(f) && math.Abs(f) >= 1<<53 {
		// A whole number written with a fraction or an exponent
		// (9007199254740993.0) is exact up to 64 bits, as its integer
		// text is: past 2^53 a float would round it. Beyond 64 bits it
		// is a float, as before (1.2345678901234567e+29).
		if v, ok := new(big.Rat).SetString(text); ok && v.IsInt() {
			n := v.Num()
			if n.IsInt64() || n.IsUint64() {
				return n.Append(dst, 10), nil
			}
		}
	}
	if integer && !exactFloat(text, f) {
		return dst, p.errorf("integer %s does not fit in 64 bits and would be rounded; write it as a string", text)
	}
	return AppendJSONFloat(dst, f), nil
}

// exactFloat reports whether the float64 f, read from the integer text,
// prints as that integer: an integer beyond 64 bits is kept (in the
// float's shortest form) only when that form says the same number
// (18446744073709552000, 1000000000000000000000 printed 1e+21), never
// when it would say another: 18446744073709551616 is refused, since it
// would print 18446744073709552000. A canonical text reads back as
// itself, whatever float it came from.
func exactFloat(text string, f float64) bool {
	want, ok := new(big.Rat).SetString(text)
	got, ok2 := new(big.Rat).SetString(string(AppendJSONFloat(nil, f)))
	return ok && ok2 && got.Cmp(want) == 0
}

// AppendJSONFloat appends f the way canonical JSON prints a non-integer
// number: the shortest decimal that round-trips, in plain notation between
// 1e-6 and 1e21 and in exponent notation outside it (as ECMAScript does).
func AppendJSONFloat(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	// Go writes 1e-07 and 1e+21; ECMAScript writes 1e-7 and 1e+21.
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	e := bytes.IndexByte(dst[start:], 'e') + start
	digits := e + 2 // after "e+" or "e-"
	for digits < len(dst)-1 && dst[digits] == '0' {
		dst = append(dst[:digits], dst[digits+1:]...)
	}
	return dst
}

// appendJSONString appends s quoted with the minimal escapes.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ObjectMembers calls fn for each member of the JSON object in raw, in
// order, with the member's key and the canonical form of its value. It
// fails on anything that is not one valid JSON object. The value's bytes
// may be raw's own or a buffer used again for the next member: fn must
// not change them, nor keep them past its return.
func ObjectMembers(raw []byte, fn func(key string, canonical []byte) error) error {
	p := jsonParser{in: raw}
	p.skipSpace()
	if p.pos >= len(p.in) || p.in[p.pos] != '{' {
		return p.errorf("not a JSON object")
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
	} else {
		var scratch []byte
		for {
			p.skipSpace()
			if p.pos >= len(p.in) || p.in[p.pos] != '"' {
				return p.errorf("expected a string key")
			}
			key, err := p.key()
			if err != nil {
				return err
			}
			p.skipSpace()
			if p.pos >= len(p.in) || p.in[p.pos] != ':' {
				return p.errorf("expected ':'")
			}
			p.pos++
			p.skipSpace()
			// A member is a value of its own (an event line's data):
			// the object around it does not count against its depth.
			// Plain canonical JSON, what most input holds, is passed as
			// written, without a copy.
			v := scratch[:0]
			if end, ok := scanPlain(p.in, p.pos, 0); ok {
				v, p.pos = p.in[p.pos:end:end], end
			} else if scratch, err = p.value(scratch[:0], 0); err != nil {
				return err
			} else {
				v = scratch
			}
			if err := fn(key, v); err != nil {
				return err
			}
			p.skipSpace()
			if p.pos >= len(p.in) {
				return p.errorf("unexpected end of input in object")
			}
			if p.in[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.in[p.pos] == '}' {
				p.pos++
				break
			}
			return p.errorf("expected ',' or '}'")
		}
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return p.errorf("unexpected %q after the value", p.in[p.pos])
	}
	return nil
}

// UnquoteJSON returns the string a canonical JSON string value holds.
func UnquoteJSON(canonical []byte) (string, bool) {
	if len(canonical) < 2 || canonical[0] != '"' {
		return "", false
	}
	p := jsonParser{in: canonical}
	s, err := p.str()
	if err != nil || p.pos != len(canonical) {
		return "", false
	}
	return s, true
}
