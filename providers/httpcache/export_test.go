package httpcache

import (
	"net"
	"net/http"

	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/telemetry"
)

// DialFrom makes p connect from the loopback address ip, so a test can be a
// client that a cache's ACL does not list.
func DialFrom(p purge.Provider, ip string) {
	tr := &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}
	p.(*Provider).client.Transport = telemetry.Transport(tr)
}

// MaxBanRegex is the longest regex one BAN item carries.
const MaxBanRegex = maxBanRegex
