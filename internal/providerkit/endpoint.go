package providerkit

import (
	"errors"
	"fmt"
	"net/url"
)

// CheckEndpoint accepts an optional API base URL, for an emulator, a
// compatible store or a proxy: empty, or http(s) with a host and without
// credentials, a query or a fragment. Messages show the URL redacted.
func CheckEndpoint(e string) error {
	if e == "" {
		return nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry credentials, a query or a fragment", u.Redacted())
	}
	return nil
}
