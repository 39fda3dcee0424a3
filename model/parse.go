package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evgit/evgit/object"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile model file from exhausting memory or stack.
const (
	maxTypeName      = 128
	maxConstantDepth = 100
	maxConstantNodes = 100000
	maxExpressions   = 100000
)

// Parse reads a model file (YAML; JSON is YAML) and compiles every
// expression in it once. The error of a bad model wraps ErrModel and names
// the line, the place (types.T.apply.FIELD, upcast[N].from, ...) and what
// is wrong with it. An empty file is a model that names no types (and
// Blank).
func Parse(src []byte) (m *Model, err error) {
	defer func() {
		// The YAML decoder is not ours; a panic on odd input must still be
		// a plain error.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: %v", ErrModel, r)
		}
	}()
	m = &Model{
		SnapshotEvery: defaultSnapshotEvery,
		src:           bytes.Clone(src),
		types:         map[string]*typeRules{},
		upcasts:       map[string]map[int]*upcastRule{},
		latest:        map[string]int{},
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	// One document: a second one (after ---) would be ignored, and what
	// the user wrote there with it.
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		return nil, fmt.Errorf("%w: more than one YAML document (a line ---); a model is one", ErrModel)
	} else if !errors.Is(err, io.EOF) {
		// Not a second document but text that is none (two JSON
		// objects on two lines, say).
		return nil, fmt.Errorf("%w: after the first document: %v", ErrModel, err)
	}
	if len(doc.Content) == 0 {
		m.blank = true
		return m, nil
	}
	p := &parser{}
	root := p.resolve(doc.Content[0])
	if isNull(root) {
		m.blank = true
		return m, nil
	}
	err = p.mapping(root, "the model", func(key string, kn, v *yaml.Node) error {
		switch key {
		case "snapshot_every":
			n, err := p.integer(v, "snapshot_every")
			if err != nil {
				return err
			}
			if n < 0 {
				return p.errorf(v, "snapshot_every", "must be 0 (no snapshots) or more, not %d", n)
			}
			m.SnapshotEvery = n
		case "types":
			return p.types(m, v)
		case "upcast":
			return p.upcasts(m, v)
		default:
			return p.errorf(kn, key, "unknown key (want snapshot_every, types or upcast)")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range m.types {
		t.fast = compileFast(t)
	}
	m.unclear = p.unclear
	for _, r := range p.reverts {
		if m.types[r.typ] == nil && len(m.upcasts[r.typ]) == 0 {
			m.warnings = append(m.warnings, fmt.Sprintf("line %d: %s: %s is a type the model does not name: its compensating event is applied as a merge patch of its data", r.line, r.where, r.typ))
		}
	}
	return m, nil
}

type parser struct {
	constantNodes int
	expressions   int
	unclear       []string     // for Model.Check
	reverts       []revertType // for Model.Warnings
}

// revertType is the type a revert rule names, and where.
type revertType struct {
	typ, where string
	line       int
}

// compile compiles one expression of the model at node n.
func (p *parser) compile(n *yaml.Node, where string, asBool bool) (*vm.Program, error) {
	p.expressions++
	if p.expressions > maxExpressions {
		return nil, p.errorf(n, where, "more than %d expressions", maxExpressions)
	}
	prog, err := compile(n.Value, asBool)
	if err != nil {
		return nil, p.errorf(n, where, "expression %s: %v", quoteShort(n.Value), err)
	}
	return prog, nil
}

// octal notes, for Check, an integer written with a leading zero, which
// YAML reads as octal and an expression (or a person) as decimal.
func (p *parser) octal(n *yaml.Node, where string) {
	if msg := leadingZero(n.Value); msg != "" {
		p.unclear = append(p.unclear, fmt.Sprintf("line %d: %s: %s", n.Line, where, msg))
	}
}

// leadingZero says what is unclear about an integer written with a
// leading zero (010, -010, 00, 08), or "" for one without.
func leadingZero(text string) string {
	sign := ""
	d := text
	if d != "" && (d[0] == '+' || d[0] == '-') {
		sign, d = d[:1], d[1:]
	}
	if sign == "+" {
		sign = ""
	}
	if len(d) < 2 || d[0] != '0' || d[1] < '0' || d[1] > '9' {
		return ""
	}
	digits := strings.TrimLeft(d, "0")
	if digits == "" {
		return fmt.Sprintf("%s has a leading zero, which YAML reads as octal and an expression as decimal; write 0, or quote it as an expression", text)
	}
	if strings.Trim(digits, "01234567") != "" {
		return fmt.Sprintf("%s has a leading zero, which YAML reads as octal, and it is no octal number; write %s%s, or quote it as an expression", text, sign, digits)
	}
	return fmt.Sprintf("%s has a leading zero, which YAML reads as octal and an expression as decimal; write %s%s, %s0o%s for octal, or quote it as an expression", text, sign, digits, sign, digits)
}

// quoteShort quotes an expression for a message, cut to its first 60
// bytes when longer, so that the reason after it stays on the line.
func quoteShort(src string) string {
	const max = 60
	if len(src) <= max {
		return strconv.Quote(src)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(src[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", src[:cut], len(src))
}

func (p *parser) errorf(n *yaml.Node, where, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s: %s", ErrModel, n.Line, where, fmt.Sprintf(format, args...))
}

// resolve follows aliases to the node they name.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping calls f for each key of the mapping n in order, refusing
// duplicate and non-scalar keys. A null n is an empty mapping.
func (p *parser) mapping(n *yaml.Node, where string, f func(key string, kn, v *yaml.Node) error) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, where, "must be a mapping")
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := p.resolve(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			return p.errorf(kn, where, "keys must be plain names")
		}
		key := kn.Value
		if seen[key] {
			return p.errorf(kn, where, "duplicate key %q", key)
		}
		seen[key] = true
		if err := f(key, kn, p.resolve(n.Content[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) integer(n *yaml.Node, where string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, p.errorf(n, where, "must be an integer")
	}
	p.octal(n, where)
	var i int
	if err := n.Decode(&i); err != nil {
		return 0, p.errorf(n, where, "must be an integer: %v", err)
	}
	return i, nil
}

func (p *parser) typeName(n *yaml.Node, where string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, where, "must be an event type name")
	}
	if !validTypeName(n.Value) {
		return "", p.errorf(n, where, "%q is not an event type name ([A-Za-z_][A-Za-z0-9_.:-]*, at most %d bytes)", n.Value, maxTypeName)
	}
	return n.Value, nil
}

// validTypeName reports whether s matches [A-Za-z_][A-Za-z0-9_.:-]* and is
// at most 128 bytes long (SPEC §2).
func validTypeName(s string) bool {
	if s == "" || len(s) > maxTypeName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func (p *parser) types(m *Model, n *yaml.Node) error {
	return p.mapping(n, "types", func(name string, kn, v *yaml.Node) error {
		where := "types." + name
		if !validTypeName(name) {
			return p.errorf(kn, where, "%q is not an event type name ([A-Za-z_][A-Za-z0-9_.:-]*, at most %d bytes)", name, maxTypeName)
		}
		t := &typeRules{}
		err := p.mapping(v, where, func(key string, kn, v *yaml.Node) error {
			switch key {
			case "apply":
				var err error
				t.apply, err = p.fields(v, where+".apply")
				return err
			case "require":
				return p.requires(t, v, where+".require")
			case "revert":
				return p.revert(t, v, where+".revert")
			default:
				return p.errorf(kn, where+"."+key, "unknown key (want apply, require or revert)")
			}
		})
		if err != nil {
			return err
		}
		m.types[name] = t
		return nil
	})
}

func (p *parser) requires(t *typeRules, n *yaml.Node, where string) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, where, "must be a list of expressions")
	}
	for i, c := range n.Content {
		c = p.resolve(c)
		w := fmt.Sprintf("%s[%d]", where, i)
		if c.Kind != yaml.ScalarNode {
			return p.errorf(c, w, "must be an expression")
		}
		prog, err := p.compile(c, w, true)
		if err != nil {
			return err
		}
		t.require = append(t.require, requireRule{src: c.Value, prog: prog})
	}
	return nil
}

func (p *parser) revert(t *typeRules, n *yaml.Node, where string) error {
	r := &revertRule{}
	hasType := false
	err := p.mapping(n, where, func(key string, kn, v *yaml.Node) error {
		switch key {
		case "type":
			var err error
			r.typ, err = p.typeName(v, where+".type")
			hasType = true
			return err
		case "data":
			var err error
			r.data, err = p.fields(v, where+".data")
			return err
		default:
			return p.errorf(kn, where+"."+key, "unknown key (want type or data)")
		}
	})
	if err != nil {
		return err
	}
	if !hasType {
		return p.errorf(n, where, "needs the type of the compensating event")
	}
	p.reverts = append(p.reverts, revertType{typ: r.typ, where: where + ".type", line: n.Line})
	t.revert = r
	return nil
}

func (p *parser) upcasts(m *Model, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, "upcast", "must be a list of rules")
	}
	for i, c := range n.Content {
		c = p.resolve(c)
		where := fmt.Sprintf("upcast[%d]", i)
		if c.Kind != yaml.MappingNode {
			return p.errorf(c, where, "must be a mapping of type, from, to and data")
		}
		r := &upcastRule{}
		var typ string
		var has [3]bool
		err := p.mapping(c, where, func(key string, kn, v *yaml.Node) error {
			var err error
			switch key {
			case "type":
				typ, err = p.typeName(v, where+".type")
				has[0] = true
			case "from":
				r.from, err = p.integer(v, where+".from")
				has[1] = true
			case "to":
				r.to, err = p.integer(v, where+".to")
				has[2] = true
			case "data":
				r.data, err = p.fields(v, where+".data")
			default:
				err = p.errorf(kn, where+"."+key, "unknown key (want type, from, to or data)")
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case !has[0]:
			return p.errorf(c, where, "needs a type")
		case !has[1] || !has[2]:
			return p.errorf(c, where, "needs from and to schema versions")
		case r.from < 1:
			return p.errorf(c, where, "from must be a schema version of 1 or more, not %d", r.from)
		case r.from >= r.to:
			return p.errorf(c, where, "from (%d) must be lower than to (%d)", r.from, r.to)
		case r.to > object.MaxSchema:
			return p.errorf(c, where, "to must be a schema version of at most %d, not %d", object.MaxSchema, r.to)
		}
		rules := m.upcasts[typ]
		if rules == nil {
			rules = map[int]*upcastRule{}
			m.upcasts[typ] = rules
		}
		if rules[r.from] != nil {
			return p.errorf(c, where, "a second rule for %s from schema %d", typ, r.from)
		}
		r.name = fmt.Sprintf("upcast %d->%d", r.from, r.to)
		rules[r.from] = r
		if r.to > m.latest[typ] {
			m.latest[typ] = r.to
		}
	}
	return nil
}

// fields reads a mapping of field → value, where a string is an
// expression and anything else a constant.
func (p *parser) fields(n *yaml.Node, where string) ([]field, error) {
	var out []field
	err := p.mapping(n, where, func(key string, _, v *yaml.Node) error {
		w := where + "." + key
		f := field{name: key}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			prog, err := p.compile(v, w, false)
			if err != nil {
				return err
			}
			f.src, f.prog = v.Value, prog
		} else {
			c, err := p.constant(v, w, 0)
			if err != nil {
				return err
			}
			// Normalize through canonical JSON: 1.0 becomes the integer 1,
			// as it would in any stored state.
			raw, err := object.EncodeJSON(c)
			if err != nil {
				return p.errorf(v, w, "%v", err)
			}
			if f.constant, err = object.DecodeJSON(raw); err != nil {
				return p.errorf(v, w, "%v", err)
			}
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// constant converts a YAML value to the Go values object.DecodeJSON gives.
func (p *parser) constant(n *yaml.Node, where string, depth int) (any, error) {
	p.constantNodes++
	if depth > maxConstantDepth || p.constantNodes > maxConstantNodes {
		return nil, p.errorf(n, where, "constant too large or too deep")
	}
	n = p.resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		err := p.mapping(n, where, func(key string, _, v *yaml.Node) error {
			c, err := p.constant(v, where+"."+key, depth+1)
			m[key] = c
			return err
		})
		return m, err
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := p.constant(c, fmt.Sprintf("%s[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!str":
			return n.Value, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, p.errorf(n, where, "%v", err)
			}
			return b, nil
		case "!!int":
			p.octal(n, where)
			var i int64
			if err := n.Decode(&i); err == nil {
				return i, nil
			}
			var u uint64
			if err := n.Decode(&u); err == nil {
				return u, nil
			}
			if msg := leadingZero(n.Value); msg != "" {
				return nil, p.errorf(n, where, "%s", msg) // 08: no octal either
			}
			return nil, p.errorf(n, where, "integer %s does not fit in 64 bits", n.Value)
		case "!!float":
			if strings.Trim(n.Value, "+-0123456789_") == "" {
				if msg := leadingZero(n.Value); msg != "" {
					return nil, p.errorf(n, where, "%s", msg) // 08: YAML's float
				}
				// digits alone: an integer too large for 64 bits, which
				// a float would round
				return nil, p.errorf(n, where, "integer %s does not fit in 64 bits", n.Value)
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, p.errorf(n, where, "%v", err)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, p.errorf(n, where, "%s is not a JSON number", n.Value)
			}
			return f, nil
		}
		return nil, p.errorf(n, where, "a %s value is not JSON; quote it", strings.TrimPrefix(n.Tag, "!!"))
	}
	return nil, p.errorf(n, where, "unsupported YAML value")
}
