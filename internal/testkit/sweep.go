package testkit

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/re-factor/resources"
)

// Matches is the list's filter written plainly, the model tests check a
// list against: whether r carries every tag of f, lies under its prefix and
// was created inside its window. The account is left to the caller.
func Matches(r resources.Resource, f resources.Filter) bool {
	for _, t := range f.Tags {
		if !slices.Contains(r.Tags, t) {
			return false
		}
	}
	return strings.HasPrefix(r.DirectoryPath, f.DirectoryPrefix) &&
		(f.CreatedAfter == nil || r.CreatedAt.After(*f.CreatedAfter)) &&
		(f.CreatedBefore == nil || r.CreatedAt.Before(*f.CreatedBefore))
}

// Query returns f's filters (the ones Matches reads) as the parameters of
// a list request; the caller adds the page, the order and the cursor.
func Query(f resources.Filter) url.Values {
	v := url.Values{}
	if len(f.Tags) > 0 {
		v.Set("tags", strings.Join(f.Tags, ","))
	}
	if f.DirectoryPrefix != "" {
		v.Set("directory_prefix", f.DirectoryPrefix)
	}
	if f.CreatedAfter != nil {
		v.Set("created_after", f.CreatedAfter.Format(time.RFC3339))
	}
	if f.CreatedBefore != nil {
		v.Set("created_before", f.CreatedBefore.Format(time.RFC3339))
	}
	return v
}

// SweepCase is one combination of the list's filters in FilterSweep.
type SweepCase struct {
	About         string // e.g. "tags common, prefix /d1, window month, oldest first"
	Tags          []string
	Prefix        string
	After, Before *time.Time
	Ascending     bool
}

// FilterSweep returns every combination of the filters a user may send
// (issue 21), over a dataset whose most common tags are common and second
// and a rare one is rare, with paths /d1/d2/d3 deep and two years of
// creation times from 2024: no tag, a common tag, a rare tag, two common
// tags, a common and a rare tag; no prefix or one of one to three levels;
// no window, a day, a month, a quarter, a year, or a window open on either
// side; newest or oldest first. The plan test and the bench sweep the same.
func FilterSweep(common, second, rare string) []SweepCase {
	tags := []struct {
		name string
		tags []string
	}{
		{"", nil}, {"common", []string{common}}, {"rare", []string{rare}},
		{"two common", []string{common, second}}, {"common+rare", []string{common, rare}},
	}
	windows := []struct {
		name          string
		after, before *time.Time
	}{
		{"", nil, nil},
		{"day", day("2025-02-01"), day("2025-02-02")},
		{"month", day("2025-02-01"), day("2025-03-01")},
		{"quarter", day("2024-06-01"), day("2024-09-01")},
		{"year", day("2024-03-01"), day("2025-03-01")},
		{"after", day("2025-06-01"), nil},
		{"before", nil, day("2024-04-01")},
	}
	var out []SweepCase
	for _, tg := range tags {
		for _, p := range []string{"", "/d1", "/d1/d2", "/d1/d2/d3"} {
			for _, w := range windows {
				for _, asc := range []bool{false, true} {
					var about []string
					for _, part := range []string{"tags " + tg.name, "prefix " + p, "window " + w.name} {
						if !strings.HasSuffix(part, " ") {
							about = append(about, part)
						}
					}
					about = append(about, map[bool]string{false: "newest first", true: "oldest first"}[asc])
					out = append(out, SweepCase{About: strings.Join(about, ", "), Tags: tg.tags, Prefix: p,
						After: w.after, Before: w.before, Ascending: asc})
				}
			}
		}
	}
	return out
}

func day(s string) *time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &t
}
