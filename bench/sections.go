package main

import (
	"errors"
	"os"
	"strings"
)

// A section of the report that a run of its own may replace (the sweep,
// the cost curve) lies between these markers.
func sectionStart(name string) string { return "<!-- section " + name + " -->\n" }
func sectionEnd(name string) string   { return "<!-- end " + name + " -->\n" }

// section returns body between the markers of name.
func section(name, body string) string {
	return "\n" + sectionStart(name) + strings.Trim(body, "\n") + "\n" + sectionEnd(name)
}

// findSection returns the body of the section name in report.
func findSection(report, name string) (string, bool) {
	_, rest, ok := strings.Cut(report, sectionStart(name))
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, sectionEnd(name))
	return body, ok
}

// replaceSection writes body as the section name of the report at path:
// in place of the section if the report has it, else before its notes (or
// at its end).
func replaceSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	report, s := string(old), section(name, body)
	if i := strings.Index(report, sectionStart(name)); i >= 0 {
		if j := strings.Index(report[i:], sectionEnd(name)); j >= 0 {
			// section adds the newline before the start marker again.
			report = strings.TrimSuffix(report[:i], "\n") + s + report[i+j+len(sectionEnd(name)):]
			return os.WriteFile(path, []byte(report), 0o644)
		}
	}
	if at := strings.Index(report, "\n## Notes\n"); at >= 0 {
		report = report[:at] + s + report[at:]
	} else {
		report += s
	}
	return os.WriteFile(path, []byte(report), 0o644)
}
