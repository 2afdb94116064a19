package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// cacheNode stands in for an origin cache node that can be down (refusing
// connections), hanging (accepting and never answering) or up. It counts the
// purges it answered, so a test can tell a purge done twice.
type cacheNode struct {
	addr string

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	hang     chan struct{}
	answered map[string]int
	waiting  int
}

func newCacheNode(t *testing.T) *cacheNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &cacheNode{addr: ln.Addr().String(), answered: map[string]int{}}
	_ = ln.Close() // down until started
	t.Cleanup(func() { n.down() })
	return n
}

func (n *cacheNode) up(t *testing.T, hanging bool) {
	t.Helper()
	n.down()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after close
		if ln, err = net.Listen("tcp", n.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	if !hanging {
		close(hang)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.waiting++
		n.mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
		n.mu.Lock()
		n.answered[r.Host+" "+r.URL.EscapedPath()]++
		n.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	n.mu.Lock()
	n.ln, n.srv, n.hang = ln, srv, hang
	n.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (n *cacheNode) down() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (n *cacheNode) counts() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for k, v := range n.answered {
		out[k] = v
	}
	return out
}

// processFixture is a configuration for imgpurged as a separate process:
// files on disk (tier 0) and one origin cache node (tier 1).
type processFixture struct {
	dir, cfgPath, addr string
	cfg                *config.Config
	requestTimeout     string
	node               *cacheNode
	token              string
}

func newProcessFixture(t *testing.T, databaseURL string) *processFixture {
	t.Helper()
	f := &processFixture{dir: t.TempDir(), node: newCacheNode(t), requestTimeout: "1s"}
	f.addr = testenv.FreeAddr(t)
	f.write(t, f.addr, databaseURL)
	tok, err := auth.MintDev(f.cfg.Auth, f.cfg.DataDir, "cron", []string{"media"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok
	return f
}

func (f *processFixture) write(t *testing.T, addr, databaseURL string) string {
	t.Helper()
	doc := fmt.Sprintf(`
listen: %s
data_dir: %s
request_timeout: %s
shutdown_timeout: 1s
log_level: debug
auth: {mode: dev, audience: purge-api, required_claim: scope, required_value: images:purge}
journal:
  database_url: %q
  retry_base: 100ms
  retry_max: 300ms
  job_timeout: 2s
  rescue_after: 3s
  poll_interval: 100ms
  audit_flush_interval: 50ms
datastores:
  - name: media
    default: true
    tenants: [media]
    public_hosts: [img.example.test]
    layers:
      - {name: derivatives, kind: fs, tier: 0, settings: {root: %s}}
      - name: origin
        kind: httpcache
        tier: 1
        timeout: %s
        settings: {nodes: ["http://%s"], method: purge}
`, addr, f.dir, f.requestTimeout, databaseURL, filepath.Join(f.dir, "derivatives"), f.layerTimeout(), f.node.addr)
	path := filepath.Join(f.dir, "imgpurge-"+strings.ReplaceAll(addr, ":", "_")+".yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("fixture config: %v", err)
	}
	f.cfg, f.cfgPath = cfg, path
	return path
}

func (f *processFixture) seed(t *testing.T, ids []string) {
	t.Helper()
	for _, id := range ids {
		dir := filepath.Join(f.dir, "derivatives", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"640x360.jpg", "1280x720.jpg"} {
			if err := os.WriteFile(filepath.Join(dir, r), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type purgeReply struct {
	status int
	Header struct {
		Errors []struct{ Code, Description string } `json:"errors"`
	} `json:"header"`
	Data struct {
		PurgeID   string `json:"purge_id"`
		JournalID string `json:"journal_id"`
		Journaled bool   `json:"journaled"`
		State     string `json:"state"`
		Layers    []struct {
			Layer, State, Status string
		} `json:"layers"`
	} `json:"data"`
}

func call(t *testing.T, method, url, token string) purgeReply {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var r purgeReply
	_ = json.NewDecoder(resp.Body).Decode(&r)
	r.status = resp.StatusCode
	return r
}

// purgeAll sends one DELETE per image and returns the journal ids; every
// purge must be answered 500 and journaled.
func (f *processFixture) purgeAll(t *testing.T, base string, ids []string) []string {
	t.Helper()
	var journal []string
	for _, id := range ids {
		r := call(t, "DELETE", base+"/image/"+id, f.token)
		if r.status != 500 || !r.Data.Journaled || r.Data.JournalID == "" {
			t.Fatalf("DELETE %s: status %d journaled %v: %+v", id, r.status, r.Data.Journaled, r)
		}
		journal = append(journal, r.Data.JournalID)
	}
	return journal
}

// waitDone polls every purge's status on base until all have succeeded.
func (f *processFixture) waitDone(t *testing.T, base string, purges []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range purges {
		for {
			r := call(t, "GET", base+"/purges/"+id, f.token)
			if r.status == 200 && r.Data.State == "succeeded" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("purge %s not done after %s: %d %+v", id, within, r.status, r.Data)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (f *processFixture) checkOncePerItem(t *testing.T, ids []string) {
	t.Helper()
	got := f.node.counts()
	for _, id := range ids {
		for _, r := range []string{"640x360.jpg", "1280x720.jpg"} {
			key := "img.example.test /image/" + id + "/" + r
			if got[key] != 1 {
				t.Errorf("%s answered %d times, want exactly once", key, got[key])
			}
		}
	}
	if len(got) != 2*len(ids) {
		t.Errorf("node answered %d distinct purges, want %d: %v", len(got), 2*len(ids), got)
	}
}

var images = []string{
	"1e8a9135-5976-4de8-9c27-64cc33bf9b01", "1e8a9135-5976-4de8-9c27-64cc33bf9b02",
	"1e8a9135-5976-4de8-9c27-64cc33bf9b03", "1e8a9135-5976-4de8-9c27-64cc33bf9b04",
}

// TestCrashLosesNoPurge kills imgpurged with SIGKILL while its journal holds
// purges for a cache node that is down, brings the node back and starts
// imgpurged again: every purge completes, each item purged exactly once.
func TestCrashLosesNoPurge(t *testing.T) {
	f := newProcessFixture(t, "")
	f.seed(t, images)
	p := testenv.StartImgpurged(t, f.cfgPath, f.addr)
	purges := f.purgeAll(t, p.URL, images)
	p.Kill()

	f.node.up(t, false)
	p2 := testenv.StartImgpurged(t, f.cfgPath, f.addr)
	f.waitDone(t, p2.URL, purges, 60*time.Second)
	f.checkOncePerItem(t, images)
	if t.Failed() {
		t.Log(p2.Log())
	}
}

// TestOutageLongerThanTheDeadline: the cache node hangs past the request
// deadline; the purge is answered 500 with its journal id, completes once
// the node answers again, and its status and the audit trail say so.
func TestOutageLongerThanTheDeadline(t *testing.T) {
	f := newProcessFixture(t, "")
	f.seed(t, images[:1])
	f.node.up(t, true)
	p := testenv.StartImgpurged(t, f.cfgPath, f.addr)
	purges := f.purgeAll(t, p.URL, images[:1])

	f.node.up(t, false)
	f.waitDone(t, p.URL, purges, 30*time.Second)
	f.checkOncePerItem(t, images[:1])
	r := call(t, "GET", p.URL+"/purges?image="+images[0], f.token)
	if r.status != 200 {
		t.Fatalf("audit query: %d", r.status)
	}
}

// TestReplicasShareTheJournal runs two imgpurged processes on one
// PostgreSQL database and kills the one that took the purges; the other
// completes them, each item purged exactly once.
func TestReplicasShareTheJournal(t *testing.T) {
	f := newProcessFixture(t, testenv.Postgres(t))
	f.seed(t, images)
	f.node.up(t, true) // hangs, so attempts are in flight when A dies
	a := testenv.StartImgpurged(t, f.cfgPath, f.addr)
	bAddr := testenv.FreeAddr(t)
	bCfg := f.write(t, bAddr, f.cfg.Journal.DatabaseURL.Reveal())
	b := testenv.StartImgpurged(t, bCfg, bAddr)

	purges := f.purgeAll(t, a.URL, images)
	a.Kill()
	f.node.up(t, false)
	f.waitDone(t, b.URL, purges, 90*time.Second)
	f.checkOncePerItem(t, images)
	if t.Failed() {
		t.Log(b.Log())
	}
}

func (f *processFixture) layerTimeout() string {
	if f.requestTimeout == "1s" {
		return "500ms"
	}
	return f.requestTimeout
}

// TestShutdownJournalsInFlightPurges sends SIGTERM while a purge waits on a
// hanging cache node: the purge is cut at the shutdown bound, answered as
// journaled, and completed by the next start.
func TestShutdownJournalsInFlightPurges(t *testing.T) {
	f := &processFixture{dir: t.TempDir(), node: newCacheNode(t), requestTimeout: "30s"}
	f.addr = testenv.FreeAddr(t)
	f.write(t, f.addr, "")
	tok, _ := auth.MintDev(f.cfg.Auth, f.cfg.DataDir, "cron", []string{"media"}, time.Hour)
	f.token = tok
	f.seed(t, images[:1])
	f.node.up(t, true)
	p := testenv.StartImgpurged(t, f.cfgPath, f.addr)

	replies := make(chan purgeReply, 1)
	go func() { replies <- call(t, "DELETE", p.URL+"/image/"+images[0], f.token) }()
	// Wait until the purge is held at the node, then stop the service.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if strings.Contains(p.Log(), `"msg":"listening"`) && nodeHasWaiter(f.node) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge never reached the node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	r := <-replies
	if r.status != 500 || !r.Data.Journaled {
		t.Fatalf("in-flight purge at shutdown: status %d journaled %v", r.status, r.Data.Journaled)
	}
	f.node.up(t, false)
	p2 := testenv.StartImgpurged(t, f.cfgPath, f.addr)
	f.waitDone(t, p2.URL, []string{r.Data.JournalID}, 60*time.Second)
}

func nodeHasWaiter(n *cacheNode) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.waiting > 0
}
