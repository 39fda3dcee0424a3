package evgit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/evgit/evgit/object"
)

// EventInput is an event to append, as SPEC §2 writes it.
type EventInput struct {
	Stream string            `json:"stream"`
	Type   string            `json:"type"`
	Data   json.RawMessage   `json:"data,omitempty"`   // any JSON; {} when empty
	Schema int               `json:"schema,omitempty"` // 0: the model's newest for the type
	Meta   map[string]string `json:"meta,omitempty"`   // time and actor default to the commit's
}

// CommitHeader is the "commit" object export writes on the first line of
// each commit, so import reproduces the commit exactly.
type CommitHeader struct {
	ID             string   `json:"id,omitempty"`
	Message        string   `json:"message"`
	Actor          string   `json:"actor"`
	Time           string   `json:"time"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
	Reverts        []string `json:"reverts,omitempty"`
}

// InputLine is one NDJSON line: an event, and for the first line of an
// exported commit, its header.
type InputLine struct {
	Event  EventInput
	Commit *CommitHeader
	Line   int
	data   []byte // Event.Data in canonical form
}

type wireLine struct {
	Stream *string          `json:"stream"`
	Type   *string          `json:"type"`
	Data   json.RawMessage  `json:"data"`
	Schema json.RawMessage  `json:"schema"`
	Meta   json.RawMessage  `json:"meta"`
	Commit *json.RawMessage `json:"commit"`
}

// ParseLine parses and checks one NDJSON event line; allowCommit accepts
// the "commit" header export writes.
func ParseLine(b []byte, allowCommit bool) (InputLine, error) {
	var w wireLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return InputLine{}, fmt.Errorf("invalid JSON: %v", jsonErr(err))
	}
	if dec.More() {
		return InputLine{}, fmt.Errorf("invalid JSON: more than one value on the line")
	}
	var in InputLine
	if w.Stream == nil {
		return in, fmt.Errorf("missing \"stream\"")
	}
	if w.Type == nil {
		return in, fmt.Errorf("missing \"type\"")
	}
	in.Event.Stream, in.Event.Type = *w.Stream, *w.Type
	in.Event.Data = w.Data
	if len(w.Schema) > 0 && string(w.Schema) != "null" {
		n, err := strconv.ParseInt(string(w.Schema), 10, 32)
		if err != nil || n < 1 {
			return in, fmt.Errorf("schema must be an integer >= 1, not %s", w.Schema)
		}
		in.Event.Schema = int(n)
	}
	if len(w.Meta) > 0 && string(w.Meta) != "null" {
		if err := json.Unmarshal(w.Meta, &in.Event.Meta); err != nil {
			return in, fmt.Errorf("meta must be an object of strings")
		}
	}
	if w.Commit != nil {
		if !allowCommit {
			return in, fmt.Errorf("unexpected \"commit\"")
		}
		var h CommitHeader
		d := json.NewDecoder(bytes.NewReader(*w.Commit))
		d.DisallowUnknownFields()
		if err := d.Decode(&h); err != nil {
			return in, fmt.Errorf("bad \"commit\": %v", jsonErr(err))
		}
		in.Commit = &h
	}
	data, err := checkEvent(&in.Event)
	if err != nil {
		return in, err
	}
	in.data = data
	return in, nil
}

func jsonErr(err error) string {
	if err == io.EOF {
		return "empty"
	}
	return err.Error()
}

// checkEvent validates an input event and returns its canonical data.
func checkEvent(e *EventInput) ([]byte, error) {
	if err := object.ValidateStream(e.Stream); err != nil {
		return nil, err
	}
	if err := object.ValidateType(e.Type); err != nil {
		return nil, err
	}
	if e.Schema < 0 {
		return nil, fmt.Errorf("schema must be >= 1")
	}
	if t, ok := e.Meta["time"]; ok {
		if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
			return nil, fmt.Errorf("meta.time %q is not RFC 3339", t)
		}
	}
	if len(bytes.TrimSpace(e.Data)) == 0 {
		return []byte("{}"), nil
	}
	data, err := object.CanonicalJSON(e.Data)
	if err != nil {
		return nil, fmt.Errorf("data: %v", err)
	}
	return data, nil
}

// ReadLines reads NDJSON from r, skipping blank lines; a bad line is
// reported as "line N: reason" and nothing is returned.
func ReadLines(r io.Reader, allowCommit bool) ([]InputLine, error) {
	var out []InputLine
	err := ScanLines(r, allowCommit, func(l InputLine) error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// ScanLines calls fn for each line of NDJSON read from r.
func ScanLines(r io.Reader, allowCommit bool, fn func(InputLine) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		l, err := ParseLine(b, allowCommit)
		if err != nil {
			return invalidf("line %d: %v", n, err)
		}
		l.Line = n
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}
