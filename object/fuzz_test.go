package object_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// Golden vectors pin the format: for a few events, commits, trees and
// blobs, the canonical body (hex) and the ID. The inputs are in the file
// too, so another implementation can check itself against it. A change to
// any encoding, to the hash framing or to the hash fails TestGolden: the
// format must not drift. EVGIT_UPDATE_GOLDEN=1 rewrites the outputs (only
// for a deliberate format change, which also changes every existing ID).
const goldenPath = "testdata/golden.json"

type golden struct {
	Comment string          `json:"comment"`
	Blobs   []goldenBlob    `json:"blobs"`
	Events  []goldenEvent   `json:"events"`
	Commits []goldenCommit  `json:"commits"`
	Trees   []goldenTree    `json:"trees"`
	JSON    []goldenJSONVal `json:"canonical_json"`
}

type goldenBlob struct {
	Name string `json:"name"`
	Text string `json:"text"` // the blob's bytes
	ID   string `json:"id"`
}

type goldenEvent struct {
	Name   string            `json:"name"`
	Stream string            `json:"stream"`
	Type   string            `json:"type"`
	Schema int               `json:"schema"`
	Meta   map[string]string `json:"meta,omitempty"`
	Data   string            `json:"data"` // canonical JSON, as text
	DataID string            `json:"data_id"`
	Body   string            `json:"body"`
	ID     string            `json:"id"`
}

type goldenCommit struct {
	Name           string   `json:"name"`
	Parents        []string `json:"parents"`
	Events         []string `json:"events"`
	Time           string   `json:"time"` // RFC 3339 with nanoseconds
	Offset         uint64   `json:"offset"`
	Actor          string   `json:"actor"`
	Message        string   `json:"message"`
	IdempotencyKey string   `json:"idempotency_key"`
	Reverts        []string `json:"reverts"`
	Body           string   `json:"body"`
	ID             string   `json:"id"`
}

type goldenTree struct {
	Name     string            `json:"name"`
	Leaf     bool              `json:"leaf"`
	Entries  []goldenEntry     `json:"entries,omitempty"`
	Children map[string]string `json:"children,omitempty"` // nibble (hex digit) → child ID
	Count    uint64            `json:"count,omitempty"`
	Body     string            `json:"body"`
	ID       string            `json:"id"`
}

type goldenEntry struct {
	Stream  string `json:"stream"`
	Version uint64 `json:"version"`
	State   string `json:"state,omitempty"`    // inline state, canonical JSON as text
	StateID string `json:"state_id,omitempty"` // a state kept as a blob
}

type goldenJSONVal struct {
	In        string `json:"in"`
	Canonical string `json:"canonical"`
}

func readGolden(t testing.TB) *golden {
	t.Helper()
	b, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(b, &g))
	return &g
}

func parseID(t testing.TB, s string) object.ID {
	t.Helper()
	id, err := object.ParseID(s)
	require.NoError(t, err, "%q", s)
	return id
}

func parseIDs(t testing.TB, ss []string) []object.ID {
	var out []object.ID
	for _, s := range ss {
		out = append(out, parseID(t, s))
	}
	return out
}

func (v goldenEvent) event(t testing.TB) *object.Event {
	return object.NewEvent(v.Stream, v.Type, v.Schema, v.Meta, []byte(v.Data))
}

func (v goldenCommit) commit(t testing.TB) *object.Commit {
	tm, err := time.Parse(time.RFC3339Nano, v.Time)
	require.NoError(t, err)
	return &object.Commit{Parents: parseIDs(t, v.Parents), Events: parseIDs(t, v.Events), Time: tm.UTC(), Offset: v.Offset,
		Actor: v.Actor, Message: v.Message, IdempotencyKey: v.IdempotencyKey, Reverts: parseIDs(t, v.Reverts)}
}

func (v goldenTree) tree(t testing.TB) *object.Tree {
	tr := &object.Tree{Leaf: v.Leaf, Count: v.Count}
	for _, e := range v.Entries {
		te := object.TreeEntry{Stream: e.Stream, Version: e.Version}
		if e.StateID != "" {
			te.StateID = parseID(t, e.StateID)
		} else {
			te.State = []byte(e.State)
			te.StateID = object.Hash(object.KindBlob, te.State)
		}
		tr.Entries = append(tr.Entries, te)
	}
	for nib, id := range v.Children {
		i, err := strconv.ParseUint(nib, 16, 4)
		require.NoError(t, err)
		tr.Children[i] = parseID(t, id)
	}
	return tr
}

