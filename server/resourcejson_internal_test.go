package server

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
)

// TestResourceJSONMatchesGenerated holds the reflection-free answers to
// the generated ones: for random resources and pages, status, headers and
// body must be the bytes that encoding/json writes for the generated types.
func TestResourceJSONMatchesGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 4))
	for i := range 2000 {
		res := randomResource(r)
		want, wantErr := generatedAnswer(func(w http.ResponseWriter) error {
			api, err := genResource(&res)
			if err != nil {
				return err
			}
			return gen.GetResource200JSONResponse(api).VisitGetResourceResponse(w)
		})
		got, gotErr := generatedAnswer(resourceBody{&res}.VisitGetResourceResponse)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("resource %d %+v: error %v, generated type's %v", i, res, gotErr, wantErr)
		}
		if got != want {
			t.Fatalf("resource %d %+v:\n got %s\nwant %s", i, res, got, want)
		}
	}
	for i := range 300 {
		p := resourcePage{total: r.Int64N(1 << 40), page: 1 + r.Int64N(1000), pageSize: 1 + r.Int64N(100)}
		for range r.IntN(6) {
			p.items = append(p.items, randomResource(r))
		}
		if r.IntN(2) == 0 {
			p.nextCursor = randomString(r)
		}
		want, wantErr := generatedAnswer(func(w http.ResponseWriter) error {
			resp := gen.ListResources200JSONResponse{Items: []gen.Resource{}, Total: int(p.total),
				Page: int(p.page), PageSize: int(p.pageSize)}
			if p.nextCursor != "" {
				resp.NextCursor = &p.nextCursor
			}
			for _, res := range p.items {
				api, err := genResource(&res)
				if err != nil {
					return err
				}
				resp.Items = append(resp.Items, api)
			}
			return resp.VisitListResourcesResponse(w)
		})
		got, gotErr := generatedAnswer(p.VisitListResourcesResponse)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("page %d: error %v, generated type's %v", i, gotErr, wantErr)
		}
		if got != want {
			t.Fatalf("page %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestGenResourceCoversSpec makes sure the comparison above covers every
// field the spec gives a resource: a resource with every optional field
// set has no zero field in its generated form. A field added to the spec
// fails here until genResource, and so the comparison, knows it.
func TestGenResourceCoversSpec(t *testing.T) {
	s, typ := "x", "s3"
	res := resources.Resource{ID: uuid.NewString(), AccountID: "a", Name: "n", DirectoryPath: "/", MimeType: "text/plain",
		SHA256: strings.Repeat("0", 64), OriginalURI: &s, ExternalID: &s, ExternalStorageType: &typ,
		StorageBucket: "b", StorageKey: "k", SizeBytes: 1, Tags: []string{"t"}, Metadata: json.RawMessage(`{}`),
		CreatedBy: &s, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	api, err := genResource(&res)
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(api)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("gen.Resource.%s is not set from a resources.Resource", v.Type().Field(i).Name)
		}
	}
}

// generatedAnswer is what visit writes: status, Content-Type and body.
func generatedAnswer(visit func(http.ResponseWriter) error) (string, error) {
	rec := httptest.NewRecorder()
	if err := visit(rec); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body), nil
}

// genResource is a stored resource in the generated API type, the way the
// handlers built it before they wrote JSON themselves.
func genResource(r *resources.Resource) (gen.Resource, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return gen.Resource{}, err
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	out := gen.Resource{Id: id, AccountId: r.AccountID, Name: r.Name, DirectoryPath: r.DirectoryPath,
		MimeType: r.MimeType, Sha256: r.SHA256, OriginalUri: r.OriginalURI, ExternalId: r.ExternalID,
		StorageBucket: r.StorageBucket, StorageKey: r.StorageKey, SizeBytes: r.SizeBytes, Tags: &tags,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.ExternalStorageType != nil {
		t := gen.ExternalStorageType(*r.ExternalStorageType)
		out.ExternalStorageType = &t
	}
	if len(r.Metadata) > 0 {
		m := json.RawMessage(r.Metadata)
		out.Metadata = &m
	}
	return out, nil
}

// stringPieces are what randomString strings together: plain text, every
// character encoding/json escapes, multi-byte and invalid UTF-8.
var stringPieces = []string{"", "a", "file-0001.dat", "/d1/d2", " ", "é", "日本語", "😀", "<script>", "&amp;", ">",
	"\u2028", "\u2029", "\u2027", "\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", `"`, `\`, "'",
	"\xff", "\xe2\x80", "\xed\xa0\x80", "\u00a0", "\ufffd", "text/plain; charset=utf-8"}

func randomString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(stringPieces[r.IntN(len(stringPieces))])
	}
	return b.String()
}

func randomOptional(r *rand.Rand) *string {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		s := ""
		return &s
	}
	s := randomString(r)
	return &s
}

// metadataSamples are stored metadata as compact and as not; the invalid
// one must fail both encoders.
var metadataSamples = []string{"", `{}`, `{"source":"bench","batch":12}`, `{ "a" : [1, 2.5e10, -0.0, true, null] }`,
	"{\"html\":\"<b>&</b>\",\"sep\":\"\u2028\u2029\"}", `{"nested":{"x":{"y":["é","😀","\u00e9"]}}}`,
	"{\n\t\"k\": \"v w\"\r\n}", `{"esc":"\"\\\/\b\f\n\r\t\u0000"}`}

func randomResource(r *rand.Rand) resources.Resource {
	ids := []func(uuid.UUID) string{
		uuid.UUID.String,
		func(u uuid.UUID) string { return strings.ToUpper(u.String()) },
		func(u uuid.UUID) string { return "urn:uuid:" + u.String() },
		func(u uuid.UUID) string { return "{" + u.String() + "}" },
	}
	res := resources.Resource{
		ID:            ids[r.IntN(len(ids))](uuid.UUID(randomBytes16(r))),
		AccountID:     randomString(r),
		Name:          randomString(r),
		DirectoryPath: randomString(r),
		MimeType:      randomString(r),
		SHA256:        randomString(r),
		OriginalURI:   randomOptional(r),
		ExternalID:    randomOptional(r),
		StorageBucket: randomString(r),
		StorageKey:    randomString(r),
		SizeBytes:     []int64{0, 1, r.Int64(), math.MaxInt64, 10 << 20}[r.IntN(5)],
		CreatedBy:     randomOptional(r),
		CreatedAt:     randomTime(r),
		UpdatedAt:     randomTime(r),
	}
	res.ExternalStorageType = randomOptional(r)
	switch r.IntN(4) {
	case 0: // nil
	case 1:
		res.Tags = []string{}
	default:
		for range 1 + r.IntN(5) {
			res.Tags = append(res.Tags, randomString(r))
		}
	}
	if m := metadataSamples[r.IntN(len(metadataSamples))]; m != "" {
		res.Metadata = json.RawMessage(m)
	}
	if r.IntN(500) == 0 {
		res.Metadata = json.RawMessage(`{"unterminated":`)
	}
	if r.IntN(500) == 0 {
		res.ID = "not-a-uuid"
	}
	return res
}

func randomBytes16(r *rand.Rand) [16]byte {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// randomTime has nanoseconds or none, in UTC or another zone.
func randomTime(r *rand.Rand) time.Time {
	t := time.Unix(r.Int64N(4e9), 0)
	switch r.IntN(3) {
	case 0:
		t = t.Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
	case 1:
		t = t.Add(time.Duration(r.IntN(1e9)))
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("X", -(9*3600 + 30*60)), time.Local}
	return t.In(zones[r.IntN(len(zones))])
}
