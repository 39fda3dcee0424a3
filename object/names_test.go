package object_test

import (
	"errors"
	"testing"

	"github.com/evgit/evgit/object"
)

// TestTypeNameErrorsNameTheCharacter: a character that is not allowed is
// named whole, not by the first byte of its UTF-8 encoding, and a byte
// that is not UTF-8 as such, not as U+FFFD (a helper's audit).
func TestTypeNameErrorsNameTheCharacter(t *testing.T) {
	for typ, want := range map[string]string{
		"Té":       `invalid name: type "Té": character 'é' not allowed`,
		"bad type": `invalid name: type "bad type": character ' ' not allowed`,
		"1st":      `invalid name: type "1st": character '1' not allowed`,
		"T\xff":    `invalid name: type "T\xff": byte "\xff" is not UTF-8`,
	} {
		err := object.ValidateType(typ)
		if !errors.Is(err, object.ErrInvalidName) || err.Error() != want {
			t.Errorf("ValidateType(%q) = %v, want %s", typ, err, want)
		}
	}
	if err := object.ValidateType("Money.Deposited:v2-b"); err != nil {
		t.Errorf("a valid type: %v", err)
	}
}
