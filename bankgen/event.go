package bankgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event types of the banking model.
const (
	TypeAccountOpened   = "AccountOpened"
	TypeMoneyDeposited  = "MoneyDeposited"
	TypeMoneyWithdrawn  = "MoneyWithdrawn"
	TypeAccountFrozen   = "AccountFrozen"
	TypeAccountUnfrozen = "AccountUnfrozen"
	TypeFeeCharged      = "FeeCharged"
)

// Data is the payload of a banking event. Which fields reach the JSON depends on
// the event's type (see Event.AppendData): Owner for AccountOpened, Amount for
// MoneyDeposited, MoneyWithdrawn and FeeCharged, nothing for AccountFrozen and
// AccountUnfrozen. A FeeCharged event at schema 1 writes Amount under the old
// field name "value".
type Data struct {
	// Owner is the account holder's name, written as "owner" for
	// AccountOpened.
	Owner string
	// Amount is the integer amount of a deposit, withdrawal or fee, written
	// as "amount" (or "value" for a FeeCharged at schema 1).
	Amount int64
}

// Event is one banking event as it appears on an NDJSON line (SPEC §2).
// Schema 0 means "not given" and omits the field; an empty Actor and a zero Time
// are likewise left out of meta.
type Event struct {
	// Stream is the account stream the event belongs to, such as acc-000000.
	Stream string
	// Type is the event type, such as TypeMoneyDeposited.
	Type string
	// Data is the event's payload; its fields reach the JSON by Type.
	Data Data
	// Schema is the event type's schema version; 0 leaves it out of the line.
	Schema int
	// Actor is the event's meta.actor; empty leaves it out.
	Actor string
	// Time is the event's business time, meta.time in RFC 3339 at
	// whole seconds; zero leaves it out.
	Time time.Time
}

