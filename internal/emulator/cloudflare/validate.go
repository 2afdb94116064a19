package cloudflare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Purge kinds, as recorded in Call.Kind.
const (
	KindEverything = "purge_everything"
	KindFiles      = "files"
	KindTags       = "tags"
	KindHosts      = "hosts"
	KindPrefixes   = "prefixes"
)

// Error codes. 1012, 1014, 6003, 9106 and 10000 are Cloudflare's own, seen
// in the field; the others are the emulator's choice where no source gives
// the real number.
const (
	CodeNoKind         = 1012
	CodeNotArray       = 1014
	CodeTooManyItems   = 1015 // emulator's choice
	CodeInvalidItem    = 1016 // emulator's choice
	CodeBadHeaders     = 6003
	CodeMalformedJSON  = 6007 // emulator's choice
	CodeNoRoute        = 7000 // emulator's choice
	CodeMethod         = 7001 // emulator's choice
	CodeBadZoneID      = 7003
	CodeMissingAuth    = 9106
	CodeAuthentication = 10000
	CodeRateLimited    = 10100 // the old purge limit's code; the 2025 one is unpublished
)

var bulkKinds = []string{KindFiles, KindTags, KindHosts, KindPrefixes}

// apiError is a refusal: HTTP status, Cloudflare code and message.
type apiError struct {
	status  int
	code    int
	message string
}

// purgeRequest is a validated body: one kind and its items.
type purgeRequest struct {
	kind  string
	items []string
}

// parseBody reads a purge_cache body as Cloudflare does. refused is the
// status of a body the API refuses (400, or 200 for the success:false mode).
func parseBody(body []byte, refused int) (purgeRequest, *apiError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return purgeRequest{}, &apiError{refused, CodeMalformedJSON, "Malformed JSON in request body"}
	}
	var found []purgeRequest
	if v, ok := raw["purge_everything"]; ok {
		var all bool
		if err := json.Unmarshal(v, &all); err != nil {
			return purgeRequest{}, &apiError{refused, CodeMalformedJSON, "purge_everything must be a boolean"}
		}
		if all {
			found = append(found, purgeRequest{kind: KindEverything})
		}
	}
	for _, kind := range bulkKinds {
		v, ok := raw[kind]
		if !ok || string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		items, aerr := parseItems(kind, v, refused)
		if aerr != nil {
			return purgeRequest{}, aerr
		}
		if len(items) > 0 {
			found = append(found, purgeRequest{kind: kind, items: items})
		}
	}
	switch len(found) {
	case 0:
		return purgeRequest{}, &apiError{refused, CodeNoKind,
			`Request must contain one of "purge_everything", "files", "tags", "hosts" or "prefixes"`}
	case 1:
		return found[0], nil
	}
	// Whether Cloudflare accepts several kinds in one body is not known; the
	// emulator refuses, so a client that relies on it is caught here.
	return purgeRequest{}, &apiError{refused, CodeNoKind, "Request must contain exactly one of " +
		`"purge_everything", "files", "tags", "hosts" or "prefixes"`}
}

func parseItems(kind string, v json.RawMessage, refused int) ([]string, *apiError) {
	var elems []json.RawMessage
	if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &elems) != nil {
		return nil, &apiError{refused, CodeNotArray, `"files", "tags", or "hosts" must be an array`}
	}
	items := make([]string, 0, len(elems))
	for _, el := range elems {
		var s string
		if err := json.Unmarshal(el, &s); err == nil {
			items = append(items, s)
			continue
		}
		// A file may also be {"url": ..., "headers": {...}} for cache keys
		// that include request headers.
		var obj struct {
			URL     *string           `json:"url"`
			Headers map[string]string `json:"headers"`
		}
		if kind != KindFiles || json.Unmarshal(el, &obj) != nil || obj.URL == nil {
			return nil, &apiError{refused, CodeInvalidItem,
				fmt.Sprintf("%s entries must be strings, not %s", kind, el)}
		}
		items = append(items, *obj.URL)
	}
	return items, nil
}

// checkItems validates the items of a request for a zone.
func checkItems(req purgeRequest, zone string, refused int) *apiError {
	var check func(string, string) error
	switch req.kind {
	case KindFiles:
		check = checkFile
	case KindPrefixes:
		check = checkPrefix
	case KindHosts:
		check = checkHost
	case KindTags:
		check = checkTag
	default:
		return nil
	}
	for _, it := range req.items {
		if err := check(it, zone); err != nil {
			return &apiError{refused, CodeInvalidItem, fmt.Sprintf("%s entry %q: %v", req.kind, it, err)}
		}
	}
	return nil
}

func checkFile(s, zone string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (!strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "http")) {
		return fmt.Errorf("not an absolute http(s) URL")
	}
	if err := checkEncoded(rest); err != nil {
		return err
	}
	return checkZone(hostOf(rest), zone)
}

func checkPrefix(s, zone string) error {
	if strings.Contains(s, "://") {
		return fmt.Errorf("prefixes must not carry a scheme")
	}
	if err := checkEncoded(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, "?#") {
		return fmt.Errorf("prefixes must not carry a query string or fragment")
	}
	return checkZone(hostOf(s), zone)
}

func checkHost(s, zone string) error {
	if strings.ContainsAny(s, "/:") {
		return fmt.Errorf("hosts are bare host names")
	}
	if err := checkEncoded(s); err != nil {
		return err
	}
	return checkZone(s, zone)
}

func checkTag(s, _ string) error {
	if s == "" || len(s) > 1024 {
		return fmt.Errorf("tags are 1 to 1024 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == ',' {
			return fmt.Errorf("tags are printable ASCII without commas")
		}
	}
	return nil
}

// checkEncoded refuses what a URL cannot carry raw: spaces, controls and
// non-ASCII bytes must arrive percent-encoded, and escapes must be complete.
func checkEncoded(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= 0x20 || c >= 0x7f:
			return fmt.Errorf("unencoded character %q at byte %d", c, i)
		case c == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])):
			return fmt.Errorf("incomplete percent-escape at byte %d", i)
		}
	}
	return nil
}

func checkZone(host, zone string) error {
	if host == "" {
		return fmt.Errorf("no host name")
	}
	if !inZone(host, zone) {
		return fmt.Errorf("host %q is not in zone %q", host, zone)
	}
	return nil
}

// hostOf returns the host of "host[:port]/path?query", without the port.
func hostOf(hostPath string) string {
	end := strings.IndexAny(hostPath, "/?#")
	if end < 0 {
		end = len(hostPath)
	}
	host := hostPath[:end]
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.ToLower(host)
}

func inZone(host, zone string) bool {
	host, zone = strings.ToLower(host), strings.ToLower(zone)
	return host == zone || strings.HasSuffix(host, "."+zone)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
