package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// revokeLinksCmd revokes every download and upload link of an account, or
// of all accounts: what an operator does when links may have leaked (a
// token is never stored, so there is no secret to rotate instead).
func revokeLinksCmd(ctx context.Context, cfg config, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke-links", flag.ContinueOnError)
	fs.SetOutput(stderr)
	account := fs.String("account", "", "the account whose links to revoke")
	all := fs.Bool("all", false, "revoke the links of every account")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if (*account == "") == !*all {
		fmt.Fprintln(stderr, "refactor revoke-links: give exactly one of --account A and --all")
		return errUsage
	}
	b, err := openBackend(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	n, err := b.catalog.RevokeLinks(ctx, *account)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "revoke-links: revoked %d links\n", n)
	return err
}
