package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
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

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/catalog"
)

// devSecretPath keeps the development secret across restarts, so tokens
// printed yesterday still work today.
const devSecretPath = "data/jwt-secret"

const (
	demoAccount = "demo"
	demoScope   = "resources:read resources:write"
)

// demoTemplate is the demo data without what its content determines;
// demoLines fills that in.
//
//go:embed demo.jsonl
var demoTemplate []byte

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
// download. It returns how many it loaded: none into a database that held
// some.
func loadDemoIfEmpty(ctx context.Context, svc *catalog.Service, logger *slog.Logger) (int64, error) {
	n, err := svc.Count(ctx, "")
	if err != nil || n > 0 {
		return 0, err
	}
	lines, perAccount, err := demoLines()
	if err != nil {
		return 0, err
	}
	loaded, err := svc.Import(ctx, bytes.NewReader(lines), catalog.ImportOptions{
		Content: func(r resources.Resource) io.Reader { return bytes.NewReader(demoContent(r)) },
	})
	if err != nil {
		return 0, fmt.Errorf("load demo data: %w", err)
	}
	logger.Info("loaded demo data", "resources", loaded, "by_account", perAccount)
	return loaded, nil
}

// demoLines is the demo data in the import format: demoTemplate's lines
// with each resource's sha256 and size_bytes, taken from its content
// (demoContent), filled in. It counts the lines of each account: the demo
// data holds another account's resources too, which show that the demo
// account's token cannot see them, and the log says so.
func demoLines() ([]byte, map[string]int, error) {
	var out bytes.Buffer
	perAccount := map[string]int{}
	n := 0
	for line := range bytes.Lines(demoTemplate) {
		n++
		// The resource names the content; the fields keep the line as
		// written but for the two added.
		var r resources.Resource
		var fields map[string]json.RawMessage
		if err := errors.Join(json.Unmarshal(line, &r), json.Unmarshal(line, &fields)); err != nil {
			return nil, nil, fmt.Errorf("demo.jsonl line %d: %w", n, err)
		}
		perAccount[r.AccountID]++
		content := demoContent(r)
		sum := sha256.Sum256(content)
		fields["sha256"], _ = json.Marshal(hex.EncodeToString(sum[:]))
		fields["size_bytes"], _ = json.Marshal(len(content))
		b, err := json.Marshal(fields)
		if err != nil {
			return nil, nil, fmt.Errorf("demo.jsonl line %d: %w", n, err)
		}
		out.Write(append(b, '\n'))
	}
	return out.Bytes(), perAccount, nil
}

// demoContent is a demo resource's bytes: a sentence naming it.
func demoContent(r resources.Resource) []byte {
	return fmt.Appendf(nil, "Demo content of %s for account %s.\n", path.Join(r.DirectoryPath, r.Name), r.AccountID)
}

// devBanner is what serve --dev and --ephemeral print once listening: where
// the API is, a console link that signs in, and a curl that works.
type devBanner struct {
	addr, account string
	ephemeral     bool
	seeded        int64
	seedFrom      string // the --seed file or the demo data
}

// print writes the banner with a 24-hour token for b.account signed with
// secret; with no secret (JWKS only) it prints the addresses alone.
func (b devBanner) print(w io.Writer, secret string) error {
	base := "http://" + strings.Replace(b.addr, "[::]", "127.0.0.1", 1)
	what := "re-factor resources API"
	if b.ephemeral {
		what += fmt.Sprintf(" (ephemeral: in memory, gone on exit; %d resources seeded", b.seeded)
		if b.seedFrom != "" {
			what += " from " + b.seedFrom
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
