package object

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Objects of every size up to and past the ones gathered before their map
// is made decode whole, and a repeated key is refused wherever it comes.
func TestDecodeJSONObjectSizes(t *testing.T) {
	object := func(keys []string) string {
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%d", k, i)
		}
		b.WriteByte('}')
		return b.String()
	}
	for n := 0; n <= 3*smallObject; n++ {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("k%02d", i))
		}
		v, err := DecodeJSON([]byte(object(keys)))
		require.NoError(t, err, "%d members", n)
		m := v.(map[string]any)
		require.Len(t, m, n)
		for i, k := range keys {
			assert.Equal(t, int64(i), m[k])
		}
		for first := 0; first < n; first++ {
			for _, at := range []int{first + 1, n} {
				dup := append(append(append([]string{}, keys[:at]...), keys[first]), keys[at:]...)
				_, err := DecodeJSON([]byte(object(dup)))
				require.ErrorIs(t, err, ErrJSON, "key %d repeated at %d of %d", first, at, n+1)
				assert.Contains(t, err.Error(), "duplicate key")
			}
		}
	}
}

// Keys read from the shared table are the keys written, escapes and all.
func TestDecodeJSONKeys(t *testing.T) {
	for _, raw := range []string{`{"balance":1}`, `{"bal\u0061nce":2}`, `{"b\"q":3}`, `{"é":4}`,
		`{"` + strings.Repeat("x", 40) + `":5}`, `{"balance":6,"balancf":7}`} {
		v, err := DecodeJSON([]byte(raw))
		require.NoError(t, err, raw)
		again, err := EncodeJSON(v)
		require.NoError(t, err)
		want, err := CanonicalJSON([]byte(raw))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(again), raw)
	}
	_, err := DecodeJSON([]byte("{\"\xff\":1}"))
	require.ErrorIs(t, err, ErrJSON, "invalid UTF-8 in a key")
}

// A float that holds an integer past 2^53 encodes as CanonicalJSON writes
// the same number: one canonical form, whichever path made it.
func TestEncodeJSONIntegralFloat(t *testing.T) {
	for _, raw := range []string{"70000000000000010.0", "1e20", "123.0", "-4.0e2", "9007199254740993.0"} {
		v, err := DecodeJSON([]byte(raw))
		require.NoError(t, err)
		enc, err := EncodeJSON(v)
		require.NoError(t, err)
		want, err := CanonicalJSON([]byte(raw))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(enc), raw)
	}
}

// PlainMembers walks what IsPlainCanonical accepts, and stops, without
// failing, on bytes it does not.
func TestPlainMembers(t *testing.T) {
	m := NewPlainMembers([]byte(`{"a":1,"b":{"c":[true,null]},"d":"x"}`))
	var keys []string
	for k, v, ok := m.Next(); ok; k, v, ok = m.Next() {
		keys = append(keys, string(k)+"="+string(v))
	}
	assert.Equal(t, []string{"a=1", `b={"c":[true,null]}`, `d="x"`}, keys)
	for _, bad := range []string{`{`, `{"a"`, `{"a":`, `{"a":1`, `{"a" :1}`, `{"a":1.5}`, `{"\n":1}`, `{"a":1,`} {
		m := NewPlainMembers([]byte(bad))
		for range 4 {
			m.Next()
		}
	}
}

// IsPlainCanonical checks UTF-8 in strings, keys and values, and only
// there: ASCII strings skip the check (scanString), the others take it.
func TestIsPlainCanonicalUTF8(t *testing.T) {
	for _, s := range []string{"{\"a\":\"\xff\"}", "{\"\xc3\":1}", "{\"a\":[\"ok\",\"\xed\xa0\x80\"]}", "{\"a\":\"é\xff\"}"} {
		assert.False(t, IsPlainCanonical([]byte(s)), "%q", s)
	}
	for _, s := range []string{`{"a":"é"}`, `{"é":"x"}`, `{"a":["ok","日本"]}`, `{"a":"plain ascii"}`} {
		assert.True(t, IsPlainCanonical([]byte(s)), "%q", s)
	}
}

// ObjectMembers gives each member's value in canonical form, whether it
// is written plain (passed as written) or not (canonicalized), and the
// bytes it passed for one member stay right when the next is parsed.
func TestObjectMembersCanonical(t *testing.T) {
	raw := `{ "plain":{"a":1,"b":"x"}, "sorted" : {"b":2, "a":1}, "esc":"\u0041", "n":1.50, "s":"ok", "e":[ 1 ,2] }`
	var got []string
	err := ObjectMembers([]byte(raw), func(k string, v []byte) error {
		got = append(got, k+"="+string(v))
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{`plain={"a":1,"b":"x"}`, `sorted={"a":1,"b":2}`, `esc="A"`, `n=1.5`, `s="ok"`, `e=[1,2]`}, got)
	for _, bad := range []string{`{"a":1,"a":{"x":1,"x":2}}`, `{"a":"\xff"}`, `{"a":1}x`, `{"a":[1,]}`, `[1]`} {
		err := ObjectMembers([]byte(bad), func(string, []byte) error { return nil })
		assert.ErrorIs(t, err, ErrJSON, bad)
	}
}

// Strings and keys that start as ASCII and then hold bytes that are not
// UTF-8 are refused: the ASCII fast path checks what it skipped.
func TestJSONStringUTF8AfterASCII(t *testing.T) {
	for _, bad := range []string{"\"abc\xff\"", "{\"abc\xff\":1}", "{\"k\":\"abc\xc3\"}", "{\"a\\n\":\"x\xff\"}"} {
		_, err := CanonicalJSON([]byte(bad))
		assert.ErrorIs(t, err, ErrJSON, "%q", bad)
		_, err = DecodeJSON([]byte(bad))
		assert.ErrorIs(t, err, ErrJSON, "%q", bad)
	}
	s, ok := UnquoteJSON([]byte("\"abc\xff\""))
	assert.False(t, ok, "%q", s)
}
