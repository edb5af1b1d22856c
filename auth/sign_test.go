package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignVerifies(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		token Token
		want  Principal
	}{
		{
			name:  "defaults",
			token: Token{Account: "acct-1", Subject: "user-1", Scope: "resources:read resources:write", TTL: time.Minute},
			want:  Principal{AccountID: "acct-1", Subject: "user-1", Scopes: []string{"resources:read", "resources:write"}},
		},
		{
			name:  "issuer and audience",
			cfg:   Config{Issuer: "refactor-cli", Audience: "resources-api"},
			token: Token{Account: "acct-2", TTL: time.Hour, Issuer: "refactor-cli", Audience: "resources-api"},
			want:  Principal{AccountID: "acct-2"},
		},
		{
			name:  "account claim",
			cfg:   Config{AccountClaim: "tenant"},
			token: Token{Account: "acct-3", TTL: time.Minute, AccountClaim: "tenant"},
			want:  Principal{AccountID: "acct-3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, err := Sign(testSecret, tt.token)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			v := newHMACVerifier(t, tt.cfg)
			p, err := v.Verify(context.Background(), "Bearer "+signed)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !equalPrincipal(p, tt.want) {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
		})
	}
}

func TestSignContents(t *testing.T) {
	signed, err := Sign(testSecret, Token{Account: "acct-1", TTL: 90 * time.Second})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	parts := strings.Split(signed, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d parts, want 3", len(parts))
	}
	var header struct{ Alg, Typ string }
	decodePart(t, parts[0], &header)
	if header.Alg != "HS256" || header.Typ != "JWT" {
		t.Errorf("got header %+v, want alg HS256 and typ JWT", header)
	}
	var payload map[string]any
	decodePart(t, parts[1], &payload)
	keys := make([]string, 0, len(payload))
	for k := range payload {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"account_id", "exp", "iat"}; !slices.Equal(keys, want) {
		t.Errorf("got claims %q, want %q (empty fields left out)", keys, want)
	}
	exp, _ := payload["exp"].(float64)
	iat, _ := payload["iat"].(float64)
	if exp-iat != 90 {
		t.Errorf("exp - iat = %v, want 90", exp-iat)
	}
	if now := float64(time.Now().Unix()); iat < now-5 || iat > now {
		t.Errorf("iat %v is not now (%v)", iat, now)
	}
}

func TestSignRejects(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		token  Token
		want   string
	}{
		{"short secret", []byte("short"), Token{Account: "a", TTL: time.Minute}, "HMAC secret has 5 bytes"},
		{"no TTL", testSecret, Token{Account: "a"}, "TTL must be positive"},
		{"negative TTL", testSecret, Token{Account: "a", TTL: -time.Minute}, "TTL must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.secret, tt.token)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func decodePart(t *testing.T, part string, dst any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		t.Fatal(err)
	}
}
