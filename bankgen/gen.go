package bankgen

import (
	"io"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultSkew     = 1.1
	DefaultAccounts = 1000
	DefaultStep     = time.Second
)

// DefaultStart is the business time of the first event when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Actors is the number of tellers ("teller-0" .. "teller-19") events are spread over.
const Actors = 20

// MaxAmount is the largest amount of a deposit, withdrawal or fee; amounts are
// drawn uniformly from 1..MaxAmount.
const MaxAmount = 10000

// Relative weights of the event types drawn for an already opened account
// (the nominal mix 50% / 30% / 2% / 2% / 5%, normalised over their sum). A draw
// the account's state does not allow becomes a MoneyDeposited. The generated
// mix for 100k events over 10k accounts is about 58% deposits, 27%
// withdrawals, 7% openings, 5% fees and 2% each freezes and unfreezes.
const (
	weightDeposit  = 50
	weightWithdraw = 30
	weightFreeze   = 2
	weightUnfreeze = 2
	weightFee      = 5
	weightTotal    = weightDeposit + weightWithdraw + weightFreeze + weightUnfreeze + weightFee
)

// unfreezeOneIn makes frozen spells short: while an account is frozen, one
// event in unfreezeOneIn on it is an AccountUnfrozen (besides the weighted
// draw), so accounts are frozen about 8% of the time and freezes and unfreezes
// each stay near 2% of the events, instead of accounts sitting frozen half the
// time and starving withdrawals.
const unfreezeOneIn = 4

// pcgStream is the second PCG seed word; fixed so Config.Seed alone picks the run.
const pcgStream = 0x9e3779b97f4a7c15

// Config parametrises a workload. Zero fields take the defaults documented on
// each field.
type Config struct {
	// Seed selects the pseudo-random sequence; the same Config always yields the
	// same events, byte for byte, on every platform and run.
	Seed uint64
	// Events is the number of events to generate.
	Events int
	// Accounts is the number of account streams, acc-000000 .. (default 1000).
	Accounts int
	// Skew is the Zipf exponent s of the account popularity, P(rank k) ∝
	// (k+1)^-s; rank 0 is acc-000000 (default 1.1 when 0; negative means
	// uniform).
	Skew float64
	// Start is the business time of event 0 (default 2026-01-01T00:00:00Z).
	Start time.Time
	// Step is the business-time gap between consecutive events (default 1s).
	Step time.Duration
}

func (c Config) withDefaults() Config {
	if c.Events < 0 {
		c.Events = 0
	}
	if c.Accounts <= 0 {
		c.Accounts = DefaultAccounts
	}
	if c.Skew == 0 {
		c.Skew = DefaultSkew
	}
	if c.Skew < 0 {
		c.Skew = 0
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Step == 0 {
		c.Step = DefaultStep
	}
	return c
}

// StreamName returns the stream of account i: "acc-%06d".
func StreamName(i int) string {
	return string(appendStreamName(make([]byte, 0, 12), i))
}

func appendStreamName(dst []byte, i int) []byte {
	dst = append(dst, "acc-"...)
	for d := 100000; d > 1 && i < d; d /= 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(i), 10)
}

type account struct {
	opened  bool
	frozen  bool
	balance int64
}

// Generator produces the events of one Config in order. It is not safe for
// concurrent use.
type Generator struct {
	cfg      Config
	src      *rand.PCG
	cdf      []uint64 // cdf[k]: upper bound (exclusive) of rank k's share of 2^64
	accounts []account
	streams  []string
	actors   [Actors]string
	i        int
}

// New returns a Generator for cfg, with defaults applied to its zero fields.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:      cfg,
		src:      rand.NewPCG(cfg.Seed, pcgStream),
		cdf:      zipfCDF(cfg.Accounts, cfg.Skew),
		accounts: make([]account, cfg.Accounts),
		streams:  make([]string, cfg.Accounts),
	}
	for k := range g.actors {
		g.actors[k] = "teller-" + strconv.Itoa(k)
	}
	return g
}

// zipfCDF returns the cumulative Zipf distribution over n ranks scaled to
// 2^64, so that sampling is one Uint64 and a binary search: no floating point
// is involved per draw, only in building the table.
func zipfCDF(n int, s float64) []uint64 {
	cum := make([]float64, n)
	total := 0.0
	for k := range n {
		total += math.Pow(float64(k+1), -s)
		cum[k] = total
	}
	const two64 = 1 << 64
	cdf := make([]uint64, n)
	for k := range n {
		p := cum[k] / total
		if k == n-1 || p >= 1 {
			cdf[k] = math.MaxUint64
		} else {
			cdf[k] = uint64(p * two64)
		}
	}
	return cdf
}

