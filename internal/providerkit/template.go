package providerkit

import (
	"errors"
	"fmt"
	"strings"
)

// CheckKeyPlaceholders accepts the placeholders of a key template for
// PlanKeys: {id} once, and {rendition} once when withRendition, never
// otherwise. The bytes around them are the provider's to check, since each
// API allows different ones in a key.
func CheckKeyPlaceholders(t string, withRendition bool) error {
	if strings.Count(t, "{id}") != 1 {
		return errors.New("must contain {id} once")
	}
	n := strings.Count(t, "{rendition}")
	if withRendition && n != 1 {
		return errors.New("must contain {rendition} once")
	}
	if !withRendition && n != 0 {
		return errors.New("names the whole image and must not contain {rendition}")
	}
	return nil
}

// CheckPathTemplate accepts a public path template for PlanURLs: absolute,
// {id} and {rendition} once each, printable ASCII, and nothing that would
// end the path or climb out of it, nor any byte of refuse (such as a
// wildcard the API would read).
func CheckPathTemplate(t, refuse string) error {
	if !strings.HasPrefix(t, "/") {
		return errors.New(`must start with "/"`)
	}
	if strings.Count(t, "{id}") != 1 || strings.Count(t, "{rendition}") != 1 {
		return errors.New("must contain {id} and {rendition} once each")
	}
	if strings.ContainsAny(t, "?# \t"+refuse) || strings.Contains(t, "..") {
		var named strings.Builder
		for _, c := range "?#" + refuse {
			fmt.Fprintf(&named, "%q, ", string(c))
		}
		return fmt.Errorf(`must not contain %sspaces or ".."`, named.String())
	}
	for i := 0; i < len(t); i++ {
		if t[i] < ' ' || t[i] >= 0x7f {
			return fmt.Errorf("byte %#x at %d must be percent-encoded", t[i], i)
		}
	}
	return nil
}
