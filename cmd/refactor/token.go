package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/re-factor/resources/auth"
)

func tokenCmd(cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	account := fs.String("account", "", "account the token acts for (required)")
	sub := fs.String("sub", "", "subject, recorded as created_by")
	scope := fs.String("scope", "resources:read resources:write", "space-separated scopes")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	dev := fs.Bool("dev", false, "sign with the development secret in data/ when JWT_SECRET is unset")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *account == "" {
		return errors.New("token: --account is required")
	}
	secret := cfg.JWTSecret
	if secret == "" && *dev {
		var err error
		if secret, err = devSecret(devSecretPath); err != nil {
			return err
		}
	}
	if secret == "" {
		return errors.New("token: JWT_SECRET is not set")
	}
	token, err := auth.Sign([]byte(secret), auth.Token{
		Account: *account, Subject: *sub, Scope: *scope, TTL: *ttl,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, AccountClaim: cfg.JWTAccountClaim,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
