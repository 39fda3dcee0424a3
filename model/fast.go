package model

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/evgit/evgit/object"
)

// fastRules are a type's rules compiled for the common case, which they
// fold without decoding state or data and without expr-lang's machine:
// state and data plain canonical JSON (object.IsPlainCanonical), and
// expressions made only of fields of state, event and meta, integer,
// boolean and string literals, + - * on integers, comparisons, ! - && ||.
// Where anything else turns up — a field that is absent or holds null, an
// object or an array, a value of a kind an operator does not take, an
// overflow, a require that is false — the fold reports ok false and the
// full path runs, which gives the result or the refusal with its message.
// Where fast reports ok, its bytes are what the full path gives (a fuzz
// test holds the two to that).
type fastRules struct {
	require []fastExpr
	apply   []fastField // sorted by name
}

type fastField struct {
	name  []byte   // as it is written between quotes in canonical JSON
	expr  fastExpr // nil for a constant
	canon []byte   // the constant's canonical JSON
}

// fastExpr evaluates an expression; ok false means the full path must.
type fastExpr func(env *fastEnv) (v fastValue, ok bool)

type fastEnv struct {
	state, event []byte // plain canonical objects; state empty when null
	meta         map[string]string
}

// fastValue is an integer, a boolean or a string.
type fastValue struct {
	kind fastKind
	i    int64
	b    bool
	s    string
}

type fastKind uint8

const (
	fastInt fastKind = iota + 1
	fastBool
	fastString
)

// compileFast compiles a type's rules for the fast fold, or returns nil
// when an expression or a field name is outside what it handles.
func compileFast(t *typeRules) *fastRules {
	f := &fastRules{}
	for _, r := range t.require {
		e := compileFastSource(r.src)
		if e == nil {
			return nil
		}
		f.require = append(f.require, e)
	}
	for _, fl := range t.apply {
		name, ok := plainKey(fl.name)
		if !ok {
			return nil
		}
		ff := fastField{name: name}
		if fl.prog == nil {
			// A constant the full path refuses on a write (a whole
			// float past 2^63, which would be stored as an integer no
			// arithmetic accepts) is left to it, so that its refusal
			// never depends on which path an event takes (a helper's
			// audit: the fast path wrote it).
			if storableAt(fl.constant, 2, true) != nil {
				return nil
			}
			c, err := object.EncodeJSON(fl.constant)
			if err != nil {
				return nil
			}
			ff.canon = c
		} else if ff.expr = compileFastSource(fl.src); ff.expr == nil {
			return nil
		}
		f.apply = append(f.apply, ff)
	}
	slices.SortFunc(f.apply, func(a, b fastField) int { return bytes.Compare(a.name, b.name) })
	for i := 1; i < len(f.apply); i++ {
		if bytes.Equal(f.apply[i-1].name, f.apply[i].name) {
			return nil
		}
	}
	return f
}

// plainKey returns a field name as canonical JSON writes it between its
// quotes, if it needs no escape.
func plainKey(name string) ([]byte, bool) {
	quoted, err := object.EncodeJSON(name)
	if err != nil || !object.IsPlainCanonical(quoted) {
		return nil, false
	}
	return quoted[1 : len(quoted)-1], true
}

func compileFastSource(src string) fastExpr {
	tree, err := exprparser.Parse(src)
	if err != nil {
		return nil
	}
	return compileFastNode(tree.Node)
}

func compileFastNode(n ast.Node) fastExpr {
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := fastValue{kind: fastInt, i: int64(n.Value)}
		return func(*fastEnv) (fastValue, bool) { return v, true }
	case *ast.BoolNode:
		v := fastValue{kind: fastBool, b: n.Value}
		return func(*fastEnv) (fastValue, bool) { return v, true }
	case *ast.StringNode:
		v := fastValue{kind: fastString, s: n.Value}
		return func(*fastEnv) (fastValue, bool) { return v, true }
	case *ast.MemberNode:
		return compileFastMember(n)
	case *ast.UnaryNode:
		x := compileFastNode(n.Node)
		if x == nil {
			return nil
		}
		switch n.Operator {
		case "!", "not":
			return func(env *fastEnv) (fastValue, bool) {
				v, ok := x(env)
				return fastValue{kind: fastBool, b: !v.b}, ok && v.kind == fastBool
			}
		case "-":
			return func(env *fastEnv) (fastValue, bool) {
				v, ok := x(env)
				return fastValue{kind: fastInt, i: -v.i}, ok && v.kind == fastInt && v.i != math.MinInt64
			}
		}
	case *ast.BinaryNode:
		return compileFastBinary(n)
	}
	return nil
}

// compileFastMember compiles state.name, event.name and meta.name.
func compileFastMember(n *ast.MemberNode) fastExpr {
	id, ok := n.Node.(*ast.IdentifierNode)
	prop, okp := n.Property.(*ast.StringNode)
	if !ok || !okp || n.Optional || n.Method {
		return nil
	}
	key, ok := plainKey(prop.Value)
	if !ok {
		return nil
	}
	switch id.Value {
	case "state":
		return func(env *fastEnv) (fastValue, bool) { return fieldOf(env.state, key) }
	case "event":
		return func(env *fastEnv) (fastValue, bool) { return fieldOf(env.event, key) }
	case "meta":
		return func(env *fastEnv) (fastValue, bool) {
			s, ok := env.meta[prop.Value]
			return fastValue{kind: fastString, s: s}, ok
		}
	}
	return nil
}

