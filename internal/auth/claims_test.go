package auth

import (
	"encoding/json"
	"testing"
)

func TestLookupClaim(t *testing.T) {
	t.Parallel()
	var claims map[string]any
	err := json.Unmarshal([]byte(`{
		"scope": "openid images:purge",
		"realm_access": {"roles": ["image-purger"]},
		"https://example.test/roles": ["ns-role"],
		"a": {"b": "not an object"}
	}`), &claims)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, claim, want string
		has               bool
	}{
		{"space-separated string", "scope", "images:purge", true},
		{"nested array", "realm_access.roles", "image-purger", true},
		{"namespaced name with dots", "https://example.test/roles", "ns-role", true},
		{"path through a string", "a.b.c", "x", false},
		{"missing", "resource_access.purge-api.roles", "image-purger", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := lookupClaim(claims, tc.claim)
			if got := hasValue(c, tc.want); got != tc.has {
				t.Errorf("hasValue(%s, %s) = %v", tc.claim, tc.want, got)
			}
		})
	}
}

func TestSetClaimRoundTrip(t *testing.T) {
	t.Parallel()
	claims := map[string]any{"realm_access": map[string]any{"other": 1}}
	setClaim(claims, "realm_access.roles", []any{"image-purger"})
	c, ok := lookupClaim(claims, "realm_access.roles")
	if !ok || !hasValue(c, "image-purger") {
		t.Errorf("claims = %v", claims)
	}
	if claims["realm_access"].(map[string]any)["other"] != 1 {
		t.Error("setClaim replaced a sibling")
	}
}
