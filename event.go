package resources

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The types of events, as Event.Type and the API's type field carry them.
const (
	EventCreated = "resource.created"
	EventUpdated = "resource.updated"
	EventDeleted = "resource.deleted"
	// EventImported is the one event of an import, per account it loaded
	// into: an import is a bulk load (a seed, a restore, a move from
	// another system) of up to millions of rows, which a consumer answers
	// by re-listing, as after a 410, rather than one row at a time. One
	// event per row would double the import's writes and send a webhook
	// endpoint a delivery per row.
	EventImported = "resources.imported"
)

// EventTypes lists every event type, in the order the API documents them.
var EventTypes = []string{EventCreated, EventUpdated, EventDeleted, EventImported}

// Event is one committed change to an account's resources. Its JSON form,
// written by the store and served as is by the feed, the stream and the
// webhooks, is the API's Event.
type Event struct {
	ID        string
	AccountID string
	// Sequence counts the account's events from 1, without gaps, in the
	// order their changes committed.
	Sequence  int64
	Type      string
	Timestamp time.Time
	// ResourceID is the resource changed, "" for EventImported.
	ResourceID string
	// Data is the payload in its JSON form: {"resource": …} and, for an
	// update, "changed"; {"imported": n} for an import.
	Data json.RawMessage
}

// DeletedResource is what a resource.deleted event tells of the resource:
// enough to find it in an index built from earlier events.
type DeletedResource struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	DirectoryPath string   `json:"directory_path"`
	Tags          []string `json:"tags"`
}

// CreatedData is the payload of r's resource.created event.
func CreatedData(r Resource) (json.RawMessage, error) {
	return eventData(struct {
		Resource Resource `json:"resource"`
	}{apiForm(r)})
}

// UpdatedData is the payload of the resource.updated event that changed
// before into after.
func UpdatedData(before, after Resource) (json.RawMessage, error) {
	return eventData(struct {
		Resource Resource `json:"resource"`
		Changed  []string `json:"changed"`
	}{apiForm(after), Changed(before, after)})
}

// DeletedData is the payload of r's resource.deleted event.
func DeletedData(r Resource) (json.RawMessage, error) {
	return eventData(struct {
		Resource DeletedResource `json:"resource"`
	}{DeletedResource{ID: r.ID, Name: r.Name, DirectoryPath: r.DirectoryPath, Tags: nonNil(r.Tags)}})
}

// ImportedData is the payload of an import's event: how many resources it
// loaded into the account.
func ImportedData(n int64) (json.RawMessage, error) {
	return eventData(struct {
		Imported int64 `json:"imported"`
	}{n})
}

func eventData(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("event data: %w", err)
	}
	return b, nil
}

// apiForm is r as the API shows it: tags a list, never null; times in UTC.
func apiForm(r Resource) Resource {
	r.Tags = nonNil(r.Tags)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Changed lists the updatable fields whose values differ between before
// and after, by their API names. updated_at is left out: every update
// moves it.
func Changed(before, after Resource) []string {
	changed := []string{}
	if before.Name != after.Name {
		changed = append(changed, "name")
	}
	if before.DirectoryPath != after.DirectoryPath {
		changed = append(changed, "directory_path")
	}
	if string(before.Metadata) != string(after.Metadata) {
		changed = append(changed, "metadata")
	}
	return changed
}

// EventFilter is what a read of the feed asks: the account's events after
// a sequence, of some types, about resources matching the list's filters.
type EventFilter struct {
	AccountID string
	After     int64
	// FromOldest reads from the oldest event held, whatever was pruned,
	// rather than refusing (ErrGone) to skip pruned events after After.
	FromOldest bool
	// Limit caps the events returned; the store's default when 0.
	Limit int
	// Types keeps events of these types; empty keeps all.
	Types []string
	// Tags and DirectoryPrefix are the list's filters (Filter), applied
	// to the event's resource. An import's event passes them: it may
	// concern any resource.
	Tags            []string
	DirectoryPrefix string
}

// Filters reports whether f keeps only some of the account's events.
func (f EventFilter) Filters() bool {
	return len(f.Types) > 0 || len(f.Tags) > 0 || f.DirectoryPrefix != ""
}

// Match reports whether e passes f's types, tags and prefix (not its
// account or sequence, which the store's query applies).
func (f EventFilter) Match(e Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	if (len(f.Tags) == 0 && f.DirectoryPrefix == "") || e.Type == EventImported {
		return true
	}
	var d struct {
		Resource struct {
			DirectoryPath string   `json:"directory_path"`
			Tags          []string `json:"tags"`
		} `json:"resource"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return false
	}
	if !strings.HasPrefix(d.Resource.DirectoryPath, f.DirectoryPrefix) {
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(d.Resource.Tags, t) {
			return false
		}
	}
	return true
}

// ParseEventTypes splits a types query value on commas, as the list splits
// tags, and checks each against EventTypes.
func ParseEventTypes(s string) ([]string, error) {
	var types []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t == "" || slices.Contains(types, t) {
			continue
		}
		if !slices.Contains(EventTypes, t) {
			return nil, &Error{Kind: ErrInvalid, Field: "types",
				Reason: fmt.Sprintf("%q is no event type (want one of %s)", t, strings.Join(EventTypes, ", "))}
		}
		types = append(types, t)
	}
	return types, nil
}

// EventsGone is the cause of an ErrGone from a read of the feed: the
// oldest sequence the account still holds (one past its last when it holds
// none), from which a consumer that re-listed can go on.
type EventsGone struct{ Oldest int64 }

func (e *EventsGone) Error() string { return fmt.Sprintf("oldest event held: %d", e.Oldest) }

// MarshalJSON writes e as the API's Event: id, sequence, type, timestamp
// and data, the same bytes the feed and the stream serve.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string          `json:"id"`
		Sequence  int64           `json:"sequence"`
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{e.ID, e.Sequence, e.Type, e.Timestamp.UTC(), e.Data})
}
