package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
)

// query is one entry of the benchmark's mix: a list request of one account.
type query struct {
	name, about string
	account     string
	tags        []string
	prefix      string
	after       *time.Time
	before      *time.Time
	page        int64
	pageSize    int64
	ascending   bool
	cursor      string // Q11: filled in from a live response
}

// deepPage is Q7's page: rows 49,981–50,000 of the largest account, or
// half-way through it in a dataset too small for that (a smoke run).
func deepPage(rows int) int64 {
	return min(2500, int64(accountSizes(rows)[0])/40)
}

// mix returns Q1–Q11 over the dataset of rows resources.
func mix(rows int) []query {
	deep := deepPage(rows)
	weekStart := datasetStart.Add(400 * 24 * time.Hour)
	weekEnd := weekStart.Add(7 * 24 * time.Hour)
	monthEnd := weekStart.Add(60 * 24 * time.Hour)
	return []query{
		{name: "Q1", about: "first page, no filter (largest account)", account: largestAcct},
		{name: "Q2", about: "one common tag", account: largestAcct, tags: []string{commonTag}},
		{name: "Q3", about: "two tags", account: largestAcct, tags: []string{commonTag, secondTag}},
		{name: "Q4", about: "directory prefix " + datasetPrefix, account: largestAcct, prefix: datasetPrefix},
		{name: "Q5", about: "one-week window", account: largestAcct, after: &weekStart, before: &weekEnd},
		{name: "Q6", about: "tag + prefix + window together", account: largestAcct, tags: []string{commonTag},
			prefix: "/d1", after: &weekStart, before: &monthEnd},
		{name: "Q7", about: fmt.Sprintf("page %d (offset %d)", deep, (deep-1)*20), account: largestAcct, page: deep},
		{name: "Q8", about: "page_size=100", account: largestAcct, pageSize: 100},
		{name: "Q9", about: "small account", account: smallestAcct},
		{name: "Q10", about: "rare tag " + rareTag, account: largestAcct, tags: []string{rareTag}},
		{name: "Q11", about: fmt.Sprintf("cursor at depth %d", deep*20), account: largestAcct},
	}
}

// path returns the request's path and query string.
func (q query) path() string {
	v := testkit.Query(q.filter())
	if q.page > 1 {
		v.Set("page", strconv.FormatInt(q.page, 10))
	}
	if q.pageSize != 0 {
		v.Set("page_size", strconv.FormatInt(q.pageSize, 10))
	}
	if q.ascending {
		v.Set("sort", "asc")
	}
	if q.cursor != "" {
		v.Set("cursor", q.cursor)
	}
	return "/v1/resources?" + v.Encode()
}

// filter is the store filter the server builds from path.
func (q query) filter() resources.Filter {
	f := resources.Filter{AccountID: q.account, Tags: q.tags, DirectoryPrefix: q.prefix,
		CreatedAfter: q.after, CreatedBefore: q.before, Page: max(q.page, 1), PageSize: q.pageSize,
		Cursor: q.cursor, Ascending: q.ascending}
	if f.PageSize == 0 {
		f.PageSize = 20
	}
	return f
}