func TestGolden(t *testing.T) {
	g := readGolden(t)
	update := os.Getenv("EVGIT_UPDATE_GOLDEN") != ""
	check := func(what string, want *string, got string) {
		if update {
			*want = got
			return
		}
		assert.Equal(t, *want, got, "%s", what)
	}
	for i := range g.Blobs {
		v := &g.Blobs[i]
		check("blob "+v.Name, &v.ID, object.Hash(object.KindBlob, []byte(v.Text)).String())
	}
	for i := range g.Events {
		v := &g.Events[i]
		e := v.event(t)
		body := e.Encode()
		check("event "+v.Name+" data ID", &v.DataID, e.DataID.String())
		check("event "+v.Name+" body", &v.Body, hex.EncodeToString(body))
		check("event "+v.Name+" ID", &v.ID, e.ID().String())
		dec, err := object.DecodeEvent(body)
		require.NoError(t, err)
		e.Data = nil
		assert.Equal(t, e, dec, "event %s decodes to itself", v.Name)
	}
	for i := range g.Commits {
		v := &g.Commits[i]
		c := v.commit(t)
		body := c.Encode()
		check("commit "+v.Name+" body", &v.Body, hex.EncodeToString(body))
		check("commit "+v.Name+" ID", &v.ID, c.ID().String())
		dec, err := object.DecodeCommit(body)
		require.NoError(t, err)
		assert.Equal(t, c, dec, "commit %s decodes to itself", v.Name)
	}
	for i := range g.Trees {
		v := &g.Trees[i]
		tr := v.tree(t)
		body := tr.Encode()
		check("tree "+v.Name+" body", &v.Body, hex.EncodeToString(body))
		check("tree "+v.Name+" ID", &v.ID, tr.ID().String())
		dec, err := object.DecodeTree(body)
		require.NoError(t, err)
		if tr.Leaf && tr.Entries == nil {
			tr.Entries = []object.TreeEntry{} // the decoder's empty leaf
		}
		assert.Equal(t, tr, dec, "tree %s decodes to itself", v.Name)
	}
	for i := range g.JSON {
		v := &g.JSON[i]
		out, err := object.CanonicalJSON([]byte(v.In))
		require.NoError(t, err, "%q", v.In)
		check("canonical JSON of "+v.In, &v.Canonical, string(out))
	}
	if update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(g))
		require.NoError(t, os.WriteFile(goldenPath, b.Bytes(), 0o644))
		t.Log("rewrote " + goldenPath)
	}
}

// The worked example of docs/format.md §8 names its event and commit by
// the bytes of its segment; the vectors must agree with the document.
func TestGoldenMatchesFormatDoc(t *testing.T) {
	g := readGolden(t)
	ids := map[string]string{}
	for _, e := range g.Events {
		ids[e.Name] = e.ID
	}
	for _, c := range g.Commits {
		ids[c.Name] = c.ID
	}
	assert.Equal(t, "75308fa3376bf3004bc898f9246ae30c5d50e2c0ef5d05c21286f7a5836b30d7", ids["format.md worked example"])
	assert.Equal(t, "5c46bfef912e57da30cea94006674d86279b4a58378d1403f77ffbf1680b9815", ids["format.md worked example commit"])
}

// seeds adds every golden body of a kind and each of its prefixes.
func seeds(f *testing.F, bodies []string) {
	for _, h := range bodies {
		b, err := hex.DecodeString(h)
		require.NoError(f, err)
		for n := 0; n <= len(b); n++ {
			f.Add(b[:n])
		}
		f.Add(append(bytes.Clone(b), 0))
	}
}

// requireCorrupt fails unless err reports damaged input.
func requireCorrupt(t *testing.T, err error) {
	if !errors.Is(err, object.ErrCorrupt) {
		t.Fatalf("error %v does not match ErrCorrupt", err)
	}
}

// FuzzDecodeCommit: decoding never panics; what decodes re-encodes to a
// body that decodes to the same commit.
func FuzzDecodeCommit(f *testing.F) {
	var bodies []string
	for _, c := range readGolden(f).Commits {
		bodies = append(bodies, c.Body)
	}
	seeds(f, bodies)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := object.DecodeCommit(body)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		if uint64(len(c.Events)) > c.Offset {
			t.Fatalf("offset %d below %d events", c.Offset, len(c.Events))
		}
		enc := c.Encode()
		again, err := object.DecodeCommit(enc)
		if err != nil {
			t.Fatalf("re-encoded commit does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the commit:\n%+v\n%+v", c, again)
		}
		if !bytes.Equal(again.Encode(), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzDecodeEvent: decoding never panics; what decodes has valid names and
// round-trips.
func FuzzDecodeEvent(f *testing.F) {
	var bodies []string
	for _, e := range readGolden(f).Events {
		bodies = append(bodies, e.Body)
	}
	seeds(f, bodies)
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := object.DecodeEvent(body)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		if object.ValidateStream(e.Stream) != nil || object.ValidateType(e.Type) != nil || e.Schema < 1 {
			t.Fatalf("decoded an invalid event %+v", e)
		}
		enc := e.Encode()
		again, err := object.DecodeEvent(enc)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, again)
		}
	})
}

