package auth

import (
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwt"
)

// principal reads the identity out of a verified token.
func (v *Verifier) principal(token jwt.Token) (Principal, error) {
	account, err := v.account(token)
	if err != nil {
		return Principal{}, err
	}
	scopes, err := scopes(token)
	if err != nil {
		return Principal{}, err
	}
	subject, _ := token.Subject()
	return Principal{AccountID: account, Subject: subject, Scopes: scopes}, nil
}

func (v *Verifier) account(token jwt.Token) (string, error) {
	if !token.Has(v.accountClaim) {
		return "", forbidden("token has no " + v.accountClaim + " claim")
	}
	var account any
	_ = token.Get(v.accountClaim, &account)
	s, ok := account.(string)
	if !ok || s == "" {
		return "", forbidden("token " + v.accountClaim + " claim must be a non-empty string")
	}
	return s, nil
}

// scopes returns the union of the "scope" claim (a space-separated string)
// and the "scp" claim (a string like "scope" or an array of strings),
// without duplicates, in order of appearance.
func scopes(token jwt.Token) ([]string, error) {
	var all []string
	if token.Has("scope") {
		var scope any
		_ = token.Get("scope", &scope)
		s, ok := scope.(string)
		if !ok {
			return nil, invalidToken("token scope claim must be a space-separated string")
		}
		all = append(all, strings.Fields(s)...)
	}
	if token.Has("scp") {
		var scp any
		_ = token.Get("scp", &scp)
		list, ok := stringList(scp)
		if !ok {
			return nil, invalidToken("token scp claim must be a string or an array of strings")
		}
		all = append(all, list...)
	}
	return dedup(all), nil
}

// stringList accepts a space-separated string or a JSON array of strings.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return strings.Fields(v), true
	case []any:
		list := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			list = append(list, s)
		}
		return list, true
	}
	return nil, false
}

func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
