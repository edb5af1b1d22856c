package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxTokenSize bounds the work an unauthenticated client can cause: larger
// tokens are rejected before any decoding or cryptography.
const maxTokenSize = 8 << 10

// b64 is strict so that a token has exactly one accepted encoding.
var b64 = base64.RawURLEncoding.Strict()

// header holds the protected-header members used to select a key.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// BearerToken returns the token of an Authorization header's value, or
// the error Verify gives for a missing or malformed one.
func BearerToken(authorization string) (string, error) { return bearerToken(authorization) }

// bearerToken extracts the token from an Authorization header value.
func bearerToken(authorization string) (string, error) {
	authorization = strings.TrimSpace(authorization)
	if authorization == "" {
		return "", noCredentials("missing Authorization header")
	}
	scheme, token, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", noCredentials("authorization scheme must be Bearer")
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return "", invalidToken("bearer token is empty")
	case len(token) > maxTokenSize:
		return "", invalidToken("token is larger than 8 KiB")
	}
	return token, nil
}

// parseCompact checks that token is a well-formed JWS in compact
// serialization and returns its protected header. Signature and claims are
// checked later; decoding everything here gives precise reasons up front.
func parseCompact(token string) (header, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		if strings.HasPrefix(token, "{") {
			return header{}, invalidToken("token must use JWS compact serialization")
		}
		return header{}, invalidToken("token must have three dot-separated parts")
	}
	var h header
	if err := decodeSegment("header", parts[0], &h); err != nil {
		return header{}, err
	}
	if h.Crit != nil {
		return header{}, invalidToken("token header has crit extensions, which are not supported")
	}
	var claims map[string]json.RawMessage
	if err := decodeSegment("payload", parts[1], &claims); err != nil {
		return header{}, err
	}
	if _, err := b64.DecodeString(parts[2]); err != nil {
		return header{}, invalidToken("token signature is not valid base64url")
	}
	return h, nil
}

// decodeSegment decodes the base64url segment of the token called name,
// which must hold a JSON object, into dst.
func decodeSegment(name, segment string, dst any) error {
	raw, err := b64.DecodeString(segment)
	if err != nil {
		return invalidToken("token " + name + " is not valid base64url")
	}
	raw = bytes.TrimSpace(raw)
	if !bytes.HasPrefix(raw, []byte("{")) || json.Unmarshal(raw, dst) != nil {
		return invalidToken("token " + name + " is not a valid JSON object")
	}
	return nil
}
