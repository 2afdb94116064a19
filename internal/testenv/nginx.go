package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// nginxPurgeModule is where Debian's libnginx-mod-http-cache-purge puts the
// module.
const nginxPurgeModule = "/usr/lib/nginx/modules/ngx_http_cache_purge_module.so"

// Nginx is an nginx started for one test.
type Nginx struct {
	// URL is http://127.0.0.1:port, where it accepts requests.
	URL  string
	Addr string
	proc *daemon
}

// StartNginx starts nginx on a free 127.0.0.1 port with the http-context
// file at confPath (deploy/nginx/imgpurge.conf), changing only its listen
// address ("listen 80;"), its upstream port ("server 127.0.0.1:8080;") and
// its cache directory ("/var/cache/nginx/imgpurge"). A small main
// configuration around it loads the cache-purge module and keeps the pid
// file, logs and temporary files in the test's own directory. nginx and its
// workers are stopped when the test ends. Without nginx or the module the
// test is skipped, or fails under CI=true.
func StartNginx(t testing.TB, confPath string, backendPort int) *Nginx {
	t.Helper()
	bin := lookPath("nginx")
	if bin == "" {
		Missing(t, "nginx", depsHint)
	}
	if !fileExists(nginxPurgeModule) {
		Missing(t, "nginx's cache purge module", depsHint)
	}
	// Workers run as nobody and write the cache under dir.
	dir := sharedTempDir(t, "imgpurge-nginx-")
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}

	p, addr := startOnFreePort(t, "nginx", func(addr string) (*daemon, error) {
		site := templateFile(t, confPath, map[string]string{
			"listen 80;":                 "listen " + addr + ";",
			"server 127.0.0.1:8080;":     fmt.Sprintf("server 127.0.0.1:%d;", backendPort),
			"/var/cache/nginx/imgpurge ": filepath.Join(dir, "cache") + " ",
		})
		writeTestFile(t, filepath.Join(dir, "imgpurge.conf"), site)
		writeTestFile(t, filepath.Join(dir, "nginx.conf"), nginxMain(dir))
		log := filepath.Join(dir, "error.log")
		return startDaemon(filepath.Join(dir, "stderr.log"), bin, "-p", dir, "-e", log,
			"-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	})
	return &Nginx{URL: "http://" + addr, Addr: addr, proc: p}
}

// Processes returns the PIDs of the master and its workers.
func (n *Nginx) Processes() []int { return n.proc.Tree() }

// nginxMain is the test's main configuration: everything nginx writes
// stays in dir.
func nginxMain(dir string) string {
	return fmt.Sprintf(`load_module %[2]s;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[1]s/imgpurge.conf;
}
`, dir, nginxPurgeModule)
}
