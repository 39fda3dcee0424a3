package evgit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

// EventInput is an event to append, as SPEC §2 writes it.
type EventInput struct {
	Stream string            `json:"stream"`           // the stream's name; required (SPEC §2 says which are valid; checkout refuses a full checkout of one whose file macOS or Windows would put in the repository's folder, such as x/.EVGIT/y)
	Type   string            `json:"type"`             // the event's type; required, [A-Za-z_][A-Za-z0-9_.:-]*
	Data   json.RawMessage   `json:"data,omitempty"`   // any JSON, at most 64 MiB and 512 levels deep; {} when empty
	Schema int               `json:"schema,omitempty"` // 0: the model's newest for the type
	Meta   map[string]string `json:"meta,omitempty"`   // time and actor default to the commit's
}

// CommitHeader is the "commit" object export writes on the first line of
// each commit, so import reproduces the commit exactly.
//
// Its JSON encoding, fields in this order, is hashed into the import keys
// a repository stores (docs/format.md §6.4): reordering, renaming or adding
// a field changes the keys, and an import would no longer find what an
// earlier one landed by them.
type CommitHeader struct {
	ID             string   `json:"id,omitempty"`              // the commit's hex ID where it was exported from; empty: none declared
	Message        string   `json:"message"`                   // the commit message
	Actor          string   `json:"actor"`                     // the commit's actor, when HasActor; else the import's is used
	Time           string   `json:"time"`                      // the commit time, RFC 3339; empty: the first event's meta.time, else now
	IdempotencyKey string   `json:"idempotency_key,omitempty"` // the commit's idempotency key; empty: none
	Reverts        []string `json:"reverts,omitempty"`         // hex IDs of the commits this one compensates
	// actorSet says the header names an actor, "" included: one that
	// names none takes the import's actor, as a line without a header
	// does.
	actorSet bool
}

// HasActor reports whether the header names its actor; when it does
// not, the commit's actor is the import's.
func (h *CommitHeader) HasActor() bool { return h.actorSet }

// InputLine is one NDJSON line: an event, and for the first line of an
// exported commit, its header.
type InputLine struct {
	Event  EventInput    // the event the line holds
	Commit *CommitHeader // the line's commit header; nil when it has none or headers are not allowed
	Line   int           // the line's number in the input, from 1; 0 from ParseLine
	data   []byte        // Event.Data in canonical form
	enc    *encodedEvent // the event encoded ahead (import), or nil
	raw    []byte        // the line without surrounding space, and a newline (import), or nil
}

// ParseLine parses and checks one NDJSON event line; allowCommit accepts
// the "commit" header export writes. A bad line is an error matching
// ErrInvalid.
func ParseLine(b []byte, allowCommit bool) (InputLine, error) {
	in, err := parseLine(b, allowCommit)
	if err != nil {
		return in, invalidWrap(err)
	}
	return in, nil
}

// parseLine is ParseLine, for callers that say which line it was.
func parseLine(b []byte, allowCommit bool) (InputLine, error) {
	in, err := parseLineAs(b, allowCommit)
	if err != nil {
		// Say what a file saved by an editor often holds, which the
		// parser's message would leave a user to guess (a helper's audit).
		switch {
		case bytes.HasPrefix(b, []byte("\xef\xbb\xbf")):
			return in, errors.New("the line starts with a UTF-8 byte-order mark; save the file without one")
		case bytes.HasPrefix(b, []byte("\xff\xfe")), bytes.HasPrefix(b, []byte("\xfe\xff")):
			return in, errors.New("the file is UTF-16; evgit reads UTF-8 NDJSON")
		case bytes.Contains(b, []byte("}\r{")):
			return in, fmt.Errorf("%w (lines end in CR alone; evgit splits lines at LF)", err)
		}
	}
	return in, err
}

