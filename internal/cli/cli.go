package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
)

// Exit codes scripts can rely on.
const (
	// ExitOK: everything asked for succeeded.
	ExitOK = 0
	// ExitFailed: some purge failed, was journaled for retry, or a line of
	// a bulk file was malformed or not run.
	ExitFailed = 1
	// ExitUsage: bad flags or arguments, missing credentials, an unreadable
	// file, a datastore the server does not know, or (journal commands) a
	// purge id it does not know or a filter it refuses.
	ExitUsage = 2
	// ExitNoReach: the server or the token endpoint could not be reached,
	// or refused the credentials (401, 403).
	ExitNoReach = 3
)

const usage = `imgpurge: purge cached image renditions through imgpurged.

Usage: imgpurge COMMAND [ARGS] [FLAGS]

Commands:
  purge ID [SELECTOR]    purge one image's renditions everywhere they are cached
  purge --from FILE      purge many, one "ID [SELECTOR]" per line ("-" reads stdin)
  status PURGE-ID        show a purge and each layer's state
  purges                 list recent purges (the audit trail)
  jobs --dead            list purges the journal gave up on
  retry PURGE-ID         run a dead purge again
  token --dev            print a development token that the local configuration accepts

Every command that calls imgpurged takes the server and credentials as
flags or from the environment:
  --url            IMGPURGE_URL            default http://127.0.0.1:8080
  --token          IMGPURGE_TOKEN          a bearer token
or a token from the identity provider's OAuth 2 client-credentials flow,
cached on disk until it expires:
  --token-url      IMGPURGE_TOKEN_URL
  --client-id      IMGPURGE_CLIENT_ID
  --client-secret  IMGPURGE_CLIENT_SECRET
  --scope          IMGPURGE_SCOPE          (optional)
  --audience       IMGPURGE_AUDIENCE       (optional)

Exit codes: 0 all succeeded; 1 some failed or were journaled; 2 usage or
configuration error; 3 server unreachable or unauthorized.

Run "imgpurge COMMAND --help" for a command's flags and an example.
`

// Env is what one run of the command line sees of its process. Main fills
// it from the real process; tests build their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Terminal reports whether Stderr is a terminal, which turns plain
	// progress lines into a progress bar.
	Terminal bool
}

// Main runs the command line in this process and returns the exit code.
// The first SIGINT or SIGTERM stops a bulk run from starting more purges;
// a second one ends the process.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	return Run(ctx, args, Env{
		Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv,
		Terminal: isTerminal(stderr),
	})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Run runs one command line with env and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "purge":
		return purgeCommand(ctx, args[1:], env)
	case "status":
		return statusCommand(ctx, args[1:], env)
	case "purges":
		return purgesCommand(ctx, args[1:], env)
	case "jobs":
		return jobsCommand(ctx, args[1:], env)
	case "retry":
		return retryCommand(ctx, args[1:], env)
	case "token":
		return token(args[1:], env.Stdout, env.Stderr)
	case "-h", "--help", "-help", "help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "imgpurge: unknown command %q\n\n%s", args[0], usage)
	return ExitUsage
}

func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "mint a development token signed with the local key")
	cfgPath := fs.String("config", "deploy/local/imgpurge.yaml", "imgpurged configuration file")
	subject := fs.String("subject", "dev-user", "token subject (who purges)")
	tenants := fs.String("tenant", "", "comma-separated tenants (default: every tenant the config names)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: imgpurge token --dev [flags]

Prints a token signed with the development key under the configuration's
data directory (created on first use). Only a server whose auth.mode is
"dev" accepts it.

Example:
  TOKEN=$(imgpurge token --dev)
  curl -X DELETE -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/image/<id>/640x360

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return helpOr(err)
	}
	if !*dev {
		fmt.Fprintln(stderr, "imgpurge token: only --dev tokens can be minted; production tokens come from the identity provider")
		return ExitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "imgpurge token:", err)
		return ExitUsage
	}
	if cfg.Auth.Mode != config.AuthModeDev {
		fmt.Fprintf(stderr, "imgpurge token: %s has auth.mode %q; dev tokens need \"dev\"\n", *cfgPath, cfg.Auth.Mode)
		return ExitUsage
	}
	ts := tenantList(*tenants, cfg)
	tok, err := auth.MintDev(cfg.Auth, cfg.DataDir, *subject, ts, *ttl)
	if err != nil {
		fmt.Fprintln(stderr, "imgpurge token:", err)
		return ExitFailed
	}
	fmt.Fprintln(stdout, tok)
	return ExitOK
}

func tenantList(flagVal string, cfg *config.Config) []string {
	if flagVal != "" {
		return strings.Split(flagVal, ",")
	}
	var ts []string
	for _, ds := range cfg.Datastores {
		for _, t := range ds.Tenants {
			if t != "*" {
				ts = append(ts, t)
			}
		}
	}
	return ts
}
