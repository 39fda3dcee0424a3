package model

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/evgit/evgit/object"
)

// Names of the checked operators the patcher substitutes for expr-lang's
// own. They are ordinary functions to expr-lang; the prefix keeps them out
// of the way of anything a model would name.
const (
	fnAdd = "__evgit_add"
	fnSub = "__evgit_sub"
	fnMul = "__evgit_mul"
	fnNeg = "__evgit_neg"
	fnAbs = "__evgit_abs"
	fnInt = "__evgit_int"
	fnEq  = "__evgit_eq"
	fnNe  = "__evgit_ne"
	fnLt  = "__evgit_lt"
	fnLe  = "__evgit_le"
	fnGt  = "__evgit_gt"
	fnGe  = "__evgit_ge"
	fnGet = "__evgit_get"
	fnMod = "__evgit_mod"
	fnShl = "__evgit_shl"
	fnPow = "__evgit_pow"
	// fnFromJSON replaces the builtin fromJSON, which decodes numbers
	// as float64.
	fnFromJSON = "__evgit_fromjson"
	// fnSmall passes an argument of a builtin that would read an unsigned
	// integer above 2^63-1 as a negative one (max, min, the bit
	// functions), and refuses such an integer.
	fnSmall = "__evgit_small"
	// fnMapList replaces keys, values and toPairs, which list a map in
	// Go's random order: a state must be the same on every replay, so
	// they list it sorted by key. Its second argument says which.
	fnMapList = "__evgit_maplist"
)

// smallArgs are the builtins whose arguments go through fnSmall.
var smallArgs = map[string]bool{
	"max": true, "min": true, "bitand": true, "bitor": true, "bitxor": true,
	"bitnand": true, "bitnot": true, "bitshr": true, "bitushr": true,
}

// binaryFuncs maps the binary operators the patcher replaces to their
// checked functions.
var binaryFuncs = map[string]string{
	"+": fnAdd, "-": fnSub, "*": fnMul, "%": fnMod, "**": fnPow, "^": fnPow,
	"==": fnEq, "!=": fnNe, "<": fnLt, "<=": fnLe, ">": fnGt, ">=": fnGe,
}

// envDecl declares the variables an expression may use. state and event
// are of unknown type (any JSON value); meta is a map of strings.
var envDecl = types.Map{
	"state": types.Any,
	"event": types.Any,
	"meta":  types.TypeOf(map[string]string(nil)),
}

// compileOptions are shared by every expression of every model.
var compileOptions = []expr.Option{
	expr.Env(envDecl),
	// State must be a function of the events alone: replaying them later,
	// elsewhere, must give the same bytes. So no clock. (date() without a
	// zone already parses in UTC; expr.Timezone is not used because in
	// expr-lang v1.17.8 it breaks date().)
	expr.DisableBuiltin("now"),
	expr.Function(fnAdd, checkedAdd),
	expr.Function(fnSub, checkedSub),
	expr.Function(fnMul, checkedMul),
	expr.Function(fnNeg, checkedNeg),
	expr.Function(fnAbs, checkedAbs),
	expr.Function(fnInt, checkedInt),
	expr.Function(fnEq, checkedEq),
	expr.Function(fnNe, checkedNe),
	expr.Function(fnLt, checkedLt),
	expr.Function(fnLe, checkedLe),
	expr.Function(fnGt, checkedGt),
	expr.Function(fnGe, checkedGe),
	expr.Function(fnGet, checkedGet),
	expr.Function(fnMod, checkedMod),
	expr.Function(fnShl, checkedShl),
	expr.Function(fnPow, checkedPow),
	expr.Function(fnFromJSON, checkedFromJSON),
	expr.Function(fnSmall, checkedSmall),
	expr.Function(fnMapList, sortedMapList),
	expr.Patch(checkedPatcher{}),
}

// compile compiles one expression; asBool makes a result that is known at
// compile time not to be a boolean an error.
func compile(src string, asBool bool) (*vm.Program, error) {
	p, err := expr.Compile(src, compileOptions...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s (column %d)", fe.Message, fe.Column+1)
		}
		return nil, err
	}
	// Not expr.AsBool: it would also cast at run time, with a terser
	// message than Apply gives for a result that is not a boolean. The
	// type is read before the patcher rewrites the operators into checked
	// functions, which return any: 1 + 2 is an int there.
	if asBool {
		if plain, err := expr.Compile(src, expr.Env(envDecl), expr.DisableBuiltin("now")); err == nil {
			if t := plain.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
				return nil, fmt.Errorf("yields %s, not a boolean", t)
			}
		}
	}
	return p, nil
}

