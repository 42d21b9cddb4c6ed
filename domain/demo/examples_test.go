package demo_test

import (
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

// TestEveryEventTypeHasAValidExample: the registry's examples are valid data
// naming only organisations of the demo directory.
func TestEveryEventTypeHasAValidExample(t *testing.T) {
	dir := demo.Directory()
	for _, typ := range domain.EventTypes {
		raw := domain.Example(typ)
		if raw == nil {
			t.Errorf("no example of %s", typ)
			continue
		}
		if _, _, err := domain.DecodeData(typ, raw, dir, "data"); err != nil {
			t.Errorf("the %s example is invalid: %v", typ, err)
		}
	}
	if raw := domain.Example("NoSuchEvent"); raw != nil {
		t.Errorf("an example of an unknown type: %s", raw)
	}
	a := domain.Example(domain.CaseClosed)
	a[0] = 'x'
	if b := domain.Example(domain.CaseClosed); b[0] != '{' {
		t.Errorf("a change to one example reached the next caller: %s", b)
	}
}