// Config returns the generator's configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// uintn returns a value in [0, n) from the PCG by multiply-high (Lemire without
// rejection: the bias is below n/2^64, and the mapping is fixed forever,
// unlike the helpers of rand.Rand).
func (g *Generator) uintn(n uint64) uint64 {
	hi, _ := bits.Mul64(g.src.Uint64(), n)
	return hi
}

func (g *Generator) pickAccount() int {
	x := g.src.Uint64()
	lo, hi := 0, len(g.cdf)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x < g.cdf[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Next returns the next event and true, or a zero Event and false once
// Config.Events events have been returned. Every event is accepted by Model
// when the events are applied in the order Next returns them.
func (g *Generator) Next() (Event, bool) {
	if g.i >= g.cfg.Events {
		return Event{}, false
	}
	i := g.i
	g.i++
	k := g.pickAccount()
	acc := &g.accounts[k]
	e := Event{
		Time:   g.cfg.Start.Add(time.Duration(i) * g.cfg.Step),
		Schema: 1,
	}
	if !acc.opened {
		g.streams[k] = StreamName(k)
		acc.opened = true
		e.Type = TypeAccountOpened
		e.Data.Owner = "owner-" + strconv.Itoa(k)
	} else {
		roll := g.uintn(weightTotal)
		switch {
		case acc.frozen && g.uintn(unfreezeOneIn) == 0:
			e.Type = TypeAccountUnfrozen
		case roll < weightDeposit:
			e.Type = TypeMoneyDeposited
		case roll < weightDeposit+weightWithdraw:
			e.Type = TypeMoneyWithdrawn
		case roll < weightDeposit+weightWithdraw+weightFreeze:
			e.Type = TypeAccountFrozen
		case roll < weightDeposit+weightWithdraw+weightFreeze+weightUnfreeze:
			e.Type = TypeAccountUnfrozen
		default:
			e.Type = TypeFeeCharged
		}
		// Always drawn, so the sequence of draws per event does not depend on
		// the fallbacks below.
		amount := int64(g.uintn(MaxAmount)) + 1
		switch e.Type {
		case TypeMoneyWithdrawn:
			if acc.frozen || acc.balance < amount {
				e.Type = TypeMoneyDeposited
			}
		case TypeFeeCharged:
			if acc.balance < amount {
				e.Type = TypeMoneyDeposited
			} else if g.uintn(4) == 0 {
				e.Schema = 1 // the old schema: {"value": n}
			} else {
				e.Schema = 2
			}
		case TypeAccountFrozen:
			if acc.frozen {
				e.Type = TypeMoneyDeposited
			}
		case TypeAccountUnfrozen:
			if !acc.frozen {
				e.Type = TypeMoneyDeposited
			}
		}
		switch e.Type {
		case TypeMoneyDeposited:
			acc.balance += amount
		case TypeMoneyWithdrawn, TypeFeeCharged:
			acc.balance -= amount
		case TypeAccountFrozen:
			acc.frozen = true
		case TypeAccountUnfrozen:
			acc.frozen = false
		}
		if e.Type != TypeAccountFrozen && e.Type != TypeAccountUnfrozen {
			e.Data.Amount = amount
		}
	}
	e.Stream = g.streams[k]
	e.Actor = g.actors[g.uintn(Actors)]
	return e, true
}

// All returns an iterator over the generator's remaining events.
func (g *Generator) All() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			e, ok := g.Next()
			if !ok || !yield(e) {
				return
			}
		}
	}
}

// Generate returns all events of cfg as a slice.
func Generate(cfg Config) []Event {
	g := New(cfg)
	out := make([]Event, 0, g.cfg.Events)
	for e := range g.All() {
		out = append(out, e)
	}
	return out
}

// Write writes the events of cfg to w as NDJSON, one AppendNDJSON line per
// event, in large buffered writes.
func Write(w io.Writer, cfg Config) error {
	const flushAt = 256 << 10
	g := New(cfg)
	buf := make([]byte, 0, flushAt+4096)
	for {
		e, ok := g.Next()
		if !ok {
			break
		}
		buf = e.AppendNDJSON(buf)
		if len(buf) >= flushAt {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
