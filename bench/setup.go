package main

import (
	"fmt"
	"slices"
	"strings"
)

// setup is one database the list benchmark loads and measures.
type setup struct {
	name     string // as -setups names it
	title    string // the report's heading
	sqlite   bool
	settings []string // PostgreSQL server settings beyond port and socket
}

// tunedSettings tune a cluster for this machine's 24 GiB and SSD, as an
// operator might: memory for the working set, fewer checkpoints during the
// load, no JIT for millisecond queries. Durability stays on (fsync,
// synchronous_commit), so import figures are honest.
var tunedSettings = []string{
	"shared_buffers=2GB", "effective_cache_size=12GB", "work_mem=16MB",
	"maintenance_work_mem=512MB", "max_wal_size=8GB", "checkpoint_timeout=30min",
	"random_page_cost=1.1", "jit=off", "max_connections=100",
}

// allSetups are the setups in the order they run: the stock cluster first,
// since it is what a user gets from initdb and the product must be fast on it.
var allSetups = []setup{
	{name: "stock", title: "PostgreSQL, stock settings"},
	{name: "tuned", title: "PostgreSQL, tuned settings", settings: tunedSettings},
	{name: "sqlite", title: "SQLite, the embedded default", sqlite: true},
}

// parseSetups returns the setups named in list (comma-separated), in their
// order of allSetups. With a PostgreSQL server of the caller's (pgURL), the
// benchmark cannot choose its settings, so one PostgreSQL setup at most.
func parseSetups(list, pgURL string) ([]setup, error) {
	var names []string
	for n := range strings.SplitSeq(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	var out []setup
	for _, s := range allSetups {
		if slices.Contains(names, s.name) {
			out = append(out, s)
		}
	}
	if len(out) != len(names) || len(out) == 0 {
		return nil, fmt.Errorf("-setups %q: want a comma-separated list of stock, tuned and sqlite", list)
	}
	if pgURL == "" {
		return out, nil
	}
	if slices.ContainsFunc(out, func(s setup) bool { return s.name == "stock" }) &&
		slices.ContainsFunc(out, func(s setup) bool { return s.name == "tuned" }) {
		return nil, fmt.Errorf("-pg-url: the server's own settings apply, so run one of -setups stock or tuned, not both")
	}
	for i := range out {
		if !out[i].sqlite {
			out[i].title, out[i].settings = "PostgreSQL, the given server's own settings", nil
		}
	}
	return out, nil
}