func parseLineAs(b []byte, allowCommit bool) (InputLine, error) {
	var in InputLine
	var seen [6]bool // stream, type, data, schema, meta, commit
	err := object.ObjectMembers(b, func(key string, v []byte) error {
		field := -1
		switch key {
		case "stream", "type":
			field = 0
			dst := &in.Event.Stream
			if key == "type" {
				field, dst = 1, &in.Event.Type
			}
			s, ok := object.UnquoteJSON(v)
			if !ok {
				return fmt.Errorf("%q must be a string", key)
			}
			*dst = s
		case "data":
			field = 2
			in.data = slices.Clone(v)
			in.Event.Data = in.data
		case "schema":
			field = 3
			if string(v) == "null" {
				break
			}
			n, err := strconv.ParseInt(string(v), 10, 32)
			if err != nil || n < 1 {
				return fmt.Errorf("schema must be an integer from 1 to %d, not %s", object.MaxSchema, v)
			}
			in.Event.Schema = int(n)
		case "meta":
			field = 4
			if string(v) == "null" {
				break
			}
			meta := map[string]string{}
			err := object.ObjectMembers(v, func(k string, mv []byte) error {
				s, ok := object.UnquoteJSON(mv)
				if !ok {
					return fmt.Errorf("meta.%s must be a string", k)
				}
				meta[k] = s
				return nil
			})
			if err != nil {
				if errors.Is(err, object.ErrJSON) {
					return fmt.Errorf("meta must be an object of strings")
				}
				return err
			}
			in.Event.Meta = meta
		case "commit":
			field = 5
			if !allowCommit {
				// An exported line read as plain events: its commit
				// header has no meaning here, but one that is no
				// header at all (5, a string) is a mistake, as import
				// says (a helper's audit: commit -f took it).
				if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
					return fmt.Errorf("bad \"commit\": want an object, not %s", jsonValueWord(t))
				}
				break
			}
			var h CommitHeader
			d := json.NewDecoder(bytes.NewReader(v))
			d.DisallowUnknownFields()
			if err := d.Decode(&h); err != nil {
				var te *json.UnmarshalTypeError
				switch {
				case errors.As(err, &te) && te.Field != "":
					// Name the field as the input does, not as Go does.
					return fmt.Errorf("bad \"commit\": %s: want %s, not %s", te.Field, jsonKind(te.Type.Kind()), te.Value)
				case te != nil:
					return fmt.Errorf("bad \"commit\": want an object, not %s", te.Value)
				}
				// encoding/json says "json: unknown field ..."; the
				// input's own words are without the package's name.
				return fmt.Errorf("bad \"commit\": %s", strings.TrimPrefix(err.Error(), "json: "))
			}
			if string(bytes.TrimSpace(v)) == "null" {
				return fmt.Errorf("bad \"commit\": want an object, not null")
			}
			keyGiven := false
			_ = object.ObjectMembers(v, func(k string, _ []byte) error {
				h.actorSet = h.actorSet || k == "actor"
				keyGiven = keyGiven || k == "idempotency_key"
				return nil
			})
			// As commit refuses --idempotency-key "": a key given
			// empty (or null) is a mistake, and no key is left out.
			if keyGiven && h.IdempotencyKey == "" {
				return fmt.Errorf("bad \"commit\": idempotency_key: empty, want a value (leave it out for none)")
			}
			for _, t := range []struct {
				what string
				n    int
			}{{"message", len(h.Message)}, {"actor", len(h.Actor)}, {"idempotency_key", len(h.IdempotencyKey)}} {
				if err := textSizeError(t.what, t.n); err != nil {
					return fmt.Errorf("bad \"commit\": %w", err)
				}
			}
			in.Commit = &h
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[field] {
			return fmt.Errorf("duplicate field %q", key)
		}
		seen[field] = true
		return nil
	})
	if err != nil {
		if errors.Is(err, object.ErrJSON) {
			return in, fmt.Errorf("%v", err)
		}
		return in, err
	}
	if !seen[0] {
		return in, fmt.Errorf("missing \"stream\"")
	}
	if !seen[1] {
		return in, fmt.Errorf("missing \"type\"")
	}
	if err := checkNames(&in.Event); err != nil {
		return in, err
	}
	if in.data == nil {
		in.data = []byte("{}")
	}
	if len(in.data) > maxEventData {
		// Canonical, as stored: an import took data that commit
		// refused, whose export then did not import (a helper's audit).
		return in, dataTooLarge(len(in.data))
	}
	return in, nil
}

// checkNames validates an input event's stream, type, schema and time.
func checkNames(e *EventInput) error {
	if err := object.ValidateStream(e.Stream); err != nil {
		return err
	}
	if err := object.ValidateType(e.Type); err != nil {
		return err
	}
	if e.Schema < 0 || e.Schema > object.MaxSchema {
		return fmt.Errorf("schema must be from 1 to %d, not %d", object.MaxSchema, e.Schema)
	}
	if t, ok := e.Meta["time"]; ok {
		if _, err := walk.ParseRFC3339(t); err != nil {
			return fmt.Errorf("meta.time %q is not RFC 3339", t)
		}
	}
	if a, ok := e.Meta["actor"]; ok && strings.ContainsFunc(a, unicode.IsControl) {
		return fmt.Errorf("meta.actor %q: want no control characters, as a commit's actor", a)
	}
	// Bounded as a commit's actor is, and the rest of the meta together:
	// a commit fills in its time and actor, so an exported event holds
	// them whatever it was given.
	n := 0
	for k, v := range e.Meta {
		if k != "time" && k != "actor" {
			n += len(k) + len(v)
		}
	}
	if err := textSizeError("meta.actor", len(e.Meta["actor"])); err != nil {
		return err
	}
	if n > maxText {
		return fmt.Errorf("meta: %d bytes besides its time and actor, more than the %d MiB it may hold", n, maxText>>20)
	}
	return nil
}

