// Package config loads imgpurged's configuration: one YAML file, secrets
// taken from the environment, and a validation pass whose errors name the
// field at fault.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults for fields left empty.
const (
	ListenDefault         = "127.0.0.1:8080"
	DataDirDefault        = "./var"
	RequestTimeoutDefault = 10 * time.Second
	LayerTimeoutDefault   = 5 * time.Second
	ShutdownDefault       = 20 * time.Second
)

// Config is the whole configuration of imgpurged.
type Config struct {
	// Listen is the address the API listens on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// DataDir holds generated development keys and local state. Default ./var.
	DataDir string `yaml:"data_dir"`
	// RequestTimeout bounds the synchronous part of a purge. Default 10s.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ShutdownTimeout bounds how long in-flight purges may run after a stop
	// signal. Default 20s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// Auth says which tokens are accepted.
	Auth Auth `yaml:"auth"`
	// Retry is the retry policy of provider calls within a request.
	Retry Retry `yaml:"retry"`
	// Journal keeps purges that did not complete and retries them.
	Journal Journal `yaml:"journal"`
	// Telemetry configures traces; metrics are always served at /metrics.
	Telemetry Telemetry `yaml:"telemetry"`
	// Datastores are the purge targets; exactly one may be the default.
	Datastores []Datastore `yaml:"datastores"`
}

// Retry configures backoff within a request.
type Retry struct {
	// Base is the first backoff. Default 100ms.
	Base Duration `yaml:"base"`
	// MaxDelay caps one backoff. Default 5s.
	MaxDelay Duration `yaml:"max_delay"`
	// MaxAttempts bounds the calls per layer within a request. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
}

// Telemetry configures OpenTelemetry tracing.
type Telemetry struct {
	// OTLPEndpoint is an OTLP/HTTP collector URL such as
	// http://otel-collector:4318. Empty (the default) exports no spans; the
	// trace context still reaches HTTP providers.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName names the service in traces. Default imgpurged.
	ServiceName string `yaml:"service_name"`
}

// Journal configures the durable queue of unfinished purges.
type Journal struct {
	// DatabaseURL is "" for the embedded SQLite file under data_dir, a path
	// or sqlite:// URL for another SQLite file, or a postgres:// URL so that
	// several replicas share the journal. IMGPURGE_DATABASE_URL overrides it.
	DatabaseURL Secret `yaml:"database_url"`
	// MaxAttempts is how many times a journaled purge is tried before it is
	// kept as dead for an operator. Default 20.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBase is the first delay between attempts; each later one doubles
	// up to RetryMax, with jitter. Defaults 5s and 10m.
	RetryBase Duration `yaml:"retry_base"`
	RetryMax  Duration `yaml:"retry_max"`
	// JobTimeout bounds one attempt. Default 2m.
	JobTimeout Duration `yaml:"job_timeout"`
	// RescueAfter is how long an attempt may appear to run before it is
	// taken to have died with its replica and is run again elsewhere. It
	// must exceed job_timeout. Default job_timeout + 30s.
	RescueAfter Duration `yaml:"rescue_after"`
	// Workers is how many journaled purges one replica runs at once. An
	// attempt mostly waits on providers, so many fit on one core. Default 32.
	Workers int `yaml:"workers"`
	// PollInterval is how often a replica looks for due work. Default 1s.
	PollInterval Duration `yaml:"poll_interval"`
	// AuditFlushInterval is how long records of purges that succeeded within
	// their request may wait before being written in one batch. Default 1s.
	AuditFlushInterval Duration `yaml:"audit_flush_interval"`
}

// Journal defaults.
const (
	JournalMaxAttemptsDefault = 20
	JournalRetryBaseDefault   = 5 * time.Second
	JournalRetryMaxDefault    = 10 * time.Minute
	JournalJobTimeoutDefault  = 2 * time.Minute
	JournalWorkersDefault     = 32
	JournalPollDefault        = time.Second
	AuditFlushDefault         = time.Second
)

