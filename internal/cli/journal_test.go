package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/cli"
)

var journaledAs = regexp.MustCompile(`journaled for retry as purge ([0-9a-f-]{36})`)

// waitState polls imgpurge status until the purge is in state.
func waitState(t *testing.T, env map[string]string, id, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		o := run(t, env, "", "status", id, "--json")
		var body struct {
			Data struct{ State string } `json:"data"`
		}
		_ = json.Unmarshal([]byte(o.stdout), &body)
		if body.Data.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("purge %s is %q, never %s: %s", id, body.Data.State, state, o.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJournalCommands follows a purge whose cache layer keeps failing:
// journaled, dead after its attempts, listed by jobs --dead and purges,
// shown by status, and retried.
func TestJournalCommands(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env(nil)
	o := run(t, env, "", "purge", imageID, "640x360.jpg", "--datastore", "broken").want(t, cli.ExitFailed)
	m := journaledAs.FindStringSubmatch(o.stdout)
	if m == nil {
		t.Fatalf("no journal id in:\n%s", o.stdout)
	}
	id := m[1]
	waitState(t, env, id, "dead")

	st := run(t, env, "", "status", id).want(t, cli.ExitFailed)
	for _, want := range []string{"Purge " + id + ": dead", "selector 640x360.jpg, datastore broken",
		"by cms-publisher", "varnish", "httpcache", "dead", "derivatives", "succeeded"} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.stdout)
		}
	}
	dead := run(t, env, "", "jobs", "--dead").want(t, cli.ExitOK)
	if !strings.Contains(dead.stdout, id) || !strings.Contains(dead.stdout, "dead") {
		t.Errorf("jobs --dead:\n%s", dead.stdout)
	}
	list := run(t, env, "", "purges", "--image", imageID, "--since", "1h", "--state", "dead").want(t, cli.ExitOK)
	if !strings.Contains(list.stdout, id) || !strings.Contains(list.stdout, "1/2") {
		t.Errorf("purges:\n%s", list.stdout)
	}
	none := run(t, env, "", "purges", "--image", imageID, "--state", "succeeded").want(t, cli.ExitOK)
	if !strings.Contains(none.stdout, "No purges match.") {
		t.Errorf("purges --state succeeded:\n%s", none.stdout)
	}

	// The journal marks a purge dead a moment before its last attempt is
	// recorded; until then the server answers 409 and the command exits 1.
	rt := run(t, env, "", "retry", id)
	for deadline := time.Now().Add(10 * time.Second); rt.code != cli.ExitOK; {
		if rt.code != cli.ExitFailed || !strings.Contains(rt.stderr, "HTTP 409") || time.Now().After(deadline) {
			rt.want(t, cli.ExitOK)
		}
		time.Sleep(20 * time.Millisecond)
		rt = run(t, env, "", "retry", id)
	}
	if !strings.Contains(rt.stdout, "Purge "+id+" is pending") {
		t.Errorf("retry:\n%s", rt.stdout)
	}
	// Its attempts run out again: it is dead once more.
	waitState(t, env, id, "dead")

	run(t, env, "", "status", "0193a0e0-0000-7000-8000-00000000dead").want(t, cli.ExitUsage)
	run(t, env, "", "retry", "0193a0e0-0000-7000-8000-00000000dead").want(t, cli.ExitUsage)
	run(t, env, "", "purges", "--since", "yesterday").want(t, cli.ExitUsage)
	run(t, env, "", "jobs", "--state", "bogus").want(t, cli.ExitUsage)
	other := b.env(map[string]string{"IMGPURGE_TOKEN": b.idp.Token(t, "rsa-1", map[string]any{"tenant": "media"})})
	// Another tenant's purge is answered as if it did not exist.
	run(t, other, "", "status", id).want(t, cli.ExitUsage)
}

func TestStatusOfASucceededPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env(nil)
	o := run(t, env, "", "purge", imageID, "--json").want(t, cli.ExitOK)
	var body struct {
		Data struct {
			PurgeID string `json:"purge_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &body); err != nil || body.Data.PurgeID == "" {
		t.Fatalf("purge: %v %s", err, o.stdout)
	}
	// The audit record is written shortly after the answer.
	waitState(t, env, body.Data.PurgeID, "succeeded")
	st := run(t, env, "", "status", body.Data.PurgeID).want(t, cli.ExitOK)
	if !strings.Contains(st.stdout, "succeeded after 1 attempt") {
		t.Errorf("status:\n%s", st.stdout)
	}
}