// fieldOf reads a field of a plain canonical object: an integer, a
// boolean or a string; anything else, or no such field, is not ok.
func fieldOf(obj, key []byte) (fastValue, bool) {
	if len(obj) == 0 || obj[0] != '{' {
		return fastValue{}, false
	}
	m := object.NewPlainMembers(obj)
	for k, v, ok := m.Next(); ok; k, v, ok = m.Next() {
		switch c := bytes.Compare(k, key); {
		case c < 0:
			continue
		case c > 0:
			return fastValue{}, false
		}
		switch {
		case v[0] == '"':
			return fastValue{kind: fastString, s: string(v[1 : len(v)-1])}, true
		case string(v) == "true" || string(v) == "false":
			return fastValue{kind: fastBool, b: v[0] == 't'}, true
		case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
			i, err := strconv.ParseInt(string(v), 10, 64)
			return fastValue{kind: fastInt, i: i}, err == nil
		}
		return fastValue{}, false
	}
	return fastValue{}, false
}

func compileFastBinary(n *ast.BinaryNode) fastExpr {
	x, y := compileFastNode(n.Left), compileFastNode(n.Right)
	if x == nil || y == nil {
		return nil
	}
	switch n.Operator {
	case "&&", "and", "||", "or":
		or := n.Operator == "||" || n.Operator == "or"
		return func(env *fastEnv) (fastValue, bool) {
			a, ok := x(env)
			if !ok || a.kind != fastBool {
				return fastValue{}, false
			}
			if a.b == or {
				return a, true // decided by the left side, as expr-lang does
			}
			b, ok := y(env)
			return b, ok && b.kind == fastBool
		}
	}
	op := n.Operator
	var apply func(a, b fastValue) (fastValue, bool)
	switch op {
	case "+", "-", "*":
		apply = func(a, b fastValue) (fastValue, bool) {
			if a.kind != fastInt || b.kind != fastInt {
				return fastValue{}, false
			}
			r, ok := intArith(op[0], a.i, b.i)
			return fastValue{kind: fastInt, i: r}, ok
		}
	case "==", "!=":
		apply = func(a, b fastValue) (fastValue, bool) {
			if a.kind != b.kind {
				return fastValue{}, false
			}
			return fastValue{kind: fastBool, b: (a == b) == (op == "==")}, true
		}
	case "<", "<=", ">", ">=":
		apply = func(a, b fastValue) (fastValue, bool) {
			var c int
			switch {
			case a.kind == fastInt && b.kind == fastInt:
				c = cmp3(a.i < b.i, a.i > b.i)
			case a.kind == fastString && b.kind == fastString:
				c = cmp3(a.s < b.s, a.s > b.s)
			default:
				return fastValue{}, false
			}
			var r bool
			switch op {
			case "<":
				r = c < 0
			case "<=":
				r = c <= 0
			case ">":
				r = c > 0
			default:
				r = c >= 0
			}
			return fastValue{kind: fastBool, b: r}, true
		}
	default:
		return nil
	}
	return func(env *fastEnv) (fastValue, bool) {
		a, ok := x(env)
		if !ok {
			return fastValue{}, false
		}
		b, ok := y(env)
		if !ok {
			return fastValue{}, false
		}
		return apply(a, b)
	}
}

// fold folds one event, checking the requires when check is set; ok
// false means the full path must.
func (f *fastRules) fold(state, data []byte, meta map[string]string, check bool) ([]byte, bool) {
	if len(data) == 0 || !object.IsPlainCanonical(data) || data[0] != '{' {
		return nil, false
	}
	if string(state) == "null" {
		state = nil
	}
	if len(state) > 0 && (state[0] != '{' || !object.IsPlainCanonical(state)) {
		return nil, false
	}
	env := &fastEnv{state: state, event: data, meta: meta}
	for _, r := range f.require {
		if !check {
			break
		}
		if v, ok := r(env); !ok || v.kind != fastBool || !v.b {
			return nil, false
		}
	}
	// Every apply expression sees the state before the event, so the
	// values are encoded first, one after another in one buffer.
	var buf [128]byte
	var ends [8]int
	enc := buf[:0]
	valueEnds := ends[:0]
	for _, fl := range f.apply {
		if fl.expr == nil {
			enc = append(enc, fl.canon...)
		} else {
			v, ok := fl.expr(env)
			if !ok {
				return nil, false
			}
			switch v.kind {
			case fastInt:
				enc = strconv.AppendInt(enc, v.i, 10)
			case fastBool:
				enc = strconv.AppendBool(enc, v.b)
			default:
				enc, _ = object.AppendJSON(enc, v.s)
			}
		}
		valueEnds = append(valueEnds, len(enc))
	}
	value := func(i int) []byte {
		if i == 0 {
			return enc[:valueEnds[0]]
		}
		return enc[valueEnds[i-1]:valueEnds[i]]
	}
	size := len(state) + len(enc) + 2
	for _, fl := range f.apply {
		size += len(fl.name) + 4
	}
	// The state's members and the fields set, merged in key order.
	out := make([]byte, 0, size)
	out = append(out, '{')
	member := func(key, value []byte) { out = append(appendKey(out, 1, key), value...) }
	m := object.NewPlainMembers(state)
	k, v, more := m.Next()
	for i, fl := range f.apply {
		for ; more && bytes.Compare(k, fl.name) < 0; k, v, more = m.Next() {
			member(k, v)
		}
		if more && bytes.Equal(k, fl.name) {
			k, v, more = m.Next()
		}
		member(fl.name, value(i))
	}
	for ; more; k, v, more = m.Next() {
		member(k, v)
	}
	return append(out, '}'), true
}
