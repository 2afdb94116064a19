package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

// pinnedS3Version is the service/s3 release whose DeleteObjects behaviour
// TestSDKDeleteObjectsChecksums was last checked against. An upgrade fails
// TestSDKVersionPinned on purpose: run the checksum test, read the SDK's
// changelog for checksum changes (issue 3258 came in with v1.73.0), then
// move the pin.
const pinnedS3Version = "v1.115.0"

func TestSDKVersionPinned(t *testing.T) {
	t.Parallel()
	// Test binaries carry no dependency versions in their build information,
	// but the SDK names its own version in every request's User-Agent.
	f, url := newFakeS3(t, &fakeS3{})
	p := newProvider(t, settingsFor(url, "test", "test"))
	if _, err := p.List(context.Background(), imageC1); err != nil {
		t.Fatalf("List: %v", err)
	}
	ua := f.callsOf("ListObjectsV2")[0].header.Get("User-Agent")
	_, v, ok := strings.Cut(ua, "api/s3#")
	if !ok {
		t.Fatalf("User-Agent %q does not name the service/s3 version", ua)
	}
	v, _, _ = strings.Cut(v, " ")
	if "v"+v != pinnedS3Version {
		t.Fatalf("service/s3 is v%s, checked against %s: confirm DeleteObjects still "+
			"sends a correct Content-MD5 with content_md5 on (TestSDKDeleteObjectsChecksums), "+
			"then update pinnedS3Version", v, pinnedS3Version)
	}
}

// TestSDKDeleteObjectsChecksums pins what reaches the wire, C1's cause and
// its fix: the SDK alone sends only CRC32 on DeleteObjects in both checksum
// modes, and content_md5 adds a Content-MD5 that matches the body.
func TestSDKDeleteObjectsChecksums(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode string
		md5  bool
	}{
		{ChecksumWhenSupported, false},
		{ChecksumWhenRequired, false},
		{ChecksumWhenSupported, true},
		{ChecksumWhenRequired, true},
	} {
		f, url := newFakeS3(t, &fakeS3{})
		p := newProvider(t, settingsFor(url, "test", "test",
			"request_checksum: "+tc.mode, fmt.Sprintf("content_md5: %v", tc.md5)))
		if _, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg")); err != nil {
			t.Fatalf("%s: Purge: %v", tc.mode, err)
		}
		c := f.callsOf("DeleteObjects")[0]
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(c.body))
		if got := c.header.Get("X-Amz-Checksum-Crc32"); got != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("%s md5=%v: x-amz-checksum-crc32 = %q, not the body's CRC32", tc.mode, tc.md5, got)
		}
		m := md5.Sum(c.body)
		want := ""
		if tc.md5 {
			want = base64.StdEncoding.EncodeToString(m[:])
		}
		if got := c.header.Get("Content-MD5"); got != want {
			t.Errorf("%s md5=%v: Content-MD5 = %q, want %q", tc.mode, tc.md5, got, want)
		}
	}
}
