package model

import (
	"testing"

	"github.com/evgit/evgit/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func canonical(t testing.TB, s string) string {
	t.Helper()
	c, err := object.CanonicalJSON([]byte(s))
	require.NoError(t, err)
	return string(c)
}

// TestMergePatchRFC7386 runs the examples of RFC 7386, section 3 and
// appendix A.
func TestMergePatchRFC7386(t *testing.T) {
	tests := []struct {
		name, target, patch, want string
	}{
		{"section 3",
			`{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`},
		{"A.1 replace", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.2 add", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"A.3 remove", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"A.4 remove one", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"A.5 array to string", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.6 string to array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"A.7 nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"A.8 array of objects", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"A.9 arrays", `["a","b"]`, `["c","d"]`, `["c","d"]`},
		{"A.10 object to array", `{"a":"b"}`, `["c"]`, `["c"]`},
		{"A.11 null patch", `{"a":"foo"}`, `null`, `null`},
		{"A.12 string patch", `{"a":"foo"}`, `"bar"`, `"bar"`},
		{"A.13 null kept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{"A.14 array target", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{"A.15 deep nulls", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{"null target", `null`, `{"a":1}`, `{"a":1}`},
		{"empty target is null", ``, `{"a":{"b":null}}`, `{"a":{}}`},
		{"big integers exact", `{"a":9007199254740993}`, `{"b":18446744073709551615}`, `{"a":9007199254740993,"b":18446744073709551615}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergePatch([]byte(tt.target), []byte(tt.patch))
			require.NoError(t, err)
			assert.Equal(t, canonical(t, tt.want), string(got))
		})
	}
}

func TestMergePatchInvalid(t *testing.T) {
	_, err := MergePatch([]byte(`{`), []byte(`{}`))
	assert.ErrorIs(t, err, object.ErrJSON)
	_, err = MergePatch([]byte(`{}`), []byte(`{"a":}`))
	assert.ErrorIs(t, err, object.ErrJSON)
	_, err = MergePatch([]byte(`{}`), nil)
	assert.ErrorIs(t, err, object.ErrJSON)
	_, err = MergePatchInverse([]byte(`{}`), []byte(`nul`))
	assert.ErrorIs(t, err, object.ErrJSON)
}

func TestMergePatchInverse(t *testing.T) {
	tests := []struct {
		name    string
		before  string
		patch   string
		want    string
		wantErr string
	}{
		{name: "added field removed", before: `{"a":1}`, patch: `{"b":2}`, want: `{"b":null}`},
		{name: "changed field restored", before: `{"a":1}`, patch: `{"a":2}`, want: `{"a":1}`},
		{name: "removed field restored", before: `{"a":1,"b":[1,null]}`, patch: `{"b":null}`, want: `{"b":[1,null]}`},
		{name: "removing an absent field changes nothing", before: `{"a":1}`, patch: `{"z":null}`, want: `{}`},
		{name: "unchanged field left out", before: `{"a":1,"b":"x"}`, patch: `{"a":1,"b":"y"}`, want: `{"b":"x"}`},
		{name: "nested", before: `{"o":{"x":1,"y":2}}`, patch: `{"o":{"x":3,"z":4,"y":null}}`, want: `{"o":{"x":1,"y":2,"z":null}}`},
		{name: "nested unchanged", before: `{"o":{"x":1}}`, patch: `{"o":{"x":1}}`, want: `{}`},
		{name: "object replaced by scalar", before: `{"o":{"x":{"y":1}}}`, patch: `{"o":5}`, want: `{"o":{"x":{"y":1}}}`},
		{name: "scalar replaced by object", before: `{"o":5}`, patch: `{"o":{"x":1,"y":null}}`, want: `{"o":5}`},
		{name: "array replaced", before: `{"a":[1,2]}`, patch: `{"a":[3]}`, want: `{"a":[1,2]}`},
		{name: "new object removed", before: `{}`, patch: `{"o":{"x":null}}`, want: `{"o":null}`},
		{name: "untouched null is fine", before: `{"n":null,"a":1}`, patch: `{"a":2}`, want: `{"a":1}`},
		{name: "empty patch", before: `{"a":1}`, patch: `{}`, want: `{}`},
		{name: "big integers exact", before: `{"a":9007199254740993}`, patch: `{"a":18446744073709551615}`, want: `{"a":9007199254740993}`},

		{name: "before null: the event created the stream", before: `null`, patch: `{"a":1}`, wantErr: "created the stream"},
		{name: "before empty is null", before: ``, patch: `{"a":1}`, wantErr: "created the stream"},
		{name: "before an array", before: `[1]`, patch: `{"a":1}`, wantErr: "the state before the event was array, not an object"},
		{name: "before a string", before: `"s"`, patch: `{"a":1}`, wantErr: "was string, not an object"},
		{name: "patch not an object: the state before, whole", before: `{"a":1,"o":{"b":"x"}}`, patch: `[1]`, want: `{"a":1,"o":{"b":"x"}}`},
		{name: "patch null: the state before, whole", before: `{"a":1}`, patch: `null`, want: `{"a":1}`},
		{name: "patch not an object over a null member", before: `{"a":1,"o":{"n":null}}`, patch: `5`, wantErr: `field "o.n" held an explicit null`},
		{name: "patch not an object that created the stream", before: `null`, patch: `"s"`, wantErr: "the event created the stream"},
		{name: "patch not an object over an array", before: `[2]`, patch: `[1]`, wantErr: "the state before the event was array"},
		{name: "null overwritten", before: `{"n":null}`, patch: `{"n":1}`, wantErr: `field "n" held an explicit null`},
		{name: "null removed", before: `{"n":null}`, patch: `{"n":null}`, wantErr: `field "n" held an explicit null`},
		{name: "nested null overwritten", before: `{"o":{"n":null}}`, patch: `{"o":{"n":{"x":1}}}`, wantErr: `field "o.n" held an explicit null`},
		{name: "removed object holds null", before: `{"o":{"p":{"n":null}}}`, patch: `{"o":null}`, wantErr: `field "o.p.n" held an explicit null`},
		{name: "replaced object holds null", before: `{"o":{"n":null}}`, patch: `{"o":1}`, wantErr: `field "o.n" held an explicit null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := MergePatchInverse([]byte(tt.before), []byte(tt.patch))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrNoCompensation)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, canonical(t, tt.want), string(inv))

			// The round trip: apply the patch, then its inverse.
			after, err := MergePatch([]byte(tt.before), []byte(tt.patch))
			require.NoError(t, err)
			restored, err := MergePatch(after, inv)
			require.NoError(t, err)
			assert.Equal(t, canonical(t, tt.before), string(restored))
		})
	}
}
