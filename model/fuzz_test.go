package model

import (
	"errors"
	"os"
	"testing"

	"github.com/evgit/evgit/object"
)

// FuzzMergePatch checks that MergePatch and MergePatchInverse never panic,
// that MergePatch's output is canonical JSON, and that an inverse, where
// one exists, restores the state from before the patch.
func FuzzMergePatch(f *testing.F) {
	seeds := [][2]string{
		{`{"a":"b"}`, `{"a":"c"}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`},
		{`{"e":null}`, `{"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`},
		{`null`, `{"a":1}`},
		{``, `{"a":1}`},
		{`{"a":9007199254740993}`, `{"b":18446744073709551615,"c":1.5e300}`},
		{`{"o":{"x":1,"y":2}}`, `{"o":{"x":3,"y":null},"p":[null]}`},
		{`{"a":`, `{"a":1}`},
		{`{"a":1}`, `{"a":`},
		{`"s"`, `7`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, target, patch []byte) {
		after, err := MergePatch(target, patch)
		if err != nil {
			if !errors.Is(err, object.ErrJSON) {
				t.Fatalf("MergePatch error %v does not wrap ErrJSON", err)
			}
			return
		}
		c, err := object.CanonicalJSON(after)
		if err != nil || string(c) != string(after) {
			t.Fatalf("MergePatch gave %q, not canonical JSON (%v)", after, err)
		}
		inv, err := MergePatchInverse(target, patch)
		if err != nil {
			if !errors.Is(err, ErrNoCompensation) {
				t.Fatalf("MergePatchInverse error %v does not wrap ErrNoCompensation", err)
			}
			return
		}
		restored, err := MergePatch(after, inv)
		if err != nil {
			t.Fatal(err)
		}
		want, err := object.CanonicalJSON(target)
		if err != nil {
			t.Fatal(err)
		}
		if string(restored) != string(want) {
			t.Fatalf("patch %s then inverse %s gave %s, want %s", patch, inv, restored, want)
		}
	})
}

// FuzzParse checks that Parse never panics, that its errors wrap ErrModel,
// and that a model it accepts folds an event without panicking.
func FuzzParse(f *testing.F) {
	bank, err := os.ReadFile("testdata/bank.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bank)
	f.Add(bank[:len(bank)/2])
	f.Add([]byte(``))
	f.Add([]byte(`{"types":{"A":{"apply":{"x":"event.x + 1"}}}}`))
	f.Add([]byte("types:\n  A: &r { apply: { x: event.x } }\n  B: *r\n"))
	f.Add([]byte("upcast:\n  - { type: A, from: 1, to: 2, data: { x: event.y } }\n"))
	f.Add([]byte("types: { A: { require: ['state.x > 1'], revert: { type: B, data: { n: [1, {k: v}] } } } }"))
	f.Add([]byte("snapshot_every: -1"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := Parse(src)
		if err != nil {
			if !errors.Is(err, ErrModel) {
				t.Fatalf("Parse error %v does not wrap ErrModel", err)
			}
			return
		}
		for typ := range m.types {
			e := Event{Type: typ, Schema: 1, Data: []byte(`{"x":1,"amount":2}`)}
			state, _ := m.Apply("s", []byte(`{"x":1,"balance":3}`), e)
			_, _ = m.Compensate("s", state, e)
		}
	})
}
