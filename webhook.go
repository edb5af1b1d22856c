package resources

import "time"

// WebhookEndpoint is where an account's events are delivered: a URL, the
// events it wants (as an EventFilter's types, tags and prefix), and the
// Standard Webhooks key its deliveries are signed with.
type WebhookEndpoint struct {
	ID              string
	AccountID       string
	URL             string
	Description     string
	Types           []string
	Tags            []string
	DirectoryPrefix string
	// Secret is the signing key, "whsec_" and base64; PreviousSecret, after
	// a rotation, signs too until PreviousExpiresAt, so receivers can
	// switch keys without dropping a delivery.
	Secret            string
	PreviousSecret    *string
	PreviousExpiresAt *time.Time
	// Enabled is false once deliveries kept failing; DisabledReason says
	// why. Re-enabling is an update.
	Enabled        bool
	DisabledReason *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Filter is the endpoint's filter of the account's events.
func (w WebhookEndpoint) Filter() EventFilter {
	return EventFilter{AccountID: w.AccountID, Types: w.Types, Tags: w.Tags, DirectoryPrefix: w.DirectoryPrefix}
}

// Secrets returns the keys that sign a delivery at now: the secret, and
// the previous one while its overlap lasts.
func (w WebhookEndpoint) Secrets(now time.Time) []string {
	keys := []string{w.Secret}
	if w.PreviousSecret != nil && w.PreviousExpiresAt != nil && now.Before(*w.PreviousExpiresAt) {
		keys = append(keys, *w.PreviousSecret)
	}
	return keys
}

// The states of a delivery.
const (
	DeliveryPending   = "pending"   // to be sent, or waiting for its next attempt
	DeliveryDelivered = "delivered" // a 2xx answered
	DeliveryFailed    = "failed"    // every attempt failed
)

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	ID         string
	AccountID  string
	EndpointID string
	Sequence   int64
	ResourceID string // "" for an import's event
	State      string
	Attempts   []WebhookAttempt
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// WebhookAttempt is one try at a delivery.
type WebhookAttempt struct {
	Attempt int
	Status  int // the receiver's HTTP status; 0 when none came
	Latency time.Duration
	Error   string // "" when the receiver answered 2xx
	At      time.Time
}