// checkedPatcher rewrites an expression's tree before it is compiled so that
// arithmetic and comparisons go through the checked functions: expr-lang's
// own integer operators wrap around silently on overflow, and its mixed
// comparisons convert unsigned 64-bit integers to int (wrapping those above
// 2^63-1). sum(...) becomes a reduce(...) over the checked addition, abs
// and int are checked too, and reading a field by name (x.name, x["name"])
// is a plain map lookup that refuses to read from null.
type checkedPatcher struct{}

// Visit implements ast.Visitor. ast.Walk visits children first, so nested
// operators are already rewritten when their parent is visited.
func (checkedPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if fn, ok := binaryFuncs[n.Operator]; ok {
			ast.Patch(node, call(fn, n.Left, n.Right))
		}
	case *ast.MemberNode:
		// x.name and x["name"]: a plain map lookup rather than expr-lang's
		// reflection, and an error that says "null" for a missing object.
		// Optional chains (x?.a.b) keep expr-lang's member nodes, whose
		// short-circuit jumps depend on them.
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional || n.Method || inOptionalChain(n.Node) {
			return
		}
		ast.Patch(node, call(fnGet, n.Node, &ast.StringNode{Value: prop.Value}))
	case *ast.UnaryNode:
		if n.Operator != "-" {
			return
		}
		switch n.Node.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
			return // a negative literal cannot overflow
		}
		ast.Patch(node, call(fnNeg, n.Node))
	case *ast.BuiltinNode:
		if smallArgs[n.Name] {
			for i, a := range n.Arguments {
				if _, ok := a.(*ast.PredicateNode); !ok {
					n.Arguments[i] = call(fnSmall, a)
				}
			}
			return
		}
		switch n.Name {
		case "keys", "values", "toPairs":
			// Only where a map may come: the builtin refuses anything
			// else (keys(1)) when the model is parsed.
			if len(n.Arguments) == 1 && mayBeMap(n.Arguments[0]) {
				ast.Patch(node, call(fnMapList, n.Arguments[0], &ast.StringNode{Value: n.Name}))
			}
		case "fromJSON":
			if len(n.Arguments) == 1 {
				ast.Patch(node, call(fnFromJSON, n.Arguments[0]))
			}
		case "bitshl":
			if len(n.Arguments) == 2 {
				ast.Patch(node, call(fnShl, n.Arguments[0], n.Arguments[1]))
			}
		case "abs":
			if len(n.Arguments) == 1 {
				ast.Patch(node, call(fnAbs, n.Arguments[0]))
			}
		case "int":
			if len(n.Arguments) == 1 {
				ast.Patch(node, call(fnInt, n.Arguments[0]))
			}
		case "sum":
			// sum(xs) → reduce(xs, add(#acc, #), 0)
			// sum(xs, pred) → reduce(xs, add(#acc, pred), 0)
			var elem ast.Node = &ast.PointerNode{}
			switch len(n.Arguments) {
			case 1:
			case 2:
				pred, ok := n.Arguments[1].(*ast.PredicateNode)
				if !ok {
					return
				}
				elem = pred.Node
			default:
				return
			}
			ast.Patch(node, &ast.BuiltinNode{
				Name: "reduce",
				Arguments: []ast.Node{
					n.Arguments[0],
					&ast.PredicateNode{Node: call(fnAdd, &ast.PointerNode{Name: "acc"}, elem)},
					&ast.IntegerNode{Value: 0},
				},
			})
		}
	}
}

// inOptionalChain reports whether a member access on n continues an
// optional chain (n is, or reads through, an x?.name).
func inOptionalChain(n ast.Node) bool {
	for {
		switch x := n.(type) {
		case *ast.MemberNode:
			if x.Optional {
				return true
			}
			n = x.Node
		case *ast.CallNode:
			id, ok := x.Callee.(*ast.IdentifierNode)
			if !ok || id.Value != fnGet {
				return false
			}
			n = x.Arguments[0]
		default:
			return false
		}
	}
}

