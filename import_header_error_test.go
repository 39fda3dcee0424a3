package evgit

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A bad commit header is a bad line (exit 1), reported even when a later
// event is refused by a rule (exit 4), as the bad lines the parser finds
// are. Found by a helper's audit.
func TestImportBadHeaderWinsOverALaterRefusal(t *testing.T) {
	ctx := context.Background()
	r := modelRepo(t, bankModelOpenOnce(t))
	in := `{"stream":"x","type":"T","commit":{"message":"m","time":"nope"}}
{"stream":"a","type":"AccountOpened","data":{"owner":"o"}}
{"stream":"a","type":"AccountOpened","data":{"owner":"o"}}
`
	_, err := r.Import(ctx, strings.NewReader(in), ImportOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid, "%v", err)
	assert.Contains(t, err.Error(), "line 1")
	_, err = r.Resolve(ctx, "HEAD")
	assert.Error(t, err, "nothing written: main has no commit")
}

// Read as plain events (commit -f), a line's header has no meaning and
// its contents are not looked at, but a "commit" that is no object is
// refused as import refuses it (a helper's audit: commit -f took
// "commit":5, which import refuses).
func TestPlainEventsRefuseAHeaderThatIsNoObject(t *testing.T) {
	for _, v := range []string{"5", `"x"`, "null", "[1]", "true"} {
		line := []byte(`{"stream":"a","type":"T","commit":` + v + `}`)
		_, plainErr := ParseLine(line, false)
		require.ErrorIs(t, plainErr, ErrInvalid, v)
		_, headerErr := ParseLine(line, true)
		require.ErrorIs(t, headerErr, ErrInvalid, v)
		assert.Equal(t, headerErr.Error(), plainErr.Error(), v)
	}
	_, err := ParseLine([]byte(`{"stream":"a","type":"T","commit":{"id":"zz","bogus":1}}`), false)
	assert.NoError(t, err, "the header of an exported line is ignored")
}
