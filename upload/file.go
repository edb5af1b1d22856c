package upload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxHeader bounds a data URL's header, from "data:" to the ','; the media
// type's grammar (parseMediaType) allows only about half of it.
const maxHeader = 4096

// file reads the file member's string, whose opening quote was just read:
// the data URL's header, then its data, through put. preceding is the
// object of the members read before it.
func (d *decoder) file(preceding []byte) error {
	s := &stringReader{d: d}
	header, err := d.header(s)
	if err != nil {
		return err
	}
	mediaType, err := d.mediaType(header)
	if err != nil {
		return err
	}
	cut, err := json.Marshal(header + ",")
	if err != nil {
		return err
	}
	if err := d.keep(cut...); err != nil {
		return err
	}
	data := newBase64Reader(d, s)
	if err := d.put(File{MediaType: mediaType, Data: data, Before: preceding}); err != nil {
		return err
	}
	// put may stop early without an error: the rest must still be valid.
	_, err = io.Copy(io.Discard, data)
	return err
}

// header reads a data URL's header up to its ',' (not included), refusing
// anything that does not start as one.
func (d *decoder) header(s *stringReader) (string, error) {
	var h []byte
	var c [1]byte
	for {
		if _, err := io.ReadFull(s, c[:]); err != nil {
			if errors.Is(err, io.EOF) && len(h) < len("data:") {
				return "", d.badFile("it does not start with data:")
			}
			if errors.Is(err, io.EOF) {
				return "", d.badFile("it has no ',' before its data")
			}
			return "", err
		}
		if c[0] == ',' {
			return validUTF8(h), nil
		}
		h = append(h, c[0])
		if len(h) <= len("data:") && !strings.HasPrefix("data:", string(h)) {
			return "", d.badFile("it does not start with data:")
		}
		if len(h) > maxHeader {
			return "", d.badFile(fmt.Sprintf("its header is longer than %d bytes", maxHeader))
		}
	}
}

// mediaType checks a data URL's header, "data:" up to the ',', and returns
// its media type.
func (d *decoder) mediaType(header string) (string, error) {
	mt, ok := strings.CutSuffix(strings.TrimPrefix(header, "data:"), ";base64")
	if !ok {
		return "", d.badFile("its media type does not end in ;base64")
	}
	mt, err := parseMediaType(mt)
	if err != nil {
		return "", d.badFile(err.Error())
	}
	return mt, nil
}

// badFile is the file member's rule broken, in the sender's words: the
// caller's wording of the rule (Options.FileRule), then what is wrong.
func (d *decoder) badFile(what string) error {
	rule := d.opts.FileRule
	if rule == "" {
		rule = "must be a base64 data URL"
	}
	return &Error{Kind: ErrInvalid, msg: d.opts.Member + ": " + rule + " (" + what + ")"}
}

// validUTF8 replaces each byte of b that is not UTF-8 with U+FFFD, as
// encoding/json does when it decodes a string.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		s.WriteRune(r)
		b = b[n:]
	}
	return s.String()
}

// base64Block is how much base64 text is decoded at a time (at least a
// quantum; tests make it small to cross many block edges).
var base64Block = 32 << 10

// base64Reader decodes the data URL's base64 text a block at a time. Like
// the standard decoder it skips \r and \n; it says what is wrong with broken
// base64 in the client's words.
type base64Reader struct {
	d      *decoder
	s      *stringReader
	text   []byte // the block being read; it starts with what the last one left
	left   int    // text characters carried over: less than a quantum
	out    []byte // decoded bytes not yet handed out
	outBuf []byte
	off    int64 // text characters decoded so far, for messages
	padded bool  // the last quantum had padding, so the text must end
	err    error // io.EOF once all is handed out, or what went wrong
}

