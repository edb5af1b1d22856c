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

// postgres is the server the benchmark loads and queries.
type postgres struct {
	admin   *sql.DB
	base    *url.URL
	cluster *storetest.Cluster
}

// openPostgres connects to adminURL, or starts a throwaway cluster in dir
// with settings when adminURL is empty.
func openPostgres(dir, adminURL string, settings []string) (*postgres, error) {
	p := &postgres{}
	if adminURL == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		os.Chmod(filepath.Dir(dir), 0o755) // the server may run as postgres
		c, err := storetest.StartCluster(filepath.Join(dir, "pg"), settings...)
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

// describe returns the server's version and the settings that matter here.
func (p *postgres) describe(ctx context.Context) string {
	var v, sb, rpc, ecs, wm, jit string
	p.admin.QueryRowContext(ctx, `SELECT current_setting('server_version'), current_setting('shared_buffers'),
		current_setting('random_page_cost'), current_setting('effective_cache_size'),
		current_setting('work_mem'), current_setting('jit')`).Scan(&v, &sb, &rpc, &ecs, &wm, &jit)
	where := "the server at " + p.base.Redacted()
	if p.cluster != nil {
		where = "a throwaway cluster started by the benchmark"
	}
	return fmt.Sprintf("PostgreSQL %s (%s; shared_buffers %s, random_page_cost %s, effective_cache_size %s, "+
		"work_mem %s, jit %s)", v, where, sb, rpc, ecs, wm, jit)
}

// dropDatabase drops database name, if it is there.
func (p *postgres) dropDatabase(ctx context.Context, name string) {
	if _, err := p.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}
