package catalog

import (
	"errors"
	"fmt"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/urlfetch"
)

// bytesError turns a failure of the storage or the fetcher into a
// *resources.Error in the client's words. The store translates its own
// errors; anything else (a reader's, a context's, an internal one) comes
// back as it is.
func (s *Service) bytesError(err error) error {
	var ours *resources.Error
	switch {
	case err == nil, errors.As(err, &ours):
		return err
	case errors.Is(err, blobstore.ErrTooLarge):
		return &resources.Error{Kind: resources.ErrTooLarge,
			Reason: fmt.Sprintf("content is larger than %d bytes", s.maxContent), Err: err}
	case errors.Is(err, blobstore.ErrUnavailable):
		return &resources.Error{Kind: resources.ErrUnavailable, Reason: unavailable, Err: err}
	case errors.Is(err, urlfetch.ErrFetch):
		// Fetch's own errors are told by fetch; this one broke off later.
		return &resources.Error{Kind: resources.ErrInvalid, Field: "uri",
			Reason: "the content could not be read to its end", Err: err}
	}
	return err
}

// unavailable is what a client is told of an outage.
const unavailable = "the service is temporarily unavailable; retry shortly"
