// Command refactor is the resources API server and its data tools, one
// command each; usage lists them and run dispatches them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: refactor <command> [flags]

commands:
  serve        run the HTTP server (migrates the database first); --dev for a
               demo with a signed-in console link, --ephemeral [--seed F] for
               a throwaway in-memory server for tests
  migrate      apply database migrations to DATABASE_URL
  import       load JSON Lines resources (--file F, - for stdin), all or
               nothing; shows progress on a terminal
  export       write resources as JSON Lines to stdout (--account A); shows
               progress on a terminal
  gc           remove stored bytes no resource references (--grace 1h,
               --dry-run), and links that expired or were used up
  revoke-links revoke every download and upload link of an account
               (--account A) or of all (--all)
  token        print an HS256 token signed with JWT_SECRET (--account A)
  config       print the configuration reference as a Markdown table
  healthcheck  exit 0 when the server on LISTEN_ADDR answers /healthz
  version      print the version and commit of this build
  help         print this

Configuration comes from the environment; "refactor config" lists it.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "refactor:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run executes one command; tests call it as main does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, cfg, args, stdout, stderr)
	case "migrate":
		return migrate(ctx, cfg)
	case "import":
		return importCmd(ctx, cfg, args, stdin, stderr)
	case "export":
		return exportCmd(ctx, cfg, args, stdout, stderr)
	case "gc":
		return gcCmd(ctx, cfg, args, stdout, stderr)
	case "revoke-links":
		return revokeLinksCmd(ctx, cfg, args, stderr)
	case "token":
		return tokenCmd(cfg, args, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "version":
		return versionCmd(stdout)
	case "config":
		_, err := io.WriteString(stdout, configTable())
		return err
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	fmt.Fprintf(stderr, "refactor: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}
