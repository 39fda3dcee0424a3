package model

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/evgit/evgit/object"
)

// MergePatch applies patch to target as RFC 7386 (JSON Merge Patch) says
// and returns the result as canonical JSON. An empty or nil target is
// JSON null, which an object patch treats as an empty object; a patch that
// is not an object replaces the target. Invalid JSON in either argument
// gives an error wrapping object.ErrJSON.
func MergePatch(target, patch []byte) ([]byte, error) {
	t, err := decodeState(target)
	if err != nil {
		return nil, err
	}
	p, err := object.DecodeJSON(patch)
	if err != nil {
		return nil, err
	}
	return object.EncodeJSON(mergePatch(t, p))
}

// MergePatchInverse returns the merge patch that, applied after patch was
// applied to before, gives before back: fields the patch added become
// null, fields it changed or removed get their earlier values, nested
// objects are treated field by field; a patch that is not an object
// replaced the state whole, and before itself is its inverse. Where no
// merge patch can express before — it is not an object (null included:
// the patch created the state), or it held an explicit null that the
// patch touched — the error wraps ErrNoCompensation.
func MergePatchInverse(before, patch []byte) ([]byte, error) {
	b, err := decodeState(before)
	if err != nil {
		return nil, err
	}
	p, err := object.DecodeJSON(patch)
	if err != nil {
		return nil, err
	}
	inv, err := mergePatchInverse(b, p)
	if err != nil {
		return nil, err
	}
	return object.EncodeJSON(inv)
}

// decodeState decodes a state; empty bytes are JSON null.
func decodeState(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	return object.DecodeJSON(raw)
}

// mergePatch is RFC 7386's MergePatch on decoded values. It modifies
// target in place (callers own it) and never stores an object of patch in
// the result, so patch stays untouched.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = make(map[string]any, len(p))
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// mergePatchInverse is MergePatchInverse on decoded values.
func mergePatchInverse(before, patch any) (map[string]any, error) {
	p, ok := patch.(map[string]any)
	if !ok {
		// The event replaced the state whole: the state before, as a
		// patch, puts it back, if it is an object without explicit nulls.
		switch b := before.(type) {
		case nil:
			return nil, errBeforeNull
		case map[string]any:
			if f := nullMember(b); f != "" {
				return nil, nullError(f)
			}
			return b, nil
		default:
			return nil, fmt.Errorf("%w: the state before the event was %s, not an object", ErrNoCompensation, typeName(before))
		}
	}
	switch b := before.(type) {
	case nil:
		return nil, errBeforeNull
	case map[string]any:
		return inverseObject(b, p, "")
	default:
		return nil, fmt.Errorf("%w: the state before the event was %s, not an object", ErrNoCompensation, typeName(before))
	}
}

func inverseObject(before, patch map[string]any, path string) (map[string]any, error) {
	inv := make(map[string]any, len(patch))
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		v := patch[k]
		old, had := before[k]
		switch {
		case !had:
			if v != nil {
				inv[k] = nil // added: remove it again
			}
		case old == nil:
			return nil, nullError(path + k)
		case v == nil: // removed: put it back
			if f := nullMember(old); f != "" {
				return nil, nullError(path + k + "." + f)
			}
			inv[k] = old
		default:
			po, patchIsObject := v.(map[string]any)
			bo, beforeIsObject := old.(map[string]any)
			switch {
			case patchIsObject && beforeIsObject:
				sub, err := inverseObject(bo, po, path+k+".")
				if err != nil {
					return nil, err
				}
				if len(sub) > 0 {
					inv[k] = sub
				}
			case beforeIsObject: // an object replaced by a scalar or array
				if f := nullMember(old); f != "" {
					return nil, nullError(path + k + "." + f)
				}
				inv[k] = old
			case !patchIsObject && reflect.DeepEqual(old, v):
				// unchanged
			default:
				inv[k] = old
			}
		}
	}
	return inv, nil
}

func nullError(field string) error {
	return fmt.Errorf("%w: field %q held an explicit null, which no merge patch can restore", ErrNoCompensation, field)
}

// nullMember returns the dotted path of a member holding null inside the
// objects of v (arrays are replaced whole by a merge patch, so nulls in
// them do no harm), or "".
func nullMember(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == nil {
			return k
		}
		if f := nullMember(m[k]); f != "" {
			return k + "." + f
		}
	}
	return ""
}

// errBeforeNull refuses to invert a patch applied to a null state: no
// merge patch sets a state back to null. The stream was new then, or a
// null patch had cleared it.
var errBeforeNull = fmt.Errorf("%w: the state before the event was null (the event created the stream, or followed a null patch)", ErrNoCompensation)
