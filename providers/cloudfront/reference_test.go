package cloudfront

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/imgpurge/imgpurge/internal/config"
	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestParseItems(t *testing.T) {
	t.Parallel()
	n := strings.Repeat("ab", 16)
	groups, bad := parseItems([]string{"/a", "ref:" + n, "/b", "/c", "ref:XYZ", "tag", "/d"})
	want := []group{{paths: []string{"/a"}}, {nonce: n, paths: []string{"/b", "/c", "/d"}}}
	if !slices.EqualFunc(groups, want, func(a, b group) bool {
		return a.nonce == b.nonce && slices.Equal(a.paths, b.paths)
	}) {
		t.Errorf("groups = %+v, want %+v", groups, want)
	}
	if !slices.Equal(bad, []string{"ref:XYZ", "tag"}) {
		t.Errorf("bad = %q", bad)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	var paths []string
	for i := range 20 {
		paths = append(paths, fmt.Sprintf("/w%d/*", i), fmt.Sprintf("/e%d", i))
	}
	calls := split(paths, 30)
	var joined []string
	for _, c := range calls {
		wild := 0
		for _, p := range c {
			if isWildcard(p) {
				wild++
			}
		}
		if len(c) > 30 || wild > maxWildcardsPerCallLimit {
			t.Errorf("a call of %d paths with %d wildcards", len(c), wild)
		}
		joined = append(joined, c...)
	}
	if !slices.Equal(joined, paths) {
		t.Error("split lost or reordered paths")
	}
}

func TestReferenceHashesSortedPaths(t *testing.T) {
	t.Parallel()
	p := &Provider{refPrefix: "imgpurge"}
	a := p.reference("n1", []string{"/a", "/b"})
	if a != p.reference("n1", []string{"/b", "/a"}) {
		t.Error("reference depends on path order")
	}
	if a == p.reference("n1", []string{"/a", "/c"}) || a == p.reference("n2", []string{"/a", "/b"}) {
		t.Error("reference ignores the paths or the nonce")
	}
}

// A reference reused with other paths cannot happen by construction; if
// CloudFront says it did, either way it says it, the layer stops retrying
// and says it is a bug.
func TestReferenceConflictIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode emu.ConflictMode
		code string
	}{
		{emu.ConflictAlreadyExists, "InvalidationBatchAlreadyExists"},
		{emu.ConflictInvalidArgument, "InvalidArgument"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			e := emu.New(emu.Options{Conflict: tc.mode})
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			p := testProvider(t, srv.URL)

			nonce := strings.Repeat("c", 32)
			paths := []string{"/image/x/a.jpg"}
			// Someone else took the reference with other paths.
			_, err := p.client.CreateInvalidation(context.Background(), &cloudfront.CreateInvalidationInput{
				DistributionId: aws.String(emu.TestDistribution),
				InvalidationBatch: &types.InvalidationBatch{
					CallerReference: aws.String(p.reference(nonce, paths)),
					Paths:           &types.Paths{Quantity: aws.Int32(1), Items: []string{"/other"}},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Purge(context.Background(), append([]string{"ref:" + nonce}, paths...))
			var pe *purge.Error
			if !errors.As(err, &pe) || pe.Code != tc.code || pe.Retryable ||
				!strings.Contains(pe.Message, "bug") {
				t.Fatalf("err = %v, want a non-retryable %s naming a bug", err, tc.code)
			}
		})
	}
}

func testProvider(t *testing.T, endpoint string) *Provider {
	t.Helper()
	s := Settings{DistributionID: emu.TestDistribution, Endpoint: endpoint,
		AccessKeyID:     config.NewSecret(emu.TestAccessKeyID),
		SecretAccessKey: config.NewSecret(emu.TestSecretAccessKey)}
	p, err := New(context.Background(), purge.LayerSpec{Decode: func(v any) error {
		*(v.(*Settings)) = s
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Provider)
}
