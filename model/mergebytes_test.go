package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The merge on bytes gives what the merge on decoded values gives, and
// takes the plain canonical JSON that folds meet nearly always.
func TestMergeCanonical(t *testing.T) {
	cases := [][2]string{
		{``, `{"amount":5}`},
		{`null`, `{"a":1,"b":null}`},
		{`{"amount":5}`, `{"amount":7}`},
		{`{"a":1,"c":3}`, `{"b":2}`},
		{`{"a":1,"b":2,"c":3}`, `{"b":null}`},
		{`{"a":{"x":1,"y":2}}`, `{"a":{"y":null,"z":3}}`},
		{`{"a":5}`, `{"a":{"b":null,"c":{"d":null}}}`},
		{`{"a":null}`, `{"b":true}`},
		{`[1,2]`, `{"a":[null,{"b":null}]}`},
		{`{"a":1}`, `[1,"x"]`},
		{`"s"`, `7`},
		{`{"a":1}`, `{}`},
		{`{}`, `{"z":-12,"é":"ü"}`},
		{`{"owner":"Ann","balance":0}`, `{"balance":10}`}, // out of order: not canonical
	}
	for _, c := range cases {
		want, err := MergePatch([]byte(c[0]), []byte(c[1]))
		require.NoError(t, err, c)
		got, ok := mergeCanonical([]byte(c[0]), []byte(c[1]))
		if c[0] == `{"owner":"Ann","balance":0}` {
			assert.False(t, ok, "a state whose keys are out of order takes the decoding path")
			continue
		}
		require.True(t, ok, "plain canonical JSON: %q", c)
		assert.Equal(t, string(want), string(got), "%q", c)
	}
	for _, c := range [][2]string{
		{`{"a":1}`, `{"a":1.5}`}, {`{"a":1}`, `{"a":"\n"}`}, {`{"a":1}`, `{"a":1e3}`},
		{`{"a":1}`, `{"a":-0}`}, {`{"a":1}`, `{"a":1234567890123456789}`}, {`{"a":1}`, `{ "a":1}`},
		{`{"a":1}`, `{"a":1,"a":2}`}, {`{"a":1}`, ``}, {`{"a":`, `{"a":1}`}, {"{\"a\":\"\xff\"}", `{"b":1}`},
	} {
		_, ok := mergeCanonical([]byte(c[0]), []byte(c[1]))
		assert.False(t, ok, "%q takes the decoding path", c)
	}
}

// FuzzMergeCanonical: wherever the merge on bytes answers, its answer is
// the decoding merge's, byte for byte, and Apply with no rules agrees.
func FuzzMergeCanonical(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1,"c":3}`, `{"b":2}`}, {`{"a":{"x":1}}`, `{"a":{"x":null,"y":[1,{"z":null}]}}`},
		{``, `{"amount":5}`}, {`[1]`, `{"a":null}`}, {`{"a":"b"}`, `"c"`}, {`{"a":true}`, `{"a":false,"b":null}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, state, patch []byte) {
		got, ok := mergeCanonical(state, patch)
		if !ok {
			return
		}
		want, err := MergePatch(state, patch)
		if err != nil {
			t.Fatalf("bytes merged %q onto %q, but decoding refuses them: %v", patch, state, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%q onto %q: bytes give %q, decoding %q", patch, state, got, want)
		}
		var m *Model
		applied, err := m.Apply("s", state, Event{Type: "T", Data: patch})
		if err != nil || string(applied) != string(want) {
			t.Fatalf("Apply gave %q (%v), want %q", applied, err, want)
		}
	})
}