func newBase64Reader(d *decoder, s *stringReader) *base64Reader {
	return &base64Reader{d: d, s: s, text: make([]byte, base64Block),
		outBuf: make([]byte, base64.StdEncoding.DecodedLen(base64Block))}
}

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 && b.err == nil {
		b.decodeBlock()
	}
	if len(b.out) == 0 {
		return 0, b.err
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// decodeBlock reads a block of text and decodes its whole quanta, carrying
// the rest to the next block.
func (b *base64Reader) decodeBlock() {
	n, err := io.ReadFull(b.s, b.text[b.left:])
	// ReadFull's own words for the string's end; a failing read is wrapped.
	end := err == io.EOF || err == io.ErrUnexpectedEOF
	if err != nil && !end {
		b.err = err
		return
	}
	text := dropNewlines(b.text[:b.left+n])
	q := len(text) / 4 * 4
	switch {
	case b.padded && len(text) > 0:
		b.err = b.d.badFile(fmt.Sprintf("invalid base64 at byte %d", b.off))
		return
	case end && q != len(text):
		b.err = b.d.badFile("base64 data is truncated: pad it with = to a multiple of 4 characters")
		return
	}
	m, err := base64.StdEncoding.Decode(b.outBuf, text[:q])
	if err != nil {
		var at int64
		if corrupt, ok := err.(base64.CorruptInputError); ok {
			at = int64(corrupt)
		}
		b.err = b.d.badFile(fmt.Sprintf("invalid base64 at byte %d", b.off+at))
		return
	}
	b.out, b.off = b.outBuf[:m], b.off+int64(q)
	b.padded = q > 0 && text[q-1] == '='
	b.left = copy(b.text, text[q:])
	if end {
		b.err = io.EOF
	}
}

// dropNewlines removes \r and \n from text in place, as base64 decoders do.
func dropNewlines(text []byte) []byte {
	if bytes.IndexByte(text, '\n') < 0 && bytes.IndexByte(text, '\r') < 0 {
		return text
	}
	kept := text[:0]
	for _, c := range text {
		if c != '\r' && c != '\n' {
			kept = append(kept, c)
		}
	}
	return kept
}

// stringReader yields the text of a JSON string whose opening quote was
// read, its escapes decoded; it returns io.EOF after the closing quote.
type stringReader struct {
	d       *decoder
	pending []byte // decoded bytes of an escape that did not fit
	done    bool
}

func (s *stringReader) Read(p []byte) (int, error) {
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	for n < len(p) && !s.done {
		r := s.d.r
		if r.Buffered() == 0 {
			if n > 0 {
				break // hand over what we have rather than wait
			}
			if _, err := r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return n, s.d.syntax("the document ends too soon")
				}
				return n, s.d.readErr(err)
			}
		}
		buf, _ := r.Peek(r.Buffered())
		i, lim := 0, min(len(buf), len(p)-n)
		for i < lim && !stringSpecial[buf[i]] {
			i++
		}
		n += copy(p[n:], buf[:i])
		r.Discard(i)
		s.d.off += int64(i)
		if i == len(buf) || n == len(p) {
			continue
		}
		switch c := buf[i]; {
		case c == '"':
			r.Discard(1)
			s.d.off++
			s.done = true
		case c < 0x20:
			return n, s.d.syntax("a control character inside a string")
		default:
			r.Discard(1)
			s.d.off++
			dec, err := s.escape()
			if err != nil {
				return n, err
			}
			m := copy(p[n:], dec)
			n += m
			s.pending = append(s.pending[:0], dec[m:]...)
		}
	}
	if n == 0 && s.done && len(s.pending) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// stringSpecial marks the bytes that end a plain run inside a JSON string:
// the closing quote, an escape, a control character (which is an error).
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escape decodes an escape whose backslash was just read.
func (s *stringReader) escape() ([]byte, error) {
	e, err := s.d.next()
	if err != nil {
		return nil, err
	}
	switch e {
	case '"', '\\', '/':
		return []byte{e}, nil
	case 'b':
		return []byte{'\b'}, nil
	case 'f':
		return []byte{'\f'}, nil
	case 'n':
		return []byte{'\n'}, nil
	case 'r':
		return []byte{'\r'}, nil
	case 't':
		return []byte{'\t'}, nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return nil, err
		}
		if utf16.IsSurrogate(r) {
			r = s.lowSurrogate(r)
		}
		return utf8.AppendRune(nil, r), nil
	}
	return nil, s.d.syntax(fmt.Sprintf(`the unknown escape \%c`, e))
}

// hex4 reads the four hex digits of a \u escape.
func (s *stringReader) hex4() (rune, error) {
	var r rune
	for range 4 {
		c, err := s.d.next()
		if err != nil {
			return 0, err
		}
		v, ok := hexValue(c)
		if !ok {
			return 0, s.d.syntax(`a \u escape without four hex digits`)
		}
		r = r<<4 | v
	}
	return r, nil
}

// lowSurrogate completes the high surrogate hi with the \u escape that
// follows, when it is the matching low half; otherwise hi stands alone and
// decodes, as in encoding/json, to U+FFFD.
func (s *stringReader) lowSurrogate(hi rune) rune {
	next, err := s.d.r.Peek(6)
	if err != nil || next[0] != '\\' || next[1] != 'u' {
		return utf8.RuneError
	}
	var lo rune
	for _, c := range next[2:] {
		v, ok := hexValue(c)
		if !ok {
			return utf8.RuneError
		}
		lo = lo<<4 | v
	}
	r := utf16.DecodeRune(hi, lo)
	if r == utf8.RuneError {
		return r
	}
	s.d.r.Discard(6)
	s.d.off += 6
	return r
}

func hexValue(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}
