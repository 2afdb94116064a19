package providerkit

import (
	"fmt"
	"strings"
)

// CheckHost accepts a bare host name, with a port or not: no scheme, path,
// query, fragment, user or white space.
func CheckHost(h string) error {
	if h == "" || strings.ContainsAny(h, "/?#@ \t") || strings.Contains(h, "://") {
		return fmt.Errorf("%q is not a bare host name", h)
	}
	return nil
}

// LowerHosts returns a copy of hosts in lower case. Host names are
// case-insensitive, and one spelling keeps planned URLs stable.
func LowerHosts(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = strings.ToLower(h)
	}
	return out
}