// AppendNDJSON appends e as one SPEC §2 line to dst, with the fields in the order
// stream, type, data, schema, meta{actor, time}, amounts as JSON integers, the
// time in RFC 3339, and a trailing '\n'. It allocates nothing when dst has room.
func (e Event) AppendNDJSON(dst []byte) []byte {
	dst = append(dst, `{"stream":`...)
	dst = appendJSONString(dst, e.Stream)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"data":`...)
	dst = e.AppendData(dst)
	if e.Schema != 0 {
		dst = append(dst, `,"schema":`...)
		dst = strconv.AppendInt(dst, int64(e.Schema), 10)
	}
	hasTime := !e.Time.IsZero()
	if e.Actor != "" || hasTime {
		dst = append(dst, `,"meta":{`...)
		if e.Actor != "" {
			dst = append(dst, `"actor":`...)
			dst = appendJSONString(dst, e.Actor)
			if hasTime {
				dst = append(dst, ',')
			}
		}
		if hasTime {
			dst = append(dst, `"time":"`...)
			dst = e.Time.AppendFormat(dst, time.RFC3339)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	return append(dst, "}\n"...)
}

// AppendData appends the canonical JSON of e's data (sorted keys, no white space)
// to dst. Types the model does not name write the non-zero fields of Data.
func (e Event) AppendData(dst []byte) []byte {
	switch e.Type {
	case TypeAccountOpened:
		dst = append(dst, `{"owner":`...)
		dst = appendJSONString(dst, e.Data.Owner)
		return append(dst, '}')
	case TypeMoneyDeposited, TypeMoneyWithdrawn:
		return appendAmount(dst, "amount", e.Data.Amount)
	case TypeFeeCharged:
		if e.Schema == 1 {
			return appendAmount(dst, "value", e.Data.Amount)
		}
		return appendAmount(dst, "amount", e.Data.Amount)
	case TypeAccountFrozen, TypeAccountUnfrozen:
		return append(dst, "{}"...)
	}
	dst = append(dst, '{')
	if e.Data.Amount != 0 {
		dst = append(dst, `"amount":`...)
		dst = strconv.AppendInt(dst, e.Data.Amount, 10)
	}
	if e.Data.Owner != "" {
		if e.Data.Amount != 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"owner":`...)
		dst = appendJSONString(dst, e.Data.Owner)
	}
	return append(dst, '}')
}

// DataMap returns e's data as a map, as encoding/json would decode AppendData's
// output with integers kept as int64.
func (e Event) DataMap() map[string]any {
	switch e.Type {
	case TypeAccountOpened:
		return map[string]any{"owner": e.Data.Owner}
	case TypeMoneyDeposited, TypeMoneyWithdrawn:
		return map[string]any{"amount": e.Data.Amount}
	case TypeFeeCharged:
		if e.Schema == 1 {
			return map[string]any{"value": e.Data.Amount}
		}
		return map[string]any{"amount": e.Data.Amount}
	case TypeAccountFrozen, TypeAccountUnfrozen:
		return map[string]any{}
	}
	m := map[string]any{}
	if e.Data.Amount != 0 {
		m["amount"] = e.Data.Amount
	}
	if e.Data.Owner != "" {
		m["owner"] = e.Data.Owner
	}
	return m
}

func appendAmount(dst []byte, key string, n int64) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
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
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ErrBlankLine is returned by ParseNDJSONLine for a line holding only white space;
// SPEC §2 says such lines are skipped.
var ErrBlankLine = errors.New("bankgen: blank line")

type wireEvent struct {
	Stream string          `json:"stream"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Schema *int            `json:"schema"`
	Meta   struct {
		Actor string `json:"actor"`
		Time  string `json:"time"`
	} `json:"meta"`
}

type wireData struct {
	Owner  string `json:"owner"`
	Amount *int64 `json:"amount"`
	Value  *int64 `json:"value"`
}

// ParseNDJSONLine decodes one SPEC §2 line (as written by AppendNDJSON or any
// other writer of banking events) into an Event. A missing schema defaults to
// the newest the model knows (2 for FeeCharged, else 1). For FeeCharged at
// schema 1 the amount is read from "value", as the model's upcast rule does;
// the Event keeps Schema 1, so AppendNDJSON writes the line back the same way.
func ParseNDJSONLine(line []byte) (Event, error) {
	if isBlank(line) {
		return Event{}, ErrBlankLine
	}
	var w wireEvent
	if err := json.Unmarshal(line, &w); err != nil {
		return Event{}, err
	}
	if w.Stream == "" {
		return Event{}, errors.New("missing stream")
	}
	if w.Type == "" {
		return Event{}, errors.New("missing type")
	}
	e := Event{Stream: w.Stream, Type: w.Type, Actor: w.Meta.Actor}
	if w.Schema != nil {
		if *w.Schema < 1 {
			return Event{}, fmt.Errorf("schema %d < 1", *w.Schema)
		}
		e.Schema = *w.Schema
	} else if w.Type == TypeFeeCharged {
		e.Schema = 2
	} else {
		e.Schema = 1
	}
	if w.Meta.Time != "" {
		t, err := time.Parse(time.RFC3339, w.Meta.Time)
		if err != nil {
			return Event{}, fmt.Errorf("meta.time: %w", err)
		}
		e.Time = t
	}
	if len(w.Data) > 0 && string(w.Data) != "null" {
		var d wireData
		if err := json.Unmarshal(w.Data, &d); err != nil {
			return Event{}, fmt.Errorf("data: %w", err)
		}
		e.Data.Owner = d.Owner
		amount := d.Amount
		if w.Type == TypeFeeCharged && e.Schema == 1 {
			amount = d.Value
		}
		if amount != nil {
			e.Data.Amount = *amount
		}
	}
	return e, nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// ReadNDJSON reads a whole NDJSON stream of banking events, skipping blank
// lines. A bad line is reported as "line N: <reason>".
func ReadNDJSON(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var out []Event
	for n := 1; sc.Scan(); n++ {
		e, err := ParseNDJSONLine(sc.Bytes())
		if errors.Is(err, ErrBlankLine) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
