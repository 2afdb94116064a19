package providerkit

import (
	"errors"
	"fmt"
	"strings"
)

// Problems collects what is wrong with a layer's settings, each problem
// naming its field, so that validate reports them all at once rather than
// one per restart. The zero value is ready to use.
type Problems struct {
	errs []error
}

// Add records a problem with field, described by format and args.
func (p *Problems) Add(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
}

// Append records problems that already name their field.
func (p *Problems) Append(errs ...error) {
	p.errs = append(p.errs, errs...)
}

// OneOf records a problem with field unless v is one of allowed.
func (p *Problems) OneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.Add(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// Err joins the problems recorded; nil when there are none.
func (p *Problems) Err() error {
	return errors.Join(p.errs...)
}
