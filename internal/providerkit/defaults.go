package providerkit

// Default sets *v to d when *v is still the zero value, that is, when the
// settings left the field out.
func Default[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// DefaultPtr sets *v to point at d when *v is nil: for a field whose zero
// value is a valid setting, such as false or 0, that must be told apart
// from a field left out.
func DefaultPtr[T any](v **T, d T) {
	if *v == nil {
		*v = &d
	}
}
