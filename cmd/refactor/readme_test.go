package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigTable keeps the README's configuration table equal to the
// settings it is generated from.
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- config:begin -->\n")
	got, _, ok2 := strings.Cut(rest, "<!-- config:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the config:begin/config:end markers")
	}
	if want := configTable(); got != want {
		t.Errorf("README configuration table is stale; replace it with `refactor config` output:\n%s", want)
	}
}
