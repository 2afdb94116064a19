package testenv

import (
	"os"
	"testing"
)

// Missing reports that a test dependency (a server binary, usually) is not
// installed. Under CI=true a missing dependency is a broken runner, not a
// reason to pass quietly, so the test fails; on a developer machine it is
// skipped with the hint telling how to install it.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but was not found: %s", what, hint)
	}
	t.Skipf("%s not found; %s", what, hint)
}
