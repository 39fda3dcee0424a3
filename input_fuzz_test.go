package evgit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseLine: an input line never panics the parser; a bad one is an
// error matching ErrInvalid on one line (the CLI prints it as one); a
// good one passes the checks Append makes of a program's events (so
// `commit -f` and a Go program agree on what is an event), and reads
// back as the same event once written as JSON again.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"stream":"acc-1","type":"MoneyDeposited","data":{"amount":50}}`,
		`{"stream":"a/b","type":"T","schema":2,"meta":{"time":"2026-01-02T03:04:05Z","actor":"ann","k":"v"},"data":[1,2.5,"x"]}`,
		`{"stream":"s","type":"T","data":null,"schema":null,"meta":null}`,
		`{"stream":"s","type":"T","commit":{"message":"m","actor":"a","time":"2026-01-02T03:04:05Z","idempotency_key":"k","reverts":["00"]}}`,
		`{"stream":"s","type":"T","stream":"t"}`,
		`{"stream":"../x","type":"T"}`,
		`{"stream":"s","type":"T","meta":{"time":"yesterday"}}`,
		`{"stream":"s","type":"T","schema":0}`,
		`{"stream":"s","type":"T","data":{"a":1e400}}`,
		`[]`,
		"{\"stream\":\"s\",\"type\":\"T\",\"data\":\"\\\r\"}", // an invalid escape of a CR, printed raw until session 18
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, allowCommit bool) {
		l, err := ParseLine(line, allowCommit)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", line, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("%q: error %q is more than one line", line, err)
			}
			return
		}
		if l.Commit != nil && !allowCommit {
			t.Fatalf("%q: a commit header was taken where none is allowed", line)
		}
		ev := l.Event
		data, err := checkEvent(&ev)
		if err != nil {
			t.Fatalf("%q parses, but Append would refuse it: %v", line, err)
		}
		if !bytes.Equal(data, l.data) {
			t.Fatalf("%q: the line's data is %q, Append's canonical form %q", line, l.data, data)
		}
		again, err := json.Marshal(l.Event)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		l2, err := ParseLine(again, false)
		if err != nil {
			t.Fatalf("%q, written again as %q, does not parse: %v", line, again, err)
		}
		if !reflect.DeepEqual(comparable(l2.Event), comparable(l.Event)) || !bytes.Equal(l2.data, l.data) {
			t.Fatalf("%q, written again as %q, reads as another event: %+v, not %+v", line, again, l2.Event, l.Event)
		}
	})
}

// comparable is an input event as it means: its data is compared in
// canonical form, apart, and no meta is an empty one.
func comparable(e EventInput) EventInput {
	e.Data = nil
	if len(e.Meta) == 0 {
		e.Meta = nil
	}
	return e
}
