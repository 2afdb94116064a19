package config

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Secret holds a credential. It never prints, logs or marshals its value;
// Reveal is the one way to read it. In YAML it is written either literally or
// as "${NAME}", which reads the environment variable NAME at start-up so the
// file itself can be committed.
type Secret struct {
	// value is behind a pointer because fmt prints a struct's unexported
	// fields without calling their String methods, but prints a nested
	// pointer only as an address: a Secret inside a provider's private
	// settings still cannot print its value.
	value *string
	// From names the environment variable the value came from, if any.
	From string
}

const redacted = "[redacted]"

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if m := envRef.FindStringSubmatch(n.Value); m != nil {
		v, ok := os.LookupEnv(m[1])
		if !ok {
			return fmt.Errorf("line %d: environment variable %s is not set", n.Line, m[1])
		}
		*s = Secret{value: &v, From: m[1]}
		return nil
	}
	v := n.Value
	*s = Secret{value: &v}
	return nil
}

// NewSecret wraps a value, for tests and for credentials built in code.
func NewSecret(v string) Secret { return Secret{value: &v} }

// Reveal returns the secret value, for the one call that needs it.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// Empty reports whether no value is set.
func (s Secret) Empty() bool { return s.Reveal() == "" }

func (s Secret) String() string { return redacted }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }
