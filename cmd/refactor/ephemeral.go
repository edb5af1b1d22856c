package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/re-factor/resources/catalog"
)

// ephemeral turns cfg into a throwaway server for a consumer's CI: the
// database and the bytes live in memory and vanish on exit, and tokens are
// signed with JWT_SECRET or, when it is unset, a random secret that the
// printed token carries.
func ephemeral(cfg config) config {
	cfg.DatabaseURL = "sqlite::memory:"
	cfg.DatabaseReadURL = ""
	cfg.BlobURL = "mem://"
	if cfg.JWTSecret == "" && cfg.JWTJWKSURL == "" {
		cfg.JWTSecret = rand.Text() + rand.Text()
	}
	return cfg
}

// seed imports the JSON Lines file at path (the import format), all lines or
// none, and returns how many resources it loaded.
func seed(ctx context.Context, svc *catalog.Service, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	defer f.Close()
	n, err := svc.Import(ctx, f, catalog.ImportOptions{})
	if err != nil {
		return 0, fmt.Errorf("seed %s: nothing loaded: %w", path, err)
	}
	return n, nil
}
