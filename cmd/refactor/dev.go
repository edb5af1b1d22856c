package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/store"
)

// devSecretPath keeps the development secret across restarts, so tokens
// printed yesterday still work today.
const devSecretPath = "data/jwt-secret"

const (
	demoAccount = "demo"
	demoScope   = "resources:read resources:write"
)

//go:embed demo.jsonl
var demoData []byte

// devSecret returns the secret stored at path, creating a random one first
// when there is none.
func devSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read development secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create development secret: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("create development secret: %w", err)
	}
	return secret, nil
}

// loadDemoIfEmpty loads the bundled demo resources, bytes included, into a
// database that holds none, so a fresh `make run` has something to list and
// download.
func loadDemoIfEmpty(ctx context.Context, db *store.DB, svc *resources.Service, logger *slog.Logger) error {
	n, err := db.CountResources(ctx, "")
	if err != nil || n > 0 {
		return err
	}
	loaded, err := svc.Import(ctx, decodeLines(bytes.NewReader(demoData)), demoContent)
	if err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	logger.Info("loaded demo data", "resources", loaded, "account", demoAccount)
	return nil
}

// demoContent is a demo resource's bytes: a sentence naming it.
func demoContent(r store.Resource) io.Reader {
	return strings.NewReader(fmt.Sprintf("Demo content of %s for account %s.\n", path.Join(r.DirectoryPath, r.Name), r.AccountID))
}

// devBanner is what serve --dev and --ephemeral print once listening: where
// the API is, a console link that signs in, and a curl that works.
type devBanner struct {
	addr, account string
	ephemeral     bool
	seeded        int64
	seedFile      string
}

// print writes the banner with a 24-hour token for b.account signed with
// secret; with no secret (JWKS only) it prints the addresses alone.
func (b devBanner) print(w io.Writer, secret string) error {
	base := "http://" + strings.Replace(b.addr, "[::]", "127.0.0.1", 1)
	what := "re-factor resources API"
	if b.ephemeral {
		what += fmt.Sprintf(" (ephemeral: in memory, gone on exit; %d resources seeded", b.seeded)
		if b.seedFile != "" {
			what += " from " + b.seedFile
		}
		what += ")"
	}
	if secret == "" {
		_, err := fmt.Fprintf(w, "\n%s on %s\n  console: %s/console/ (tokens come from JWT_JWKS_URL's issuer)\n\n", what, base, base)
		return err
	}
	token, err := auth.Sign([]byte(secret), auth.Token{Account: b.account, Subject: "dev", Scope: demoScope, TTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	// The token rides in the fragment, which browsers never send to a
	// server; the console moves it to sessionStorage and clears the address.
	_, err = fmt.Fprintf(w, `
%s on %s
account %q, token valid 24h:

  console (signed in):  %s/console/#token=%s
  curl:                 curl -s -H 'Authorization: Bearer %s' '%s/v1/resources?page_size=5'

TOKEN=%s

`, what, base, b.account, base, token, token, base, token)
	return err
}
