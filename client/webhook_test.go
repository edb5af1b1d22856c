package client_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/re-factor/resources/client"
	"github.com/re-factor/resources/webhooks"
)

// The signer is the server's (package webhooks); the verifier is written
// apart from it, as a receiver's would be.
func TestVerifyWebhook(t *testing.T) {
	secret, other := webhooks.NewSecret(), webhooks.NewSecret()
	body := []byte(`{"id":"0b6f6a8e-3c1d-4d7e-9f0a-2b5c8e1d4a7f","sequence":7,"type":"resource.deleted","timestamp":"2026-01-02T03:04:05Z","data":{"resource":{"id":"75e35926-dd42-5b28-8493-ea7133ef5dcd","name":"a","directory_path":"/","tags":[]}}}`)
	sign := func(secrets []string, at time.Time) http.Header {
		sig, err := webhooks.Sign(secrets, "msg-1", at, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", "msg-1")
		h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		h.Set("webhook-signature", sig)
		return h
	}
	now := time.Now()
	e, err := client.VerifyWebhook(secret, sign([]string{secret}, now), body, 0)
	if err != nil || e.Sequence != 7 || e.Type != client.EventTypeResourceDeleted {
		t.Fatalf("VerifyWebhook = %+v, %v", e, err)
	}
	// During a rotation, either key verifies.
	if _, err := client.VerifyWebhook(other, sign([]string{secret, other}, now), body, 0); err != nil {
		t.Errorf("second of two signatures: %v", err)
	}
	for name, tc := range map[string]struct {
		secret string
		header http.Header
		body   []byte
	}{
		"wrong key":      {other, sign([]string{secret}, now), body},
		"changed body":   {secret, sign([]string{secret}, now), append([]byte(" "), body...)},
		"too old":        {secret, sign([]string{secret}, now.Add(-10*time.Minute)), body},
		"missing header": {secret, http.Header{}, body},
	} {
		if _, err := client.VerifyWebhook(tc.secret, tc.header, tc.body, 0); !errors.Is(err, client.ErrWebhookSignature) {
			t.Errorf("%s: %v, want ErrWebhookSignature", name, err)
		}
	}
}
