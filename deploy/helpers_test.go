package deploy_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd   string // upper case: FROM, RUN, ...
	args  string
	stage int // index of the FROM it belongs to
	line  int
}

// parseDockerfile reads the instructions of a Dockerfile. It knows the
// little of the syntax the file uses: comments, parser directives and
// backslash continuations.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	stage, start, n := -1, 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, more := strings.CutSuffix(line, "\\"); more {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage, line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// makeBuildPackage returns the package the Makefile's build target builds
// into $(BIN)/name.
func makeBuildPackage(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	inBuild := false
	for line := range strings.Lines(string(raw)) {
		switch {
		case strings.HasPrefix(line, "build:"):
			inBuild = true
		case inBuild && !strings.HasPrefix(line, "\t"):
			inBuild = false
		case inBuild && strings.Contains(line, "-o $(BIN)/"+name+" "):
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	t.Fatalf("Makefile: no build recipe line with -o $(BIN)/%s", name)
	return ""
}

// envRefRE is a whole scalar "${NAME}", the form config.Secret reads from
// the environment.
var envRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// envRefs lists the ${NAME} references of a configuration document.
func envRefs(doc string) []string {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		return nil
	}
	var names []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if m := envRefRE.FindStringSubmatch(n.Value); n.Kind == yaml.ScalarNode && m != nil &&
			!slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return names
}

// parseWithDummies parses a configuration document with every variable it
// references set to a placeholder, and IMGPURGE_* overrides cleared so the
// file alone decides. Tests using it cannot run in parallel (t.Setenv).
func parseWithDummies(t *testing.T, doc string, extra map[string]string) *config.Config {
	t.Helper()
	for _, k := range []string{"IMGPURGE_LISTEN", "IMGPURGE_DATA_DIR", "IMGPURGE_DATABASE_URL"} {
		t.Setenv(k, "")
	}
	for _, name := range envRefs(doc) {
		t.Setenv(name, "dummy-"+strings.ToLower(name))
	}
	for k, v := range extra {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("configuration does not parse: %v", err)
	}
	return cfg
}

// stopBound is the longest imgpurged takes to exit after SIGTERM: in-flight
// requests get shutdown_timeout, requests still running are cancelled and
// get 5s more to journal what they leave, and the journal's workers get up
// to another shutdown_timeout (internal/app's Serve).
func stopBound(cfg *config.Config) time.Duration {
	return 2*cfg.ShutdownTimeout.D() + 5*time.Second
}

// bootLocal starts the real service in-process on the local development
// configuration, with its state in a temporary directory, and returns its
// base URL.
func bootLocal(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("local/imgpurge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"IMGPURGE_LISTEN", "IMGPURGE_DATA_DIR", "IMGPURGE_DATABASE_URL"} {
		t.Setenv(k, "")
	}
	doc := strings.ReplaceAll(string(raw), "./var", t.TempDir())
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, cfg)
}

func serve(t *testing.T, cfg *config.Config) string { return apptest.ServeConfig(t, cfg) }

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// listenPort returns the port of a listen address such as ":8080".
func listenPort(t *testing.T, listen string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	return port
}

func files(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return m
}

// buildOrSkip builds the service from cfg and closes it again. A kind the
// provider table does not list yet skips the test instead of failing it:
// providers are registered in internal/app as they land.
func buildOrSkip(t *testing.T, cfg *config.Config) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil && strings.Contains(err.Error(), "unknown provider") {
		t.Skipf("a provider kind is not registered in internal/app yet: %v", err)
	}
	if err != nil {
		t.Fatalf("building the service from the configuration: %v", err)
	}
	a.Close()
	if err := a.Journal.Stop(context.Background()); err != nil {
		t.Errorf("closing the journal: %v", err)
	}
}
