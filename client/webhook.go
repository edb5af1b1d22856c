package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Written by hand beside the generated client: a receiver's check of a
// webhook delivery, as the Standard Webhooks specification defines it.

// DefaultWebhookTolerance is how far a delivery's webhook-timestamp may
// be from now before VerifyWebhook refuses it (replays).
const DefaultWebhookTolerance = 5 * time.Minute

// ErrWebhookSignature reports a delivery that does not verify.
var ErrWebhookSignature = errors.New("webhook: no valid signature")

// VerifyWebhook checks a delivery's webhook-signature (HMAC-SHA256 keyed by
// the base64 part of the whsec_ secret, over id.timestamp.body) and that
// its webhook-timestamp is within tolerance of now (0 for
// DefaultWebhookTolerance), and returns the event. body must be the raw
// request body, byte for byte.
func VerifyWebhook(secret string, header http.Header, body []byte, tolerance time.Duration) (Event, error) {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return Event{}, fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature", ErrWebhookSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(unix, 0)).Abs() > tolerance {
		return Event{}, fmt.Errorf("%w: timestamp %q outside the tolerance", ErrWebhookSignature, ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return Event{}, fmt.Errorf("webhook: secret is not whsec_ and base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			var e Event
			if err := json.Unmarshal(body, &e); err != nil {
				return Event{}, fmt.Errorf("webhook: body is no event: %w", err)
			}
			return e, nil
		}
	}
	return Event{}, ErrWebhookSignature
}
