package upload

import (
	"errors"
	"fmt"
	"mime"
	"strings"
)

// The bounds of a data URL's media type: RFC 6838 limits type and subtype
// names to 127 characters, and the same bound on parameter names and values
// and a few parameters keep the header short (under maxHeader), so that
// reading it never holds more than a few KiB. openapi.yaml's DataURL
// pattern states the same grammar with the same bounds.
const (
	maxName   = 127
	maxParams = 7
)

// parseMediaType reads type/subtype *(;attribute=value), where type,
// subtype and attribute are RFC 2045 tokens and a value is a token or a
// quoted string of printable ASCII without '"', '\' or ',', each at most
// maxName characters, with at most maxParams parameters. It returns the
// media type with type, subtype and attribute names in lower case,
// parameters sorted and a repeated attribute's first value kept.
func parseMediaType(s string) (string, error) {
	typ, s := consumeToken(s)
	s, ok := strings.CutPrefix(s, "/")
	if typ == "" || !ok {
		return "", fmt.Errorf("%q is not type/subtype", typ+s)
	}
	sub, s := consumeToken(s)
	if sub == "" {
		return "", fmt.Errorf("%q has no subtype", typ+"/")
	}
	if len(typ) > maxName || len(sub) > maxName {
		return "", fmt.Errorf("type and subtype may have at most %d characters each", maxName)
	}
	params := map[string]string{}
	for n := 0; s != ""; n++ {
		if n == maxParams {
			return "", fmt.Errorf("it has more than %d parameters", maxParams)
		}
		attr, value, rest, err := consumeParam(s)
		if err != nil {
			return "", err
		}
		attr = strings.ToLower(attr)
		if _, seen := params[attr]; !seen {
			params[attr] = value
		}
		s = rest
	}
	return mime.FormatMediaType(strings.ToLower(typ+"/"+sub), params), nil
}

// consumeParam reads ";attribute=value" from the start of s.
func consumeParam(s string) (attr, value, rest string, err error) {
	rest, ok := strings.CutPrefix(s, ";")
	if ok {
		attr, rest = consumeToken(rest)
		rest, ok = strings.CutPrefix(rest, "=")
	}
	if ok {
		value, rest, ok = consumeValue(rest)
	}
	if !ok || attr == "" {
		return "", "", "", fmt.Errorf("parameter %q is not attribute=value", s)
	}
	if len(attr) > maxName || len(value) > maxName {
		return "", "", "", errors.New("a parameter's name and value may have at most 127 characters each")
	}
	return attr, value, rest, nil
}

// consumeToken splits s after its leading RFC 2045 token characters.
func consumeToken(s string) (token, rest string) {
	i := strings.IndexFunc(s, func(r rune) bool { return !isTokenChar(r) })
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// consumeValue reads a token or a quoted string from the start of s.
func consumeValue(s string) (value, rest string, ok bool) {
	q, ok := strings.CutPrefix(s, `"`)
	if !ok {
		value, rest = consumeToken(s)
		return value, rest, value != ""
	}
	end := strings.IndexFunc(q, func(r rune) bool { return !isQuotedChar(r) })
	if end < 0 || q[end] != '"' {
		return "", s, false
	}
	return q[:end], q[end+1:], true
}

// isTokenChar is RFC 2045's token character: printable ASCII but for
// space and ()<>@,;:\"/[]?=.
func isTokenChar(r rune) bool {
	return '!' <= r && r <= '~' && !strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
}

// isQuotedChar is a character of a quoted value: printable ASCII or space,
// but for '"', '\' and ','.
func isQuotedChar(r rune) bool {
	return ' ' <= r && r <= '~' && r != '"' && r != '\\' && r != ','
}