func (j *Journal) applyDefaults() {
	setInt(&j.MaxAttempts, JournalMaxAttemptsDefault)
	setDur(&j.RetryBase, JournalRetryBaseDefault)
	setDur(&j.RetryMax, JournalRetryMaxDefault)
	setDur(&j.JobTimeout, JournalJobTimeoutDefault)
	setDur(&j.RescueAfter, j.JobTimeout.D()+30*time.Second)
	setInt(&j.Workers, JournalWorkersDefault)
	setDur(&j.PollInterval, JournalPollDefault)
	setDur(&j.AuditFlushInterval, AuditFlushDefault)
}

func setInt(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

func setDur(v *Duration, d time.Duration) {
	if *v == 0 {
		*v = Duration(d)
	}
}

// Datastore is one named purge target.
type Datastore struct {
	// Name is what the datastore query parameter and token claims refer to.
	Name string `yaml:"name"`
	// Default makes this the datastore of requests that name none.
	Default bool `yaml:"default"`
	// Tenants lists the token tenants entitled to purge here; "*" is anyone
	// holding a valid token.
	Tenants []string `yaml:"tenants"`
	// IDPattern is the regular expression image ids must match, anchored;
	// empty means a UUID.
	IDPattern string `yaml:"id_pattern"`
	// PublicHosts are the hostnames renditions are served under.
	PublicHosts []string `yaml:"public_hosts"`
	// Layers are the places copies live, each in a tier.
	Layers []Layer `yaml:"layers"`
}

// Layer is one cache or store of a datastore.
type Layer struct {
	// Name identifies the layer in responses, logs and the journal.
	Name string `yaml:"name"`
	// Kind is the provider: fs, s3, httpcache, cloudflare, cloudfront, ...
	Kind string `yaml:"kind"`
	// Tier orders layers: 0 derivatives, 1 origin cache, 2 CDN edge by
	// convention. Lower tiers are purged first.
	Tier int `yaml:"tier"`
	// Timeout bounds one provider call. Default 5s.
	Timeout Duration `yaml:"timeout"`
	// CoalesceWindow, for providers that take many items per call (CDNs),
	// is how long a purge may wait for others to the same account so they
	// share one API call. 0 (the default) sends each at once; identical
	// purges in flight share a call either way.
	CoalesceWindow Duration `yaml:"coalesce_window"`
	// RateLimit is the account's API call budget, set from the plan's
	// limits, so imgpurge does not cause the 429s it would then retry.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Settings are the provider's own; each provider documents them.
	Settings yaml.Node `yaml:"settings"`
}

// RateLimit is a token bucket: PerSecond calls a second, Burst at once.
// PerSecond 0 (the default) means no limit.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates a configuration document, applying the
// environment overrides.
func Parse(raw []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the configuration is empty")
		}
		return nil, err
	}
	cfg.applyEnv()
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// applyEnv lets deployments override where the service listens and keeps
// its state without editing the file.
func (c *Config) applyEnv() {
	if v := os.Getenv("IMGPURGE_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := os.Getenv("IMGPURGE_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := os.Getenv("IMGPURGE_DATABASE_URL"); v != "" {
		c.Journal.DatabaseURL = Secret{value: &v, From: "IMGPURGE_DATABASE_URL"}
	}
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = ListenDefault
	}
	if c.DataDir == "" {
		c.DataDir = DataDirDefault
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = Duration(RequestTimeoutDefault)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(ShutdownDefault)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.Auth.applyDefaults()
	c.Journal.applyDefaults()
	if c.Telemetry.ServiceName == "" {
		c.Telemetry.ServiceName = "imgpurged"
	}
	for i := range c.Datastores {
		for j := range c.Datastores[i].Layers {
			if c.Datastores[i].Layers[j].Timeout == 0 {
				c.Datastores[i].Layers[j].Timeout = Duration(LayerTimeoutDefault)
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the configuration and returns every problem found, each
// naming its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.RequestTimeout < 0 {
		add("request_timeout", "must be positive")
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "%q is not host:port", c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		add("listen", "%q has no valid port", c.Listen)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	errs = append(errs, c.Auth.validate()...)
	if c.Journal.MaxAttempts < 1 || c.Journal.Workers < 1 || c.Journal.RetryBase < 0 || c.Journal.JobTimeout < 0 {
		add("journal", "max_attempts and workers must be at least 1, durations positive")
	}
	if db := c.Journal.DatabaseURL; db.From != "" && db.Empty() {
		// An empty secret would quietly give each replica a private journal.
		add("journal.database_url", "%s is set but empty", db.From)
	}
	if scheme, _, ok := strings.Cut(c.Journal.DatabaseURL.Reveal(), "://"); ok &&
		scheme != "postgres" && scheme != "postgresql" && scheme != "sqlite" {
		// Checked here too, so nothing is created before a typo is refused.
		add("journal.database_url", "scheme %q is neither postgres:// nor sqlite://", scheme)
	}
	if c.Journal.RescueAfter <= c.Journal.JobTimeout {
		add("journal.rescue_after", "must be longer than journal.job_timeout")
	}
	if len(c.Datastores) == 0 {
		add("datastores", "at least one datastore is required")
	}
	seen := map[string]bool{}
	defaults := 0
	for i, ds := range c.Datastores {
		f := fmt.Sprintf("datastores[%d]", i)
		if !nameRE.MatchString(ds.Name) {
			add(f+".name", "must be lower-case letters, digits, - or _ (got %q)", ds.Name)
		}
		if seen[ds.Name] {
			add(f+".name", "%q is used twice", ds.Name)
		}
		seen[ds.Name] = true
		if ds.Default {
			defaults++
		}
		if len(ds.Tenants) == 0 {
			add(f+".tenants", "list the tenants entitled to this datastore, or \"*\"")
		}
		if ds.IDPattern != "" {
			if _, err := regexp.Compile(ds.IDPattern); err != nil {
				add(f+".id_pattern", "%v", err)
			}
		}
		for j, h := range ds.PublicHosts {
			if !validHost(h) {
				add(fmt.Sprintf("%s.public_hosts[%d]", f, j), "%q is not a host name", h)
			}
		}
		errs = append(errs, validateLayers(f, ds.Layers)...)
	}
	if defaults > 1 {
		add("datastores", "only one datastore may be the default")
	}
	return errors.Join(errs...)
}

func validateLayers(f string, layers []Layer) []error {
	var errs []error
	if len(layers) == 0 {
		errs = append(errs, fmt.Errorf("%s.layers: at least one layer is required", f))
	}
	names := map[string]bool{}
	for j, l := range layers {
		lf := fmt.Sprintf("%s.layers[%d]", f, j)
		if !nameRE.MatchString(l.Name) {
			errs = append(errs, fmt.Errorf("%s.name: must be lower-case letters, digits, - or _ (got %q)", lf, l.Name))
		}
		if names[l.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", lf, l.Name))
		}
		names[l.Name] = true
		if l.Kind == "" {
			errs = append(errs, fmt.Errorf("%s.kind: required", lf))
		}
		if l.Tier < 0 || l.Tier > 9 {
			errs = append(errs, fmt.Errorf("%s.tier: must be between 0 and 9", lf))
		}
		if l.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s.timeout: must be positive", lf))
		}
		if l.CoalesceWindow < 0 || l.CoalesceWindow.D() > 10*time.Second {
			errs = append(errs, fmt.Errorf("%s.coalesce_window: must be between 0 and 10s", lf))
		}
		if l.RateLimit.PerSecond < 0 || l.RateLimit.Burst < 0 {
			errs = append(errs, fmt.Errorf("%s.rate_limit: must not be negative", lf))
		}
	}
	return errs
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$`)

func validHost(h string) bool {
	return hostRE.MatchString(h) && !strings.Contains(h, "..")
}

// DecodeStrict decodes a provider's settings node into v, refusing unknown
// fields so a typo is a start-up error rather than an ignored setting.
func DecodeStrict(n *yaml.Node, v any) error {
	if n == nil || n.Kind == 0 {
		return nil
	}
	// Decoding the node itself keeps the configuration file's line numbers
	// in errors; it cannot refuse unknown fields, so a strict decode of a
	// copy into a fresh value finds those.
	if err := n.Decode(v); err != nil {
		return err
	}
	raw, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	if err := dec.Decode(fresh); err != nil {
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("line %d: unknown setting %q", keyLine(n, m[1]), m[1])
		}
		return err
	}
	return nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type`)

// keyLine finds the line of a mapping key in n, for an error message.
func keyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// Duration is a time.Duration written as "5s" or "250ms" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 5s or 250ms", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
