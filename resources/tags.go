package resources

import (
	"slices"
	"strings"
)

// ParseTagFilter reads a list's tag filter, "a,b": split on ",", trim, drop
// empty pieces and duplicates. It never fails: a tag no resource could
// carry simply matches nothing.
func ParseTagFilter(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}