func call(fn string, args ...ast.Node) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args}
}

// evaluator runs programs; it is pooled because a vm.VM keeps its stack
// between runs, and the env map is reused rather than built per event.
type evaluator struct {
	vm  vm.VM
	env map[string]any
}

var evaluators = sync.Pool{New: func() any {
	return &evaluator{env: make(map[string]any, 3)}
}}

func getEvaluator(state, event any, meta map[string]string) *evaluator {
	e := evaluators.Get().(*evaluator)
	e.env["state"] = state
	e.env["event"] = event
	e.env["meta"] = meta
	return e
}

func (e *evaluator) release() {
	e.env["state"] = nil
	e.env["event"] = nil
	e.env["meta"] = nil
	evaluators.Put(e)
}

// run evaluates p and turns expr-lang's error (a message with a source
// snippet over several lines) into a one-line error.
func (e *evaluator) run(p *vm.Program) (any, error) {
	out, err := e.vm.Run(p, e.env)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			if fe.Prev != nil {
				return nil, fe.Prev
			}
			return nil, errors.New(fe.Message)
		}
		return nil, err
	}
	return out, nil
}

// checkedGet reads a field of an object; a field that is absent reads as
// null, but reading a field of null (the state of a stream that was never
// opened) is an error.
func checkedGet(args ...any) (any, error) {
	key, _ := args[1].(string)
	switch o := args[0].(type) {
	case map[string]any:
		return o[key], nil
	case map[string]string:
		// meta: an absent key reads as "", as it always has (a model's
		// states depend on it; docs/guide.md says so).
		return o[key], nil
	case nil:
		return nil, fmt.Errorf("cannot read field %s of null", key)
	}
	return fetch(args[0], key)
}

// fetch is expr-lang's member access for what checkedGet does not handle
// itself, with its panic turned into an error.
func fetch(from any, key string) (out any, err error) {
	defer func() {
		if recover() != nil {
			out, err = nil, fmt.Errorf("cannot read field %s of %s", key, typeName(from))
		}
	}()
	return runtime.Fetch(from, key), nil
}

// errOverflow is wrapped by the error of an integer operation whose exact
// result does not fit in 64 bits.
var errOverflow = errors.New("integer overflow")

// number classifies v: an integer that fits int64 (kind numInt, in i), an
// unsigned integer above MaxInt64 (numBig, in u), a float (numFloat, in f),
// or not a number (numNone).
type numKind uint8

const (
	numNone numKind = iota
	numInt
	numBig
	numFloat
)

type num struct {
	kind numKind
	i    int64
	u    uint64
	f    float64
}

func number(v any) num {
	switch x := v.(type) {
	case int64:
		return num{kind: numInt, i: x}
	case int:
		return num{kind: numInt, i: int64(x)}
	case float64:
		return num{kind: numFloat, f: x}
	case uint64:
		if x > math.MaxInt64 {
			return num{kind: numBig, u: x}
		}
		return num{kind: numInt, i: int64(x)}
	case int32:
		return num{kind: numInt, i: int64(x)}
	case int16:
		return num{kind: numInt, i: int64(x)}
	case int8:
		return num{kind: numInt, i: int64(x)}
	case uint:
		if uint64(x) > math.MaxInt64 {
			return num{kind: numBig, u: uint64(x)}
		}
		return num{kind: numInt, i: int64(x)}
	case uint32:
		return num{kind: numInt, i: int64(x)}
	case uint16:
		return num{kind: numInt, i: int64(x)}
	case uint8:
		return num{kind: numInt, i: int64(x)}
	case float32:
		return num{kind: numFloat, f: float64(x)}
	}
	return num{}
}

func (n num) float() float64 {
	switch n.kind {
	case numInt:
		return float64(n.i)
	case numBig:
		return float64(n.u)
	}
	return n.f
}

// typeName names the JSON kind of v for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	switch number(v).kind {
	case numInt, numBig:
		return "integer"
	case numFloat:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func operandError(op string, a, b any) error {
	return fmt.Errorf("invalid operation: %s %s %s", typeName(a), op, typeName(b))
}

func bigError(v any) error {
	return fmt.Errorf("integer %v is beyond the signed 64-bit range of arithmetic", v)
}

