// Package model folds events into state: it parses a model file (SPEC §4)
// and applies, upcasts and compensates events by its rules.
//
// A stream's state is a JSON value, held as canonical JSON bytes; nil means
// null, the stream before its first event. Both the default and the rules
// are shaped by three needs.
//
// Merge patch by default. With no model, or for a type the model does not
// name, an event's data is a JSON Merge Patch (RFC 7386) onto the state.
// That gives useful state with no configuration at all, and it has an
// inverse that can be computed from the state before the event
// (MergePatchInverse), so `revert` works for such events too. The inverse
// is refused (ErrNoCompensation) exactly where a merge patch cannot say
// what the state was: a state that was not an object, or an explicit null
// the event touched, since null in a merge patch means "remove".
//
// Expressions compiled once. Rules are expr-lang expressions over state,
// event and meta. Apply runs on the hot path of every commit and every
// rebuild of state, so Parse compiles each expression exactly once into a
// program; evaluation reuses pooled virtual machines and environment maps
// instead of compiling or allocating per event. Every apply expression sees
// the state before the event, so their order in the file does not matter.
// State must follow from the events alone, so the clock (now()) is not
// available and dates parse in UTC.
//
// Integer exactness. Amounts are integers and must stay exact: JSON
// integers reach expressions as int64 (never through float64, which loses
// digits above 2^53), and integer results are written back as JSON
// integers. expr-lang's own integer operators wrap around silently on
// overflow, so Parse rewrites each expression's tree before compiling it:
// + - * and unary minus, abs, int and sum become calls to checked functions
// that refuse an overflowing event (a *RuleError, exit 4) rather than store
// a wrapped balance. The comparison operators are rewritten too, so that
// integers compare exactly with each other and with floats. A JSON integer
// above 2^63-1 (up to 2^64-1, which canonical JSON keeps exact) reaches an
// expression as a uint64: it can be copied and compared exactly, but
// arithmetic on it is refused. A nil operand (a field of a stream that was
// never opened) is an error, not zero. `/` gives a float, as in expr-lang.
package model
