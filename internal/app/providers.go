package app

import (
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/akamai"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
	"github.com/imgpurge/imgpurge/providers/cloudfront"
	"github.com/imgpurge/imgpurge/providers/fastly"
	"github.com/imgpurge/imgpurge/providers/fs"
	"github.com/imgpurge/imgpurge/providers/httpcache"
	"github.com/imgpurge/imgpurge/providers/s3"
)

// providers lists every provider kind a layer may name. It is the one place
// a new provider package is registered.
var providers = map[string]purge.Factory{
	"akamai":     akamai.New,
	"cloudflare": cloudflare.New,
	"cloudfront": cloudfront.New,
	"fastly":     fastly.New,
	"fs":         fs.New,
	"httpcache":  httpcache.New,
	"s3":         s3.New,
}
