package cloudfront_test

import (
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/providers/cloudfront"
)

func TestSettingsErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const ok = "distribution_id: EDFDVBD6EXAMPLE\n"
	tests := []struct {
		name, yaml, field string
	}{
		{"MissingDistribution", "region: us-east-1\n", "distribution_id: required"},
		{"BadDistribution", "distribution_id: e-1\n", "distribution_id:"},
		{"BadRegion", ok + "region: Mars\n", "region:"},
		{"EndpointNotHTTP", ok + "endpoint: ftp://x\n", "endpoint:"},
		{"EndpointWithQuery", ok + "endpoint: http://127.0.0.1:1/?a=b\n", "endpoint:"},
		{"HalfCredentials", ok + "access_key_id: AK\n", "secret_access_key:"},
		{"TemplateNoSlash", ok + "path_template: image/{id}/{rendition}\n", "path_template:"},
		{"TemplateRenditionNotLast", ok + "path_template: /i/{rendition}/{id}\n", "path_template:"},
		{"TemplateUnsafe", ok + "path_template: /my images/{id}/{rendition}\n", "path_template:"},
		{"TemplateTilde", ok + "path_template: /~img/{id}/{rendition}\n", "path_template:"},
		{"TemplateDotDot", ok + "path_template: /a/../{id}/{rendition}\n", "path_template:"},
		{"NegativeThreshold", ok + "wildcard_threshold: -1\n", "wildcard_threshold:"},
		{"TooManyPathsPerCall", ok + "max_paths_per_call: 3001\n", "max_paths_per_call:"},
		{"BadReferencePrefix", ok + "caller_reference_prefix: a b\n", "caller_reference_prefix:"},
		{"UnknownField", ok + "zone_id: x\n", "zone_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := build(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want one naming %q", err, tc.field)
			}
		})
	}
}

func TestSettingsSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	_, err := build(t, "distribution_id: EDFDVBD6EXAMPLE\nsecret_access_key: s3cr3t-value\n")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "")
	if got := b.p.MaxItemsPerCall(); got != cloudfront.MaxPathsPerCallDefault {
		t.Errorf("MaxItemsPerCall = %d, want %d", got, cloudfront.MaxPathsPerCallDefault)
	}
	if got := b.p.Account(); got != "cloudfront:"+dist+"@"+b.url {
		t.Errorf("Account = %q", got)
	}
	// Default threshold 10: ten renditions are named, eleven use the wildcard.
	if items := b.plan(t, names(10)...); len(items) != 10 {
		t.Errorf("10 renditions planned as %d paths", len(items))
	}
	if items := b.plan(t, names(11)...); len(items) != 1 || items[0] != base+"*" {
		t.Errorf("11 renditions planned as %q", items)
	}
}
