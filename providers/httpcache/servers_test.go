package httpcache_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/testenv"
)

// TestServersStopWithTheirTest: the caches a test starts, with varnish's
// child and nginx's workers, are gone and their ports closed once the test
// that started them has ended.
func TestServersStopWithTheirTest(t *testing.T) {
	t.Parallel()
	var pids []int
	var addrs []string
	t.Run("start", func(t *testing.T) {
		o := testenv.NewOrigin(t, testenv.OriginOptions{})
		v := testenv.StartVarnish(t, "deploy/varnish/imgpurge.vcl", o.Port)
		n := testenv.StartNginx(t, "deploy/nginx/imgpurge.conf", o.Port)
		for _, b := range []*bed{newBed(t, o, v.URL, false), newBed(t, o, n.URL, true)} {
			host := b.host()
			b.seed(t, host, imageA, "640x360.jpg")
			if !b.held(t, host, imageA, "640x360.jpg") {
				t.Errorf("%s: a seeded rendition is not held", b.cache)
			}
		}
		if len(v.Processes()) < 2 || len(n.Processes()) < 2 {
			t.Errorf("varnish %v, nginx %v: want a parent and its children",
				v.Processes(), n.Processes())
		}
		pids = append(v.Processes(), n.Processes()...)
		addrs = []string{v.Addr, n.Addr}
	})
	if t.Skipped() || len(pids) == 0 {
		return
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d still running after its test ended", pid)
		}
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts connections", a)
		}
	}
}

// running reports whether pid exists and is not a zombie waiting for a
// parent that is not ours to reap.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
