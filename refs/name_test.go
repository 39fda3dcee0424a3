package refs

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckRefName(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string // substring of the error; "" means valid
	}{
		{name: "branch", input: "refs/heads/main"},
		{name: "tag", input: "refs/tags/v1.0"},
		{name: "nested", input: "refs/heads/feature/x-1_2"},
		{name: "HEAD", input: "HEAD"},
		{name: "non-ASCII", input: "refs/heads/café"},
		{name: "dot inside component", input: "refs/heads/a.b"},
		{name: "at sign alone in component", input: "refs/heads/@"},
		{name: "lock not at end", input: "refs/heads/a.lockx"},

		{name: "empty", input: "", wantErr: `invalid ref name "": empty`},
		{name: "at sign", input: "@", wantErr: `"@" is reserved`},
		{name: "one level", input: "main", wantErr: `has no "/"`},
		{name: "double dot", input: "refs/heads/a..b", wantErr: `invalid ref name "refs/heads/a..b": contains ".."`},
		{name: "component begins with dot", input: "refs/heads/.hidden", wantErr: `component ".hidden" begins with "."`},
		{name: "first component begins with dot", input: ".refs/heads/x", wantErr: `begins with "."`},
		{name: "lock suffix", input: "refs/heads/main.lock", wantErr: `ends with ".lock"`},
		{name: "lock suffix inner", input: "refs/heads/x.lock/y", wantErr: `component "x.lock" ends with ".lock"`},
		{name: "trailing dot", input: "refs/heads/main.", wantErr: `ends with "."`},
		{name: "trailing slash", input: "refs/heads/", wantErr: `ends with "/"`},
		{name: "leading slash", input: "/refs/heads/x", wantErr: `begins with "/"`},
		{name: "double slash", input: "refs//heads", wantErr: `contains "//"`},
		{name: "at brace", input: "refs/heads/a@{1}", wantErr: `contains "@{"`},
		{name: "space", input: "refs/heads/a b", wantErr: `contains ' '`},
		{name: "tab", input: "refs/heads/a\tb", wantErr: "control character"},
		{name: "NUL", input: "refs/heads/a\x00b", wantErr: "control character"},
		{name: "DEL", input: "refs/heads/a\x7fb", wantErr: "control character"},
		{name: "tilde", input: "refs/heads/a~1", wantErr: `contains '~'`},
		{name: "caret", input: "refs/heads/a^", wantErr: `contains '^'`},
		{name: "colon", input: "refs/heads/a:b", wantErr: `contains ':'`},
		{name: "question mark", input: "refs/heads/a?", wantErr: `contains '?'`},
		{name: "star", input: "refs/heads/*", wantErr: `contains '*'`},
		{name: "bracket", input: "refs/heads/[a", wantErr: `contains '['`},
		{name: "backslash", input: `refs\heads`, wantErr: `contains '\\'`},
		{name: "invalid UTF-8", input: "refs/heads/\xff", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRefName(tt.input)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidName)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "invalid ref name "), err.Error())
		})
	}
}

func TestCheckBranchAndTagName(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{name: "simple", input: "main"},
		{name: "nested", input: "feature/login"},
		{name: "version", input: "v1.2.3"},
		{name: "hex-looking", input: "abcd1234"},
		{name: "dash inside", input: "a-b"},

		{name: "empty", input: "", wantErr: `name "": empty`},
		{name: "leading dash", input: "-f", wantErr: `name "-f": begins with "-"`},
		{name: "HEAD", input: "HEAD", wantErr: `name "HEAD": "HEAD" is reserved`},
		{name: "double dot", input: "a..b", wantErr: `name "a..b": contains ".."`},
		{name: "leading dot", input: ".x", wantErr: `begins with "."`},
		{name: "lock", input: "x.lock", wantErr: `ends with ".lock"`},
		{name: "trailing slash", input: "x/", wantErr: `ends with "/"`},
		{name: "leading slash", input: "/x", wantErr: `begins with "/"`},
		{name: "at sign alone", input: "@", wantErr: `"@" is reserved`},
		{name: "at sign in a name", input: "a@b"},
		{name: "reflog syntax", input: "x@{1}", wantErr: `contains "@{"`},
		{name: "revision syntax", input: "x~1", wantErr: `contains '~'`},
		{name: "space", input: "my branch", wantErr: `contains ' '`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for kind, check := range map[string]func(string) error{"branch": CheckBranchName, "tag": CheckTagName} {
				err := check(tt.input)
				if tt.wantErr == "" {
					assert.NoError(t, err, kind)
					continue
				}
				require.Error(t, err, kind)
				assert.ErrorIs(t, err, ErrInvalidName, kind)
				assert.True(t, strings.HasPrefix(err.Error(), "invalid "+kind+" name "), err.Error())
				assert.Contains(t, err.Error(), tt.wantErr, kind)
			}
		})
	}
}

func FuzzCheckRefName(f *testing.F) {
	for _, s := range []string{
		"refs/heads/main", "HEAD", "@", "", "refs/heads/a..b", "refs/heads/x.lock",
		"refs//x", "refs/heads/", "refs/tags/v1@{2}", "refs/heads/\x00", "refs/heads/\xff",
		"main", "-x", ".x/y", "refs/heads/a b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := CheckRefName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %q does not match ErrInvalidName", err)
			}
			if !strings.HasPrefix(err.Error(), "invalid ref name ") {
				t.Fatalf("error %q does not name the problem", err)
			}
		} else {
			// A valid name obeys the rules that keep it safe as a path and
			// apart from revision syntax.
			if name != HEAD && !strings.Contains(name, "/") {
				t.Fatalf("%q accepted without a /", name)
			}
			if !utf8.ValidString(name) || strings.ContainsAny(name, " ~^:?*[\\") ||
				strings.Contains(name, "..") || strings.Contains(name, "@{") ||
				strings.Contains(name, "//") || strings.HasPrefix(name, "/") ||
				strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
				t.Fatalf("%q accepted", name)
			}
			for _, comp := range strings.Split(name, "/") {
				if comp == "" || strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock") {
					t.Fatalf("%q accepted with component %q", name, comp)
				}
			}
		}
		// A valid branch name always makes a valid full ref name.
		if CheckBranchName(name) == nil && CheckRefName(HeadsPrefix+name) != nil {
			t.Fatalf("branch %q accepted but %q rejected", name, HeadsPrefix+name)
		}
	})
}
