package httpcache

import (
	"fmt"
	"regexp"
	"strings"
)

// Item kinds, the first word of every item.
const (
	kindPurge = "PURGE" // PURGE <host> <escaped path>
	kindBan   = "BAN"   // BAN <host> <anchored regex>
	kindXKey  = "XKEY"  // XKEY <key>
)

// item is one parsed plan item.
type item struct {
	kind string
	host string // empty for XKEY
	arg  string // the path, the regex or the key
}

// banRE: a regex anchored at the start of the path, with nothing that
// would end the unquoted ban argument in the VCL.
var banRE = regexp.MustCompile(`^\^/[\x21\x23-\x7E]*$`)

// parseItem checks an item as strictly as Plan writes it: items come back
// from the journal, and one that was tampered with or mangled must not
// reach a cache as a wider purge or a split request.
func parseItem(s string) (item, error) {
	f := strings.Split(s, " ")
	switch {
	case len(f) == 3 && f[0] == kindPurge && hostRE.MatchString(f[1]) &&
		pathRE.MatchString(f[2]) && !strings.HasPrefix(f[2], "//"):
		return item{kind: f[0], host: f[1], arg: f[2]}, nil
	case len(f) == 3 && f[0] == kindBan && hostRE.MatchString(f[1]) && banRE.MatchString(f[2]):
		return item{kind: f[0], host: f[1], arg: f[2]}, nil
	case len(f) == 2 && f[0] == kindXKey && keyRE.MatchString(f[1]):
		return item{kind: f[0], arg: f[1]}, nil
	}
	// Quoted: a damaged item may hold line breaks.
	return item{}, fmt.Errorf("malformed item %q", s[:min(len(s), 200)])
}

func (it item) String() string {
	if it.host == "" {
		return it.kind + " " + it.arg
	}
	return it.kind + " " + it.host + " " + it.arg
}