// fallback hands operands the checked functions do not handle (times,
// durations, ...) to expr-lang's own operator, turning its panic on a
// mismatch into an error.
func fallback(op string, a, b any, f func(a, b any) any) (out any, err error) {
	defer func() {
		if recover() != nil {
			out, err = nil, operandError(op, a, b)
		}
	}()
	return f(a, b), nil
}

// arith is + - * with exact int64 results, float64 when either side is a
// float, string and array concatenation for +.
func arith(op byte, a, b any) (any, error) {
	x, y := number(a), number(b)
	if x.kind == numInt && y.kind == numInt {
		r, ok := intArith(op, x.i, y.i)
		if !ok {
			return nil, fmt.Errorf("%w: %d %c %d", errOverflow, x.i, op, y.i)
		}
		return r, nil
	}
	if x.kind != numNone && y.kind != numNone {
		if x.kind == numBig {
			return nil, bigError(a)
		}
		if y.kind == numBig {
			return nil, bigError(b)
		}
		switch op {
		case '+':
			return x.float() + y.float(), nil
		case '-':
			return x.float() - y.float(), nil
		default:
			return x.float() * y.float(), nil
		}
	}
	if a == nil || b == nil {
		return nil, operandError(string(op), a, b)
	}
	switch op {
	case '+':
		if s, ok := a.(string); ok {
			if t, ok := b.(string); ok {
				return s + t, nil
			}
			return nil, operandError("+", a, b)
		}
		if s, ok := a.([]any); ok {
			if t, ok := b.([]any); ok {
				out := make([]any, 0, len(s)+len(t))
				return append(append(out, s...), t...), nil
			}
			return nil, operandError("+", a, b)
		}
		return fallback("+", a, b, runtime.Add)
	case '-':
		return fallback("-", a, b, runtime.Subtract)
	default:
		return fallback("*", a, b, runtime.Multiply)
	}
}

// intArith is + - * on int64; ok is false when the exact result does not
// fit.
func intArith(op byte, x, y int64) (r int64, ok bool) {
	switch op {
	case '+':
		r = x + y
		return r, (r > x) == (y > 0)
	case '-':
		r = x - y
		return r, (r < x) == (y > 0)
	default:
		r = x * y
		return r, x == 0 || (r/x == y && !(x == -1 && y == math.MinInt64))
	}
}

func checkedAdd(args ...any) (any, error) {
	if x, ok := args[0].(int64); ok {
		if y, ok := args[1].(int64); ok {
			r := x + y
			if (r > x) == (y > 0) {
				return r, nil
			}
		}
	}
	return arith('+', args[0], args[1])
}

func checkedSub(args ...any) (any, error) {
	if x, ok := args[0].(int64); ok {
		if y, ok := args[1].(int64); ok {
			r := x - y
			if (r < x) == (y > 0) {
				return r, nil
			}
		}
	}
	return arith('-', args[0], args[1])
}

func checkedMul(args ...any) (any, error) { return arith('*', args[0], args[1]) }

// checkedMod is % on integers, refusing those beyond int64 (expr-lang's
// would read them as negative) and a zero divisor.
func checkedMod(args ...any) (any, error) {
	x, y, err := smallOperands(args)
	switch {
	case err != nil:
		return nil, err
	case x.kind == numInt && y.kind == numInt:
		if y.i == 0 {
			return nil, errors.New("integer divide by zero")
		}
		return x.i % y.i, nil
	}
	return fallback("%", args[0], args[1], func(a, b any) any { return runtime.Modulo(a, b) })
}

// smallOperands classifies a binary operator's operands, refusing an
// integer beyond int64, which no arithmetic here reads.
func smallOperands(args []any) (x, y num, err error) {
	x, y = number(args[0]), number(args[1])
	switch {
	case x.kind == numBig:
		err = bigError(args[0])
	case y.kind == numBig:
		err = bigError(args[1])
	}
	return x, y, err
}