// FuzzDecodeTree: decoding never panics; what decodes keeps the node
// limits and round-trips.
func FuzzDecodeTree(f *testing.F) {
	var bodies []string
	for _, tr := range readGolden(f).Trees {
		bodies = append(bodies, tr.Body)
	}
	seeds(f, bodies)
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := object.DecodeTree(body)
		if err != nil {
			requireCorrupt(t, err)
			return
		}
		if len(tr.Entries) > object.TreeLeafMax {
			t.Fatalf("leaf of %d entries", len(tr.Entries))
		}
		for _, e := range tr.Entries {
			if e.State != nil && (len(e.State) > object.InlineStateMax || object.Hash(object.KindBlob, e.State) != e.StateID) {
				t.Fatalf("bad inline state %q", e.State)
			}
		}
		enc := tr.Encode()
		again, err := object.DecodeTree(enc)
		if err != nil {
			t.Fatalf("re-encoded tree does not decode: %v", err)
		}
		if !reflect.DeepEqual(tr, again) {
			t.Fatalf("round trip changed the tree:\n%+v\n%+v", tr, again)
		}
	})
}

// FuzzCanonicalJSON: canonical output is a fixed point, and DecodeJSON
// accepts exactly the same texts and encodes back to the same bytes.
func FuzzCanonicalJSON(f *testing.F) {
	for _, v := range readGolden(f).JSON {
		for n := 0; n <= len(v.In); n++ {
			f.Add([]byte(v.In[:n]))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := object.CanonicalJSON(raw)
		v, derr := object.DecodeJSON(raw)
		if (err == nil) != (derr == nil) {
			t.Fatalf("CanonicalJSON says %v, DecodeJSON says %v", err, derr)
		}
		if err != nil {
			if !errors.Is(err, object.ErrJSON) || !errors.Is(derr, object.ErrJSON) {
				t.Fatalf("errors %v, %v do not match ErrJSON", err, derr)
			}
			return
		}
		again, err := object.CanonicalJSON(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("canonical %q re-canonicalizes to %q (%v)", out, again, err)
		}
		if object.IsPlainCanonical(raw) && !bytes.Equal(raw, out) {
			t.Fatalf("%q is plain canonical JSON, but its canonical form is %q", raw, out)
		}
		if !object.IsPlainCanonical(out) && object.IsPlainCanonical(raw) {
			t.Fatalf("%q is plain canonical JSON, its canonical form %q is not", raw, out)
		}
		enc, err := object.EncodeJSON(v)
		if err != nil || !bytes.Equal(enc, out) {
			t.Fatalf("DecodeJSON+EncodeJSON gives %q (%v), CanonicalJSON %q", enc, err, out)
		}
	})
}

// FuzzCanonicalJSONAgreesWithEncodingJSON checks the hand-written parser
// against the standard library's: what CanonicalJSON accepts is valid
// JSON to encoding/json too, and means the same after canonicalizing
// (integers compared exactly, other numbers as float64s; objects and
// arrays member by member). CanonicalJSON may refuse
// more (duplicate keys, lone surrogates, integers it would round).
func FuzzCanonicalJSONAgreesWithEncodingJSON(f *testing.F) {
	for _, v := range readGolden(f).JSON {
		f.Add([]byte(v.In))
	}
	for _, s := range []string{`{"b":{"c":[true,false,null]},"a":-0}`, `[1e2,-0.0,1E-7,"\u00e9\ud83d\ude00"]`, "\"\\u0000\\/\"", `{"a":1,"a":2}`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := object.CanonicalJSON(raw)
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("CanonicalJSON accepts %q, which encoding/json refuses", raw)
		}
		in, canon := decodeStd(t, raw), decodeStd(t, out)
		if !sameJSON(in, canon) {
			t.Fatalf("canonicalizing %q changed its meaning: %q", raw, out)
		}
	})
}

func decodeStd(t *testing.T, b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", b, err)
	}
	return v
}

// sameJSON compares two values encoding/json decoded with UseNumber.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		// Integers (no fraction, no exponent) are kept digit for digit:
		// compared exactly, not as float64s, which would hide a rounding.
		bx, okx := new(big.Int).SetString(string(x), 10)
		by, oky := new(big.Int).SetString(string(y), 10)
		if okx && oky {
			return bx.Cmp(by) == 0
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return err1 == nil && err2 == nil && fx == fy
	default:
		return a == b
	}
}
