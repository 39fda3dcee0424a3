package object

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
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

// An integer beyond 64 bits is refused when its canonical form (the
// shortest float64 that round-trips) would say another number, never
// rounded; one whose canonical form says the same number is kept so, and
// a canonical text reads back as itself. Found by a helper's audit:
// 123456789012345678901234567890 was stored as 1.2345678901234568e+29.
func TestCanonicalJSONRefusesRoundedIntegers(t *testing.T) {
	for _, in := range []string{"123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", `{"a":[1,99999999999999999999]}`} {
		_, err := CanonicalJSON([]byte(in))
		if !errors.Is(err, ErrJSON) || !strings.Contains(err.Error(), "does not fit in 64 bits") {
			t.Errorf("%s: %v, want refused", in, err)
		}
	}
	for in, want := range map[string]string{
		"18446744073709551615": "18446744073709551615", "-9223372036854775808": "-9223372036854775808",
		"18446744073709552000": "18446744073709552000", "1000000000000000000000": "1e+21",
		"123456789012345678901234567890e0": "1.2345678901234568e+29", "1.8446744073709552e19": "18446744073709552000",
	} {
		got, err := CanonicalJSON([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
			continue
		}
		if again, err := CanonicalJSON(got); err != nil || string(again) != want {
			t.Errorf("%s read back: %s, %v", want, again, err)
		}
	}
}

// A whole number written with a fraction or an exponent is exact up to 64
// bits, as its integer text is, never rounded through float64. Found by a
// helper's audit: 9007199254740993.0 was stored as 9007199254740992.
func TestCanonicalJSONKeepsWholeFloatsExact(t *testing.T) {
	for in, want := range map[string]string{
		"9007199254740993.0": "9007199254740993", "9007199254740993e0": "9007199254740993",
		"12345678901234567890.0": "12345678901234567890", "-9223372036854775807.00": "-9223372036854775807",
		"900719925474099.3e1": "9007199254740993", "1.5": "1.5", "1.0": "1", "1e3": "1000",
		"9007199254740992.5": "9007199254740992", // not whole: a float
	} {
		got, err := CanonicalJSON([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
		v, err := DecodeJSON([]byte(in))
		if err != nil {
			t.Errorf("%s: decode: %v", in, err)
			continue
		}
		if enc, err := EncodeJSON(v); err != nil || string(enc) != want {
			t.Errorf("%s: decoded as %#v, encodes %s, %v; want %s", in, v, enc, err, want)
		}
	}
}
