package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// errBadContent marks a content data URL the client got wrong (400); the
// error itself is a *contentError.
var errBadContent = errors.New("content is not a valid data URL")

// contentError says what is wrong with content, in the words the request
// validator uses for every other field.
type contentError struct{ detail string }

func (e *contentError) Error() string {
	return "request body: content: " + contentRule + " (" + e.detail + ")"
}

func (e *contentError) Is(target error) bool { return target == errBadContent }

// contentRule is the DataURL schema's rule in words, as the request
// validator words it for every other field.
const contentRule = "must be a data URL, data:<type>/<subtype>[;<attribute>=<value>]...;base64,<data>, whose data is padded standard base64"

// dataURL is a parsed `data:<type>/<subtype>[;<attribute>=<value>]...;base64,<data>`.
type dataURL struct {
	mediaType string // normalized: lower-case names, parameters sorted
	data      string // still base64
}

// parseDataURL checks the data URL's header as the DataURL schema's pattern
// does; the base64 is only checked as it streams into storage (reader). The
// request validator leaves content to these two (see validatorSpec): the
// pattern would cost seconds on a 25 MiB upload in Go's regexp, and a
// streaming create can apply this rule without ever holding the string.
// FuzzParseDataURL keeps the two equal to the pattern.
func parseDataURL(s string) (dataURL, error) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return dataURL{}, badContent("it does not start with data:")
	}
	header, data, ok := strings.Cut(rest, ",")
	if !ok {
		return dataURL{}, badContent("it has no ',' before its data")
	}
	mediaType, ok := strings.CutSuffix(header, ";base64")
	if !ok {
		return dataURL{}, badContent("its media type does not end in ;base64")
	}
	mt, err := parseMediaType(mediaType)
	if err != nil {
		return dataURL{}, badContent(err.Error())
	}
	return dataURL{mediaType: mt, data: data}, nil
}

func badContent(detail string) error { return &contentError{detail} }

// parseMediaType reads type/subtype *(;attribute=value), where each is an
// RFC 2045 token and a value may instead be a quoted string of printable
// ASCII without '"', '\' or ','. It returns the media type with type,
// subtype and attribute names in lower case, parameters sorted and a
// repeated attribute's first value kept.
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
	params := map[string]string{}
	for s != "" {
		var attr, value string
		rest, ok := strings.CutPrefix(s, ";")
		if ok {
			attr, rest = consumeToken(rest)
			rest, ok = strings.CutPrefix(rest, "=")
		}
		if ok {
			value, rest, ok = consumeValue(rest)
		}
		if !ok || attr == "" {
			return "", fmt.Errorf("parameter %q is not attribute=value", s)
		}
		attr = strings.ToLower(attr)
		if _, seen := params[attr]; !seen {
			params[attr] = value
		}
		s = rest
	}
	return mime.FormatMediaType(strings.ToLower(typ+"/"+sub), params), nil
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

// decodedSize is the number of bytes the base64 data holds, so an oversized
// upload is refused before anything is stored.
func (d dataURL) decodedSize() int64 {
	return int64(base64.StdEncoding.DecodedLen(len(d.data)))
}

// reader streams the decoded bytes; a base64 error surfaces as errBadContent
// from Read. The standard decoder skips CR and LF anywhere and ignores the
// unused bits of the last character, as the DataURL schema says.
func (d dataURL) reader() io.Reader {
	return badBase64Reader{base64.NewDecoder(base64.StdEncoding, strings.NewReader(d.data))}
}

type badBase64Reader struct{ r io.Reader }

func (b badBase64Reader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var corrupt base64.CorruptInputError
	switch {
	case errors.As(err, &corrupt):
		err = badContent(fmt.Sprintf("invalid base64 at byte %d", int64(corrupt)))
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The decoder's word for base64 cut short of a 4-character group.
		err = badContent("base64 data is truncated: pad it with = to a multiple of 4 characters")
	}
	return n, err
}
