// Package upload reads a JSON upload as a stream: an object one of whose
// members carries a file as a base64 data URL,
//
//	{"name": "a.pdf", "content": "data:application/pdf;base64,JVBERi0x..."}
//
// The file's bytes are decoded (JSON string escapes, then base64) as they are
// read and handed on at once, never held; the rest of the document is kept,
// up to a limit, for the caller to validate. Memory per upload is a few
// buffers, whatever the file's size.
package upload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrInvalid marks a document Decode refuses for its form: malformed
	// JSON, a member given twice, a file member that is not a base64 data
	// URL or whose base64 is broken.
	ErrInvalid = errors.New("upload: invalid document")
	// ErrTooLarge marks a document whose kept part outgrows its limit.
	ErrTooLarge = errors.New("upload: document too large")
	// ErrRead marks a failure of the reader the document comes from.
	ErrRead = errors.New("upload: read failed")
)

// Error is a document that Decode refuses. Its message is written for the
// sender of the document and names no internals.
type Error struct {
	Kind error // ErrInvalid or ErrTooLarge
	msg  string
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.Kind }

// File is the file a data URL carries, as it streams.
type File struct {
	// MediaType is the data URL's media type with its parameters, in the
	// form mime.FormatMediaType gives.
	MediaType string
	// Data yields the decoded bytes. Its errors wrap ErrInvalid (broken
	// base64 or JSON) or ErrRead.
	Data io.Reader
	// Before is a JSON object of the document's members that came before
	// the file's, as they were kept: what a caller can check before it
	// takes a byte of the file.
	Before []byte
}

