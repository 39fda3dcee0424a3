package model

import (
	"bytes"

	"github.com/evgit/evgit/object"
)

// mergeCanonical is mergePatch on canonical JSON bytes, without decoding
// either side: the members of two canonical objects come in key order, so
// the result is a merge of the two lists, and every value it keeps is
// copied as it is, canonical already. It handles only the plainest
// canonical JSON — no escapes in strings, integers of at most 18 digits —
// and reports ok false for anything else, valid or not, for the decoding
// path to deal with; where it reports ok, its result is byte for byte what
// that path gives. An empty state is null.
func mergeCanonical(state, patch []byte) ([]byte, bool) {
	if len(patch) == 0 || !object.IsPlainCanonical(patch) || (len(state) > 0 && !object.IsPlainCanonical(state)) {
		return nil, false
	}
	out := make([]byte, 0, len(state)+len(patch))
	return mergeValue(out, state, patch), true
}

// mergeValue appends to out the merge of patch onto target, both plain
// canonical values (target may be empty: null).
func mergeValue(out, target, patch []byte) []byte {
	if patch[0] != '{' {
		return append(out, patch...)
	}
	if len(target) == 0 || target[0] != '{' {
		target = nil // not an object: the patch merges onto {}
	}
	out = append(out, '{')
	open := len(out) // no comma before the first member
	member := func(out, key []byte) []byte { return appendKey(out, open, key) }
	t, p := object.NewPlainMembers(target), object.NewPlainMembers(patch)
	tk, tv, tok := t.Next()
	pk, pv, pok := p.Next()
	for tok || pok {
		c := 0
		switch {
		case !pok:
			c = -1
		case !tok:
			c = 1
		default:
			c = bytes.Compare(tk, pk)
		}
		switch {
		case c < 0: // the target's alone: kept
			out = append(member(out, tk), tv...)
			tk, tv, tok = t.Next()
			continue
		case c == 0: // both: the patch's wins, merged if an object
			if string(pv) != "null" {
				out = mergeValue(member(out, pk), tv, pv)
			}
			tk, tv, tok = t.Next()
		default: // the patch's alone: added, its nulls dropped
			if string(pv) != "null" {
				out = mergeValue(member(out, pk), nil, pv)
			}
		}
		pk, pv, pok = p.Next()
	}
	return append(out, '}')
}

// appendKey appends an object member's key, quoted, and the colon, after
// a comma unless out ends where the object's members begin (open). key
// is as canonical JSON writes it between the quotes.
func appendKey(out []byte, open int, key []byte) []byte {
	if len(out) > open {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	return append(out, '"', ':')
}
