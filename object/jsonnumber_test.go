package object

import (
	"encoding/json"
	"strconv"
	"testing"
)

// FuzzDecodeJSONNumbers: numbers decode to int64 when they are integers
// that fit, as strconv reads them, whether or not they take the fast
// path, and invalid numbers are refused as encoding/json refuses them.
func FuzzDecodeJSONNumbers(f *testing.F) {
	for _, s := range []string{"0", "-0", "7", "-12", "123456789012345678", "1234567890123456789",
		"-9223372036854775808", "9223372036854775808", "01", "-", "1.5", "1e3", "-0.0", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeJSON([]byte(s))
		if !json.Valid([]byte(s)) {
			if err == nil {
				t.Fatalf("%q decoded to %v, but is not JSON", s, v)
			}
			return
		}
		if err != nil {
			return // valid JSON this decoder refuses (deep nesting and the like)
		}
		if i, perr := strconv.ParseInt(s, 10, 64); perr == nil {
			if got, ok := v.(int64); !ok || got != i {
				t.Fatalf("%q decoded to %#v, want int64 %d", s, v, i)
			}
		}
	})
}
