package auth

import (
	"strings"
)

// Claims are decoded into map[string]any rather than a struct: identity
// providers disagree on shapes (aud and tenant claims as a string or an
// array, roles nested under realm_access), and a struct field of the wrong
// type would fail the whole token instead of just not matching.

// lookupClaim finds a claim by name. A name is first tried as it stands,
// because namespaced claims such as https://example.test/roles contain dots;
// otherwise each dot steps into a nested object, as in realm_access.roles.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// hasValue reports whether a claim carries want. A string claim is a
// space-separated list, as scope is (RFC 8693 4.2); an array is compared
// element by element, without splitting, as roles are.
func hasValue(claim any, want string) bool {
	switch c := claim.(type) {
	case string:
		for f := range strings.FieldsSeq(c) {
			if f == want {
				return true
			}
		}
	case []any:
		for _, e := range c {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// stringList reads a claim that may be one string or an array of strings.
// Empty strings and non-string elements are dropped rather than failing the
// token: they entitle nothing either way.
func stringList(claim any) []string {
	switch c := claim.(type) {
	case string:
		if c != "" {
			return []string{c}
		}
	case []any:
		out := make([]string, 0, len(c))
		for _, e := range c {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// setClaim stores v at a dotted name, creating nested objects on the way.
// It is the inverse of lookupClaim for minting development tokens.
func setClaim(claims map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	obj := claims
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[parts[len(parts)-1]] = v
}
