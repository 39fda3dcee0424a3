package model

import (
	"errors"
	"strings"
)

// ErrRule is returned when a model rule refused the events: a require
// expression was false, an expression failed to evaluate (a field of a
// stream that was never opened, a type mismatch), or integer arithmetic
// overflowed. Every such error is a *RuleError; errors.Is(err, ErrRule)
// holds for it.
var ErrRule = errors.New("a model rule refused the events")

// ErrNoCompensation is returned when an event has no compensating event:
// its type is named by the model without a revert rule, or it is a merge
// patch whose inverse no merge patch can express (the earlier state was
// not an object, held an explicit null the patch touched, or the patch was
// not an object).
var ErrNoCompensation = errors.New("no compensation known for the event")

// ErrModel is returned by Parse when a model file is not a valid model:
// bad YAML, an unknown key, a bad type name, a rule of the wrong shape or
// an expression that does not compile.
var ErrModel = errors.New("invalid model")

// errRequireFalse is the Err of a RuleError whose require expression
// evaluated to false.
var errRequireFalse = errors.New("failed")

// RuleError is the error of an event that a model rule refused. Stream and
// Type name the event (Stream is empty when the stream is not known, as in
// Model.Upcast); Rule names the rule: `require "EXPR"`, `apply FIELD`,
// `revert FIELD` or `upcast FROM->TO FIELD`. Err is what went wrong; for a
// require that was simply false it reads "failed".
type RuleError struct {
	Stream string // the event's stream; empty when not known
	Type   string // the event's type
	Rule   string // the rule that refused it, such as `apply FIELD`
	Err    error  // what went wrong; "failed" for a require that was false
}

// Error reads like
//
//	stream acc-1: MoneyWithdrawn: require "state.balance >= event.amount" failed
//	stream acc-1: MoneyDeposited: apply balance: invalid operation: null + integer
func (e *RuleError) Error() string {
	var b strings.Builder
	if e.Stream != "" {
		b.WriteString("stream ")
		b.WriteString(e.Stream)
		b.WriteString(": ")
	}
	b.WriteString(e.Type)
	b.WriteString(": ")
	b.WriteString(e.Rule)
	switch {
	case e.Err == nil:
	case e.Err == errRequireFalse:
		b.WriteString(" failed")
	default:
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// Is reports whether target is ErrRule, so that errors.Is(err, ErrRule)
// holds for every RuleError.
func (e *RuleError) Is(target error) bool { return target == ErrRule }