// checkedShl is bitshl(x, n) that refuses a result that does not fit in
// 64 bits, as the other arithmetic does.
func checkedShl(args ...any) (any, error) {
	x, n := number(args[0]), number(args[1])
	if x.kind != numInt || n.kind != numInt {
		if x.kind == numBig {
			return nil, bigError(args[0])
		}
		return nil, operandError("<<", args[0], args[1])
	}
	if n.i < 0 {
		return nil, fmt.Errorf("invalid shift: %d", n.i)
	}
	if n.i >= 64 || (x.i<<n.i)>>n.i != x.i {
		return nil, fmt.Errorf("%w: %d << %d", errOverflow, x.i, n.i)
	}
	return x.i << n.i, nil
}

// checkedPow is x ** y (and x ^ y): an integer when both are integers and
// y >= 0, refusing a result beyond int64, as + - * do (expr-lang's own
// works in float64 and rounds); a float otherwise.
func checkedPow(args ...any) (any, error) {
	x, y, err := smallOperands(args)
	switch {
	case err != nil:
		return nil, err
	case x.kind == numInt && y.kind == numInt && y.i >= 0:
		r, base, e := int64(1), x.i, y.i
		for e > 0 {
			if e&1 == 1 {
				var ok bool
				if r, ok = intArith('*', r, base); !ok {
					return nil, fmt.Errorf("%w: %d ** %d", errOverflow, x.i, y.i)
				}
			}
			if e >>= 1; e > 0 {
				var ok bool
				if base, ok = intArith('*', base, base); !ok {
					// Only an error if a later bit needs it: 1 and 0 and
					// -1 never overflow, others then would.
					return nil, fmt.Errorf("%w: %d ** %d", errOverflow, x.i, y.i)
				}
			}
		}
		return r, nil
	}
	return fallback("**", args[0], args[1], func(a, b any) any { return runtime.Exponent(a, b) })
}

// checkedFromJSON is fromJSON(s) decoding as event data is decoded:
// integers exact up to 64 bits, never through float64.
func checkedFromJSON(args ...any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("fromJSON of %s, want a string", typeName(args[0]))
	}
	return object.DecodeJSON([]byte(s))
}

// mayBeMap reports whether the node, as checked, may yield a map: its
// type is a map, or known only at run time (and it is not nil).
func mayBeMap(n ast.Node) bool {
	if _, isNil := n.(*ast.NilNode); isNil {
		return false
	}
	t := n.Type()
	return t != nil && (t.Kind() == reflect.Map || t.Kind() == reflect.Interface)
}

// sortedMapList is keys(m), values(m) or toPairs(m) (args[1] says
// which) with m's entries in the order of their keys, so that a state
// built from them is the same on every replay. A pair is a list of two.
func sortedMapList(args ...any) (any, error) {
	v := reflect.ValueOf(args[0])
	what, _ := args[1].(string)
	if v.Kind() != reflect.Map {
		return nil, fmt.Errorf("%s of %s, want an object", what, typeName(args[0]))
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		if a.Kind() == reflect.String && b.Kind() == reflect.String {
			return strings.Compare(a.String(), b.String())
		}
		return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
	})
	out := make([]any, len(keys))
	for i, k := range keys {
		switch what {
		case "keys":
			out[i] = k.Interface()
		case "values":
			out[i] = v.MapIndex(k).Interface()
		default:
			out[i] = []any{k.Interface(), v.MapIndex(k).Interface()}
		}
	}
	return out, nil
}

// checkedSmall passes v unless it is an integer beyond int64.
func checkedSmall(args ...any) (any, error) {
	if number(args[0]).kind == numBig {
		return nil, bigError(args[0])
	}
	return args[0], nil
}

func checkedNeg(args ...any) (any, error) {
	a := args[0]
	switch x := number(a); x.kind {
	case numInt:
		if x.i == math.MinInt64 {
			return nil, fmt.Errorf("%w: -(%d)", errOverflow, x.i)
		}
		return -x.i, nil
	case numBig:
		return nil, bigError(a)
	case numFloat:
		return -x.f, nil
	}
	if a == nil {
		return nil, errors.New("invalid operation: -null")
	}
	return fallback("-", a, nil, func(a, _ any) any { return runtime.Negate(a) })
}

func checkedAbs(args ...any) (any, error) {
	a := args[0]
	switch x := number(a); x.kind {
	case numInt:
		if x.i == math.MinInt64 {
			return nil, fmt.Errorf("%w: abs(%d)", errOverflow, x.i)
		}
		if x.i < 0 {
			return -x.i, nil
		}
		return x.i, nil
	case numBig:
		return a, nil
	case numFloat:
		return math.Abs(x.f), nil
	}
	return nil, fmt.Errorf("invalid argument for abs: %s", typeName(a))
}

