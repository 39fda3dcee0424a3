package bankgen

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
)

// ErrRejected is wrapped by the errors of Replayer.Apply and Fold for an event
// the banking model refuses (or that this reference fold cannot apply).
var ErrRejected = errors.New("bankgen: event rejected")

// Account is the state of one account stream after folding its events: the
// fields of the model's state plus Version, the number of events applied to
// the stream.
type Account struct {
	// Owner is the owner named by the account's last AccountOpened.
	Owner string
	// Balance is the account's balance: deposits less withdrawals and fees.
	Balance int64
	// Frozen reports that the account is frozen, refusing withdrawals.
	Frozen bool
	// Version is the number of the stream's events applied; refused
	// events do not count.
	Version int
}

// Replayer folds banking events one at a time with plain Go code, independent
// of any evgit package, so tests can compute the expected state at any prefix
// of a workload. The zero Replayer is ready to use.
//
// It follows Model: AccountOpened sets owner, balance 0 and frozen false (also
// on an open account); MoneyWithdrawn requires the account not frozen and
// balance >= amount; FeeCharged requires balance >= amount (schema-1 events
// carry their "value" in Data.Amount, as ParseNDJSONLine upcasts it); integer
// overflow is refused. It is stricter than the model in one way: any event but
// AccountOpened on a stream that was never opened is refused.
type Replayer struct {
	state map[string]Account
	n     int
}

// NewReplayer returns an empty Replayer.
func NewReplayer() *Replayer { return &Replayer{} }

// Apply folds e into the state. If the model refuses e, Apply returns an error
// wrapping ErrRejected and leaves the state unchanged.
func (r *Replayer) Apply(e Event) error {
	if r.state == nil {
		r.state = make(map[string]Account)
	}
	a, opened := r.state[e.Stream]
	reject := func(why string) error {
		return fmt.Errorf("%w: stream %s: %s: %s", ErrRejected, e.Stream, e.Type, why)
	}
	if !opened && e.Type != TypeAccountOpened {
		return reject("account not opened")
	}
	amount := e.Data.Amount
	switch e.Type {
	case TypeAccountOpened:
		a.Owner, a.Balance, a.Frozen = e.Data.Owner, 0, false
	case TypeMoneyDeposited:
		if (amount > 0 && a.Balance > math.MaxInt64-amount) || (amount < 0 && a.Balance < math.MinInt64-amount) {
			return reject("integer overflow")
		}
		a.Balance += amount
	case TypeMoneyWithdrawn, TypeFeeCharged:
		if e.Type == TypeMoneyWithdrawn && a.Frozen {
			return reject("!state.frozen")
		}
		if a.Balance < amount {
			return reject("state.balance >= event.amount")
		}
		if amount < 0 && a.Balance > math.MaxInt64+amount {
			return reject("integer overflow")
		}
		a.Balance -= amount
	case TypeAccountFrozen:
		a.Frozen = true
	case TypeAccountUnfrozen:
		a.Frozen = false
	default:
		return reject("type not in the banking model")
	}
	a.Version++
	r.state[e.Stream] = a
	r.n++
	return nil
}

// Get returns the state of stream and whether it has been opened.
func (r *Replayer) Get(stream string) (Account, bool) {
	a, ok := r.state[stream]
	return a, ok
}

// State returns a copy of the state of every opened stream.
func (r *Replayer) State() map[string]Account {
	if r.state == nil {
		return map[string]Account{}
	}
	return maps.Clone(r.state)
}

// Len returns the number of events applied so far.
func (r *Replayer) Len() int { return r.n }

// Fold folds events in order and returns the state of every stream. It stops
// at the first event the model refuses, returning the state before it and an
// error wrapping ErrRejected that names the event's index. Use
// slices.Values(events) or Generator.All for the argument.
func Fold(events iter.Seq[Event]) (map[string]Account, error) {
	r := NewReplayer()
	i := 0
	for e := range events {
		if err := r.Apply(e); err != nil {
			return r.state, fmt.Errorf("event %d: %w", i, err)
		}
		i++
	}
	return r.State(), nil
}
