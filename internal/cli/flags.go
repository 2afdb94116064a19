package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// URLDefault is the server a command calls when neither --url nor
// IMGPURGE_URL names one: the address `make run` listens on.
const URLDefault = "http://127.0.0.1:8080"

// TimeoutDefault bounds one request to imgpurged. It is above the
// server's default request_timeout (10s), so a purge that runs into the
// server's deadline is answered, journaled, rather than cut off here.
const TimeoutDefault = 60 * time.Second

// command is one subcommand's flag set and help text.
type command struct {
	fs *flag.FlagSet
}

// newCommand builds a flag set whose --help prints synopsis, what the
// command does, an example and the flags.
func newCommand(name, synopsis, about, example string, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: imgpurge %s\n\n%s\nExample:\n%s\nFlags:\n", synopsis, about, example)
		fs.PrintDefaults()
	}
	return &command{fs: fs}
}

// parse parses flags placed anywhere among the arguments, since
// "imgpurge purge ID --json" is how people type it, and returns the
// positional arguments. Everything after "--" is positional.
func (c *command) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// helpOr is the exit code of a flag error: --help is not a failure.
func helpOr(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// usageError reports a usage problem the flag package did not catch.
func usageError(stderr io.Writer, cmd, format string, a ...any) int {
	fmt.Fprintf(stderr, "imgpurge %s: %s\nRun \"imgpurge %s --help\" for usage.\n",
		cmd, fmt.Sprintf(format, a...), cmd)
	return ExitUsage
}

// connFlags are the server and credential settings of every command that
// calls imgpurged. Flags win over the environment. Their defaults are
// empty on purpose: --help prints defaults, and these may hold secrets.
type connFlags struct {
	url          string
	token        string
	tokenURL     string
	clientID     string
	clientSecret string
	scope        string
	audience     string
	timeout      time.Duration
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "",
		"imgpurged's base URL (default $IMGPURGE_URL, else "+URLDefault+")")
	fs.StringVar(&c.token, "token", "",
		"bearer token (default $IMGPURGE_TOKEN; the variable keeps it out of ps)")
	fs.StringVar(&c.tokenURL, "token-url", "",
		"OAuth 2 token endpoint for the client-credentials flow (default $IMGPURGE_TOKEN_URL)")
	fs.StringVar(&c.clientID, "client-id", "", "OAuth 2 client id (default $IMGPURGE_CLIENT_ID)")
	fs.StringVar(&c.clientSecret, "client-secret", "",
		"OAuth 2 client secret (default $IMGPURGE_CLIENT_SECRET)")
	fs.StringVar(&c.scope, "scope", "", "space-separated scopes to request (default $IMGPURGE_SCOPE)")
	fs.StringVar(&c.audience, "audience", "",
		"audience parameter for the token endpoint (default $IMGPURGE_AUDIENCE)")
	fs.DurationVar(&c.timeout, "timeout", TimeoutDefault, "bound on one request to imgpurged")
}

// resolve fills what the flags left empty from the environment and checks
// the result; the error is a usage error.
func (c *connFlags) resolve(getenv func(string) string) error {
	// A token or a token URL given as a flag picks the way of
	// authenticating; the environment only fills in.
	flagToken, flagTokenURL := c.token != "", c.tokenURL != ""
	if flagToken && flagTokenURL {
		return errors.New("give either --token or --token-url, not both")
	}
	fill := func(v *string, name string) {
		if *v == "" {
			*v = strings.TrimSpace(getenv(name))
		}
	}
	fill(&c.url, "IMGPURGE_URL")
	if c.url == "" {
		c.url = URLDefault
	}
	if !flagTokenURL {
		fill(&c.token, "IMGPURGE_TOKEN")
	}
	if !flagToken && c.token == "" {
		fill(&c.tokenURL, "IMGPURGE_TOKEN_URL")
	}
	fill(&c.clientID, "IMGPURGE_CLIENT_ID")
	fill(&c.clientSecret, "IMGPURGE_CLIENT_SECRET")
	fill(&c.scope, "IMGPURGE_SCOPE")
	fill(&c.audience, "IMGPURGE_AUDIENCE")
	return c.check()
}

func (c *connFlags) check() error {
	if err := checkHTTPURL(c.url); err != nil {
		return fmt.Errorf("--url / IMGPURGE_URL: %w", err)
	}
	if c.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	switch {
	case c.token != "":
		return nil
	case c.tokenURL == "":
		return errors.New("no credentials: set IMGPURGE_TOKEN (or --token), or IMGPURGE_TOKEN_URL " +
			"with IMGPURGE_CLIENT_ID and IMGPURGE_CLIENT_SECRET for the client-credentials flow")
	case c.clientID == "" || c.clientSecret == "":
		return errors.New("the client-credentials flow needs --client-id and --client-secret " +
			"(or IMGPURGE_CLIENT_ID and IMGPURGE_CLIENT_SECRET)")
	}
	if err := checkHTTPURL(c.tokenURL); err != nil {
		return fmt.Errorf("--token-url / IMGPURGE_TOKEN_URL: %w", err)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s is not an http or https URL", redactURL(s))
	}
	if u.User != nil {
		return errors.New("must not hold credentials; use the client id and secret settings")
	}
	return nil
}

// redactURL hides a password written into a URL before it is printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