func checkedInt(args ...any) (any, error) {
	a := args[0]
	switch x := number(a); x.kind {
	case numInt:
		return x.i, nil
	case numBig:
		return nil, bigError(a)
	case numFloat:
		if math.IsNaN(x.f) || x.f >= 1<<63 || x.f < -(1<<63) {
			return nil, fmt.Errorf("%w: int(%v)", errOverflow, x.f)
		}
		return int64(x.f), nil
	}
	if s, ok := a.(string); ok {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q", s)
		}
		return i, nil
	}
	return nil, fmt.Errorf("invalid argument for int: %s", typeName(a))
}

// compareNumbers compares two numbers exactly (no rounding of 64-bit
// integers through float64). nan is true when either side is NaN.
func compareNumbers(x, y num) (c int, nan bool) {
	switch {
	case x.kind == numInt && y.kind == numInt:
		return cmp3(x.i < y.i, x.i > y.i), false
	case x.kind == numFloat && y.kind == numFloat:
		if math.IsNaN(x.f) || math.IsNaN(y.f) {
			return 0, true
		}
		return cmp3(x.f < y.f, x.f > y.f), false
	case x.kind == numFloat:
		c, nan := compareNumbers(y, x)
		return -c, nan
	case x.kind == numBig:
		switch y.kind {
		case numInt:
			return 1, false
		case numBig:
			return cmp3(x.u < y.u, x.u > y.u), false
		}
		// y is a float
		if math.IsNaN(y.f) {
			return 0, true
		}
		if y.f >= 1<<64 {
			return -1, false
		}
		if y.f < 1<<63 {
			return 1, false
		}
		t := uint64(y.f) // y.f is an integer this large
		return cmp3(x.u < t, x.u > t), false
	case y.kind == numBig:
		c, nan := compareNumbers(y, x)
		return -c, nan
	}
	// x is an int64, y a float
	f := y.f
	switch {
	case math.IsNaN(f):
		return 0, true
	case f >= 1<<63:
		return -1, false
	case f < -(1 << 63):
		return 1, false
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case x.i < ti:
		return -1, false
	case x.i > ti:
		return 1, false
	case f > t:
		return -1, false
	case f < t:
		return 1, false
	}
	return 0, false
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

func equal(a, b any) bool {
	x, y := number(a), number(b)
	if x.kind != numNone && y.kind != numNone {
		c, nan := compareNumbers(x, y)
		return !nan && c == 0
	}
	return runtime.Equal(a, b)
}

func checkedEq(args ...any) (any, error) { return equal(args[0], args[1]), nil }

func checkedNe(args ...any) (any, error) { return !equal(args[0], args[1]), nil }

// order compares a and b for <, <=, >, >=: numbers exactly, strings by
// bytes, anything else (times, durations) as expr-lang does.
func order(op string, a, b any, test func(c int) bool, native func(a, b any) bool) (any, error) {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			return test(cmp3(x < y, x > y)), nil
		}
	}
	x, y := number(a), number(b)
	if x.kind != numNone && y.kind != numNone {
		c, nan := compareNumbers(x, y)
		return !nan && test(c), nil
	}
	if s, ok := a.(string); ok {
		if t, ok := b.(string); ok {
			return test(cmp3(s < t, s > t)), nil
		}
	}
	if a == nil || b == nil {
		return nil, operandError(op, a, b)
	}
	return fallback(op, a, b, func(a, b any) any { return native(a, b) })
}

func checkedLt(args ...any) (any, error) {
	return order("<", args[0], args[1], func(c int) bool { return c < 0 }, runtime.Less)
}

func checkedLe(args ...any) (any, error) {
	return order("<=", args[0], args[1], func(c int) bool { return c <= 0 }, runtime.LessOrEqual)
}

func checkedGt(args ...any) (any, error) {
	return order(">", args[0], args[1], func(c int) bool { return c > 0 }, runtime.More)
}

func checkedGe(args ...any) (any, error) {
	return order(">=", args[0], args[1], func(c int) bool { return c >= 0 }, runtime.MoreOrEqual)
}