// Options say which member carries the file and how much else to keep.
type Options struct {
	// Member names the top-level member whose string value is the file.
	Member string
	// FileRule words the rule a file member must follow, for the errors
	// that say it broke it, such as the spec's "must be a data URL, ...".
	FileRule string
	// MaxKept bounds the bytes kept: the document without the file's data
	// and without white space between tokens.
	MaxKept int
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// readBuffer is how much of the document is read at a time.
const readBuffer = 64 << 10

// Decode reads one JSON document from r, to its end. When the document is
// an object whose opts.Member is a string, that string must be a base64 data
// URL, data:<type/subtype>[;params];base64,<data> (parseMediaType gives the
// media type's grammar): once its header is read, put is called with the
// file and must read its Data to the end or return an error, which Decode
// then returns as it is. Decode returns the rest of the
// document, with the member's value cut to the data URL's header (say
// "data:text/plain;base64,"), so that a schema can still judge it. An empty
// r gives an empty document.
//
// A document Decode refuses for its form or size gives an *Error (wrapping
// ErrInvalid or ErrTooLarge); a failure of r is wrapped with ErrRead.
// Top-level members may not repeat; any other shape of document (an array,
// say) is returned whole for the caller's schema to refuse.
func Decode(r io.Reader, opts Options, put func(File) error) ([]byte, error) {
	d := &decoder{r: bufio.NewReaderSize(r, readBuffer), opts: opts, put: put}
	c, err := d.skipSpace()
	if errors.Is(err, errEnd) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c == '{' {
		err = d.topObject()
	} else {
		err = d.value(c, 1)
	}
	if err != nil {
		return nil, err
	}
	switch c, err := d.skipSpace(); {
	case errors.Is(err, errEnd):
		return d.kept, nil
	case err != nil:
		return nil, err
	default:
		return nil, d.syntax(fmt.Sprintf("%q after the end of the document", c))
	}
}

type decoder struct {
	r    *bufio.Reader
	opts Options
	put  func(File) error
	off  int64 // bytes of the document consumed
	kept []byte
}

// errEnd is the end of r, which skipSpace reports for the caller to judge.
var errEnd = errors.New("end of document")

// topObject reads the top-level object, whose '{' was just read: members
// may not repeat, and the file member is streamed.
func (d *decoder) topObject() error {
	if err := d.keep('{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	c, err := d.nextToken()
	if err != nil {
		return err
	}
	if c == '}' {
		return d.keep(c)
	}
	for {
		start := len(d.kept)
		name, err := d.memberName(c)
		if err != nil {
			return err
		}
		if seen[name] {
			return &Error{Kind: ErrInvalid, msg: fmt.Sprintf("member %q is given twice", name)}
		}
		seen[name] = true
		if c, err = d.nextToken(); err != nil {
			return err
		}
		if name == d.opts.Member && c == '"' {
			err = d.file(before(d.kept[:start]))
		} else {
			err = d.value(c, 2)
		}
		if err != nil {
			return err
		}
		more, err := d.afterMember()
		if err != nil || !more {
			return err
		}
		if c, err = d.nextToken(); err != nil {
			return err
		}
	}
}

// before closes kept, the document up to a member's name ("{" or
// "{...,"), into the object of the members before it.
func before(kept []byte) []byte {
	b := append([]byte(nil), kept...)
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return append(b, '}')
}

// memberName reads a member's name, whose first byte c was just read, and
// the ':' after it.
func (d *decoder) memberName(c byte) (string, error) {
	if c != '"' {
		return "", d.syntax(fmt.Sprintf("%q where a member name should start", c))
	}
	start := len(d.kept)
	if err := d.keep(c); err != nil {
		return "", err
	}
	if err := d.str(); err != nil {
		return "", err
	}
	var name string
	if err := json.Unmarshal(d.kept[start:], &name); err != nil {
		return "", d.syntax("a member name that is not a valid string")
	}
	switch c, err := d.nextToken(); {
	case err != nil:
		return "", err
	case c != ':':
		return "", d.syntax(fmt.Sprintf("%q where ':' should follow a member name", c))
	}
	return name, d.keep(':')
}

// afterMember reads the ',' or '}' after a member's value and says whether
// another member follows.
func (d *decoder) afterMember() (bool, error) {
	c, err := d.nextToken()
	if err != nil {
		return false, err
	}
	if c != ',' && c != '}' {
		return false, d.syntax(fmt.Sprintf("%q where ',' or '}' should follow a member", c))
	}
	return c == ',', d.keep(c)
}

// value reads and keeps any JSON value, whose first byte c was just read.
func (d *decoder) value(c byte, depth int) error {
	if (c == '{' || c == '[') && depth > maxDepth {
		return d.syntax(fmt.Sprintf("values nested more than %d deep", maxDepth))
	}
	switch {
	case c == '{':
		return d.container('}', depth, true)
	case c == '[':
		return d.container(']', depth, false)
	case c == '"':
		if err := d.keep(c); err != nil {
			return err
		}
		return d.str()
	case c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z':
		return d.scalar(c)
	}
	return d.syntax(fmt.Sprintf("%q where a value should start", c))
}

// container reads an object or array, whose opening byte was just read, up
// to its closing byte end.
func (d *decoder) container(end byte, depth int, object bool) error {
	open := byte('[')
	if object {
		open = '{'
	}
	if err := d.keep(open); err != nil {
		return err
	}
	c, err := d.nextToken()
	if err != nil {
		return err
	}
	if c == end {
		return d.keep(c)
	}
	for {
		if object {
			if _, err := d.memberName(c); err != nil {
				return err
			}
			if c, err = d.nextToken(); err != nil {
				return err
			}
		}
		if err := d.value(c, depth+1); err != nil {
			return err
		}
		if c, err = d.nextToken(); err != nil {
			return err
		}
		if err := d.keep(c); err != nil {
			return err
		}
		switch c {
		case end:
			return nil
		case ',':
			if c, err = d.nextToken(); err != nil {
				return err
			}
		default:
			return d.syntax(fmt.Sprintf("%q where ',' or %q should follow a value", c, end))
		}
	}
}

// scalar reads a number, true, false or null, whose first byte c was just
// read, and checks it against the grammar.
func (d *decoder) scalar(c byte) error {
	start := len(d.kept)
	if err := d.keep(c); err != nil {
		return err
	}
	for {
		b, err := d.r.Peek(1)
		if err != nil && !errors.Is(err, io.EOF) {
			return d.readErr(err)
		}
		if len(b) == 0 || !isScalarByte(b[0]) {
			break
		}
		if _, err := d.next(); err != nil {
			return err
		}
		if err := d.keep(b[0]); err != nil {
			return err
		}
	}
	if tok := d.kept[start:]; !json.Valid(tok) {
		return d.syntax(fmt.Sprintf("%q is not a JSON value", tok))
	}
	return nil
}

func isScalarByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}

// str reads and keeps the rest of a string whose opening quote was just
// read, checking its escapes and refusing control characters.
func (d *decoder) str() error {
	for {
		c, err := d.next()
		if err != nil {
			return err
		}
		if err := d.keep(c); err != nil {
			return err
		}
		switch {
		case c == '"':
			return nil
		case c < 0x20:
			return d.syntax("a control character inside a string")
		case c == '\\':
			e, err := d.next()
			if err != nil {
				return err
			}
			if err := d.keep(e); err != nil {
				return err
			}
			if e == 'u' {
				for range 4 {
					h, err := d.next()
					if err != nil {
						return err
					}
					if err := d.keep(h); err != nil {
						return err
					}
					if !isHex(h) {
						return d.syntax(`a \u escape without four hex digits`)
					}
				}
			} else if !isEscape(e) {
				return d.syntax(fmt.Sprintf(`the unknown escape \%c`, e))
			}
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isEscape(c byte) bool {
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	}
	return false
}

// nextToken skips white space and reads the next byte, which must exist.
func (d *decoder) nextToken() (byte, error) {
	c, err := d.skipSpace()
	if errors.Is(err, errEnd) {
		return 0, d.syntax("the document ends too soon")
	}
	return c, err
}

// skipSpace skips white space and reads the next byte; it returns errEnd
// at the end of r.
func (d *decoder) skipSpace() (byte, error) {
	for {
		c, err := d.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, errEnd
		}
		if err != nil {
			return 0, d.readErr(err)
		}
		d.off++
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

// next reads one byte inside a token, where the document may not end.
func (d *decoder) next() (byte, error) {
	c, err := d.r.ReadByte()
	if errors.Is(err, io.EOF) {
		return 0, d.syntax("the document ends too soon")
	}
	if err != nil {
		return 0, d.readErr(err)
	}
	d.off++
	return c, nil
}

// keep appends b to the kept document, within its limit.
func (d *decoder) keep(b ...byte) error {
	if len(d.kept)+len(b) > d.opts.MaxKept {
		return &Error{Kind: ErrTooLarge, msg: fmt.Sprintf("the document without the data of %q is larger than %d bytes",
			d.opts.Member, d.opts.MaxKept)}
	}
	d.kept = append(d.kept, b...)
	return nil
}

func (d *decoder) syntax(what string) error {
	return &Error{Kind: ErrInvalid, msg: fmt.Sprintf("not valid JSON: %s (at byte %d)", what, d.off)}
}

func (d *decoder) readErr(err error) error {
	return fmt.Errorf("%w at byte %d of the document: %w", ErrRead, d.off, err)
}
