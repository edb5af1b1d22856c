package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// errBadContent marks a content data URL the client got wrong (400).
var errBadContent = errors.New("content")

// dataURL is a parsed `data:<type/subtype>[;params];base64,<data>`.
type dataURL struct {
	mediaType string // with its parameters, as the client gave them
	data      string // still base64
}

// parseDataURL checks the data URL's shape and media type; the base64 is
// only decoded as it streams into storage.
func parseDataURL(s string) (dataURL, error) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return dataURL{}, fmt.Errorf("%w: must be a data URL, data:<type/subtype>;base64,<data>", errBadContent)
	}
	header, data, ok := strings.Cut(rest, ",")
	if !ok {
		return dataURL{}, fmt.Errorf("%w: data URL has no ',' before its data", errBadContent)
	}
	mediaType, ok := strings.CutSuffix(header, ";base64")
	if !ok {
		return dataURL{}, fmt.Errorf("%w: data URL must be base64-encoded (;base64)", errBadContent)
	}
	t, params, err := mime.ParseMediaType(mediaType)
	if err != nil || !strings.Contains(t, "/") {
		return dataURL{}, fmt.Errorf("%w: %q is not a valid MIME type (want type/subtype)", errBadContent, mediaType)
	}
	return dataURL{mediaType: mime.FormatMediaType(t, params), data: data}, nil
}

// decodedSize is the number of bytes the base64 data holds, so an oversized
// upload is refused before anything is stored.
func (d dataURL) decodedSize() int64 {
	return int64(base64.StdEncoding.DecodedLen(len(d.data)))
}

// reader streams the decoded bytes; a base64 error surfaces as errBadContent
// from Read.
func (d dataURL) reader() io.Reader {
	return badBase64Reader{base64.NewDecoder(base64.StdEncoding, strings.NewReader(d.data))}
}

type badBase64Reader struct{ r io.Reader }

func (b badBase64Reader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var corrupt base64.CorruptInputError
	switch {
	case errors.As(err, &corrupt):
		err = fmt.Errorf("%w: invalid base64 at byte %d", errBadContent, int64(corrupt))
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The decoder's word for base64 cut short of a 4-character group.
		err = fmt.Errorf("%w: base64 data is truncated (pad it with = to a multiple of 4 characters)", errBadContent)
	}
	return n, err
}
