package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// ErrCannotSign is returned by SignedURL and CanSign for a bucket whose
// driver makes no signed URLs (file:// and mem://).
var ErrCannotSign = errors.New("blobstore: this bucket cannot make signed URLs")

// SignedURL returns a URL that reads the object at key, with GET only and
// without credentials, for ttl. On S3 the response also carries
// contentType and disposition (a Content-Disposition value) when they are
// not empty; GCS and Azure answer with what they stored. Signing is
// computed locally: it neither contacts the storage nor checks that the
// object exists.
func (s *Store) SignedURL(ctx context.Context, key string, ttl time.Duration, contentType, disposition string) (string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := s.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: ttl, Method: http.MethodGet,
		BeforeSign: func(as func(any) bool) error {
			var in *s3.GetObjectInput
			if as(&in) {
				if contentType != "" {
					in.ResponseContentType = aws.String(contentType)
				}
				if disposition != "" {
					in.ResponseContentDisposition = aws.String(disposition)
				}
			}
			return nil
		}})
	if gcerrors.Code(err) == gcerrors.Unimplemented {
		return "", fmt.Errorf("%s: %w", s.what("sign", key), ErrCannotSign)
	}
	if err != nil {
		return "", s.fail(ctx, "sign", key, err)
	}
	return u, nil
}

// CanSign returns nil when the bucket makes signed URLs, else an error
// wrapping ErrCannotSign.
func (s *Store) CanSign(ctx context.Context) error {
	_, err := s.SignedURL(ctx, "probe", time.Minute, "", "")
	return err
}