// checkEvent validates an input event and returns its canonical data.
func checkEvent(e *EventInput) ([]byte, error) {
	if err := checkNames(e); err != nil {
		return nil, err
	}
	if len(e.Data) > maxInputLine {
		// Not canonicalized to be measured: what is given may hold no
		// more than a line may.
		return nil, fmt.Errorf("data: %d MiB as given, more than the %d MiB a line may hold", len(e.Data)>>20, maxInputLine>>20)
	}
	// A program's meta, unlike a parsed line's, may hold any bytes:
	// export writes it as JSON, which would replace bytes that are not
	// UTF-8, and the import of that export would make other events.
	for k, v := range e.Meta {
		switch {
		case !utf8.ValidString(k):
			return nil, fmt.Errorf("meta key %q: want UTF-8", k)
		case !utf8.ValidString(v):
			return nil, fmt.Errorf("meta.%s %q: want UTF-8", k, v)
		}
	}
	if len(bytes.TrimSpace(e.Data)) == 0 {
		return []byte("{}"), nil
	}
	data := e.Data // canonical already, as a program's data mostly is
	if !object.IsPlainCanonical(data) {
		var err error
		if data, err = object.CanonicalJSON(e.Data); err != nil {
			return nil, fmt.Errorf("data: %v", err)
		}
	}
	// Measured canonical, as it is stored and exported: canonical JSON
	// may be longer than what was given (1e18 is 1000000000000000000).
	if len(data) > maxEventData {
		return nil, dataTooLarge(len(data))
	}
	return data, nil
}

// dataTooLarge refuses an event's data of n bytes: in MiB, or in bytes
// when so few past the limit that MiB would not tell them apart.
func dataTooLarge(n int) error {
	size := fmt.Sprintf("%d MiB", n>>20)
	if n>>20 <= maxEventData>>20 {
		size = fmt.Sprintf("%d bytes", n)
	}
	return fmt.Errorf("data: %s, more than the %d MiB an event may hold", size, maxEventData>>20)
}

// ReadLines reads NDJSON from r, skipping blank lines; a bad line is
// reported as "line N: reason" and nothing is returned.
func ReadLines(r io.Reader, allowCommit bool) ([]InputLine, error) {
	var out []InputLine
	err := ScanLines(r, allowCommit, func(l InputLine) error {
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ScanLines calls fn for each line of NDJSON read from r, in order, as it
// reads them: the lines before a bad one have been given to fn when it
// returns the bad line's error ("line N: reason"). An error fn returns
// stops the scan and is returned.
func ScanLines(r io.Reader, allowCommit bool, fn func(InputLine) error) error {
	return scanRaw(r, func(n int, b []byte) error {
		l, err := parseLine(b, allowCommit)
		if err != nil {
			return invalidf("line %d: %v", n, err)
		}
		l.Line = n
		return fn(l)
	})
}

// trimJSONSpace trims what JSON counts as white space from both ends.
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// scanRaw calls fn with each line read from r that is not blank, without
// its surrounding JSON white space (RFC 8259: space, tab, CR, LF; not a
// vertical tab or a no-break space, which make the line invalid JSON),
// and its number from 1; b is valid only during the call.
//
// A last line without a newline is taken only once the input ended
// cleanly: a read that fails in the middle of a line is a read error, not
// a line of bad JSON.
func scanRaw(r io.Reader, fn func(n int, b []byte) error) error {
	if r == nil {
		return invalidf("no input to read")
	}
	sc := bufio.NewScanner(r)
	// Room for the line's CR and LF too: a line of exactly maxInputLine
	// bytes is taken (it was refused), a longer one refused below.
	sc.Buffer(make([]byte, 0, 1<<20), maxInputLine+2)
	var unterminated []byte // the last line, when no newline ended it
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		advance, token, err := bufio.ScanLines(data, atEOF)
		if atEOF && token != nil && advance == len(data) && data[len(data)-1] != '\n' {
			unterminated = token
		}
		return advance, token, err
	})
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) > maxInputLine {
			return lineTooLong(n)
		}
		if unterminated != nil {
			unterminated = slices.Clone(sc.Bytes()) // taken below, if the input ended well
			break
		}
		b := trimJSONSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return err
		}
	}
	if unterminated != nil && !sc.Scan() && sc.Err() == nil {
		if b := trimJSONSpace(unterminated); len(b) > 0 {
			return fn(n, b)
		}
		return nil
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return lineTooLong(n + 1)
	case err != nil:
		return fmt.Errorf("reading the input: %w", err) // not the line's fault
	}
	return nil
}

// lineTooLong refuses input line n.
func lineTooLong(n int) error {
	return invalidf("line %d: longer than %d MiB, the most a line may hold", n, maxInputLine>>20)
}

// maxEventData is the most bytes an event's data may hold, canonical, as
// it is stored; maxInputLine the most an input line may: twice as much,
// so that the line export writes for an event of the most data, with its
// meta and its commit's header, imports again (at 64 MiB each, such a
// line did not: a helper's audit).
const (
	maxEventData = 64 << 20
	maxInputLine = 128 << 20
)

// jsonValueWord names the kind of a JSON value (valid, not empty) in the
// words encoding/json's type errors use ("want an object, not number"),
// so that commit -f and import refuse a header alike.
func jsonValueWord(v []byte) string {
	switch v[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	case 'n':
		return "null"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// jsonKind names a Go kind as JSON names its values, for messages.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "true or false"
	default:
		return "a number"
	}
}
