package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "github.com/lib/pq" // registers "postgres"

	"github.com/re-factor/resources/store/storetest"
)

// clusterSettings tune the throwaway cluster for this machine's 24 GiB and
// SSD, as production would be tuned: memory for the working set, fewer
// checkpoints during the load, no JIT for millisecond queries. Durability
// stays on (fsync, synchronous_commit), so import figures are honest.
var clusterSettings = []string{
	"shared_buffers=2GB", "effective_cache_size=12GB", "work_mem=16MB",
	"maintenance_work_mem=512MB", "max_wal_size=8GB", "checkpoint_timeout=30min",
	"random_page_cost=1.1", "jit=off", "max_connections=100",
}

// postgres is the server the benchmark loads and queries.
type postgres struct {
	admin   *sql.DB
	base    *url.URL
	cluster *storetest.Cluster
}

// openPostgres connects to adminURL, or starts a throwaway cluster in dir
// when adminURL is empty.
func openPostgres(dir, adminURL string) (*postgres, error) {
	p := &postgres{}
	if adminURL == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		os.Chmod(filepath.Dir(dir), 0o755) // the server may run as postgres
		c, err := storetest.StartCluster(filepath.Join(dir, "pg"), clusterSettings...)
		if err != nil {
			return nil, fmt.Errorf("throwaway cluster: %w", err)
		}
		p.cluster, adminURL = c, c.URL("postgres")
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	p.base = u
	if p.admin, err = sql.Open("postgres", adminURL); err != nil {
		return nil, err
	}
	return p, p.admin.Ping()
}

// freshDatabase drops and creates database name and returns its URL.
func (p *postgres) freshDatabase(ctx context.Context, name string) (string, error) {
	if _, err := p.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := p.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	u := *p.base
	u.Path = "/" + name
	return u.String(), nil
}

// postmaster returns the pid of the throwaway cluster's postmaster, or 0.
func (p *postgres) postmaster() int {
	if p.cluster == nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(p.cluster.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

func (p *postgres) close() {
	p.admin.Close()
	if p.cluster != nil {
		if err := p.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.RemoveAll(p.cluster.Dir)
	}
}

// version returns the server's version and the settings that matter here.
func (p *postgres) describe(ctx context.Context) string {
	var v, sb, jit string
	p.admin.QueryRowContext(ctx, `SELECT current_setting('server_version'),
		current_setting('shared_buffers'), current_setting('jit')`).Scan(&v, &sb, &jit)
	where := "the server at " + p.base.Redacted()
	if p.cluster != nil {
		where = "a throwaway cluster started by the benchmark"
	}
	return fmt.Sprintf("PostgreSQL %s (%s; shared_buffers %s, jit %s)", v, where, sb, jit)
}
