package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
)

const (
	unitFile   = "systemd/imgpurged.service"
	unitConfig = "systemd/imgpurge.yaml"
	unitEnv    = "systemd/imgpurged.env.example"
)

// unit maps "Section.Key" to the values assigned, in order.
type unit map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", path, line)
			}
			key := section + "." + strings.TrimSpace(k)
			u[key] = append(u[key], strings.TrimSpace(v))
		}
	}
	return u
}

// last is the value in force for key; "" when unset or reset.
func (u unit) last(key string) string {
	v := u[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, unitFile)
	raw, err := os.ReadFile(unitConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseWithDummies(t, string(raw), nil)

	t.Run("sandboxing", func(t *testing.T) {
		for key, want := range map[string]string{
			"DynamicUser":             "yes",
			"NoNewPrivileges":         "yes",
			"CapabilityBoundingSet":   "",
			"AmbientCapabilities":     "",
			"ProtectSystem":           "strict",
			"ProtectHome":             "yes",
			"PrivateTmp":              "yes",
			"PrivateDevices":          "yes",
			"ProtectKernelTunables":   "yes",
			"ProtectKernelModules":    "yes",
			"ProtectKernelLogs":       "yes",
			"ProtectControlGroups":    "yes",
			"RestrictNamespaces":      "yes",
			"RestrictSUIDSGID":        "yes",
			"LockPersonality":         "yes",
			"MemoryDenyWriteExecute":  "yes",
			"SystemCallArchitectures": "native",
			"SystemCallFilter":        "@system-service",
			"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
			"UMask":                   "0077",
		} {
			got, set := u["Service."+key]
			if !set {
				t.Errorf("%s is not set", key)
			} else if got[0] != want {
				t.Errorf("%s = %q, want %q", key, got[0], want)
			}
		}
		if u.last("Service.EnvironmentFile") == "" {
			t.Error("no EnvironmentFile: secrets would have to be in the unit or the configuration")
		}
	})

	t.Run("stop timeout covers shutdown", func(t *testing.T) {
		d, err := time.ParseDuration(u.last("Service.TimeoutStopSec"))
		if err != nil {
			t.Fatalf("TimeoutStopSec: %v", err)
		}
		if d <= stopBound(cfg) {
			t.Errorf("TimeoutStopSec %s ≤ %s (2×shutdown_timeout + 5s)", d, stopBound(cfg))
		}
	})

	t.Run("state, configuration and secrets line up", func(t *testing.T) {
		if want := "/var/lib/" + u.last("Service.StateDirectory"); cfg.DataDir != want {
			t.Errorf("data_dir %s is not the StateDirectory %s", cfg.DataDir, want)
		}
		if !cfg.Journal.DatabaseURL.Empty() {
			t.Error("the single-host configuration should use the SQLite journal under data_dir")
		}
		exec := strings.Fields(u.last("Service.ExecStart"))
		i := slices.Index(exec, "-config")
		if i < 0 || filepath.Dir(exec[i+1]) != "/etc/"+u.last("Service.ConfigurationDirectory") {
			t.Errorf("ExecStart %v does not read its -config from the ConfigurationDirectory", exec)
		}
		env, err := os.ReadFile(unitEnv)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range envRefs(string(raw)) {
			if !strings.Contains(string(env), "\n"+name+"=") {
				t.Errorf("${%s} is not in %s", name, unitEnv)
			}
		}
	})

	t.Run("writable paths cover the fs layers", func(t *testing.T) {
		rw := strings.Fields(strings.Join(u["Service.ReadWritePaths"], " "))
		for _, ds := range cfg.Datastores {
			for _, l := range ds.Layers {
				if l.Kind != "fs" {
					continue
				}
				var s struct {
					Root string `yaml:"root"`
				}
				if err := l.Settings.Decode(&s); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(rw, s.Root) {
					t.Errorf("fs layer %s root %s is not in ReadWritePaths %v", l.Name, s.Root, rw)
				}
			}
		}
	})

	t.Run("no privileged port", func(t *testing.T) {
		// CapabilityBoundingSet is empty: no CAP_NET_BIND_SERVICE.
		if p, _ := strconv.Atoi(listenPort(t, cfg.Listen)); p < 1024 {
			t.Errorf("listen port %d needs a capability the unit does not grant", p)
		}
	})

	t.Run("configuration builds", func(t *testing.T) {
		// The fs root moves to a temporary directory: building the layer
		// creates it.
		doc := strings.ReplaceAll(string(raw), "/srv/images/derivatives", t.TempDir())
		c := parseWithDummies(t, doc, nil)
		c.Auth = config.Auth{Mode: config.AuthModeDev, Audience: c.Auth.Audience}.WithDefaults()
		c.DataDir = t.TempDir()
		buildOrSkip(t, c)
	})
}

// TestSystemdAnalyzeVerify runs systemd's own checker on the unit where it
// is installed. ExecStart is pointed at an existing binary, since
// imgpurged is not installed here.
func TestSystemdAnalyzeVerify(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unitCopy := filepath.Join(t.TempDir(), filepath.Base(unitFile))
	doc := strings.Replace(string(raw), "ExecStart=/usr/local/bin/imgpurged", "ExecStart="+self, 1)
	if err := os.WriteFile(unitCopy, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", unitCopy).CombinedOutput()
	// verify exits 0 on unknown keys and bad values, and only says so.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
