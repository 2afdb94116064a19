// Package cli is the imgpurge command line: subcommands, their flags and
// exit codes.
package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
)

// Exit codes scripts can rely on.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitNoReach = 3
)

const usage = `imgpurge: purge cached image renditions through imgpurged.

Commands:
  token --dev   print a development token that the local configuration accepts

Run "imgpurge COMMAND --help" for a command's flags and an example.
`

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "token":
		return token(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "imgpurge: unknown command %q\n\n%s", args[0], usage)
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
		return ExitUsage
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
