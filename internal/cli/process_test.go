package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/cli"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// TestBinaryExitCodes runs the built imgpurge as a cron job would, its
// stderr a pipe: the exit status is the command line's, and progress comes
// as plain lines.
func TestBinaryExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bin := filepath.Join(testenv.Binaries(t), "imgpurge")
	exe := func(env map[string]string, stdin string, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + b.dir, "PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}

	renditions(t, b.derivs, imageID, "640x360.jpg")
	if code, out, _ := exe(b.env(nil), "", "purge", imageID); code != cli.ExitOK || !strings.Contains(out, "succeeded") {
		t.Errorf("purge: exit %d\n%s", code, out)
	}
	ids := uuid.NewString() + "\n" + uuid.NewString() + "\n"
	code, _, stderr := exe(b.env(nil), ids, "purge", "--from", "-", "--progress-every", "1")
	if code != cli.ExitOK || !strings.Contains(stderr, "progress: 2/2 purges (100%)") || strings.Contains(stderr, "\r") {
		t.Errorf("bulk: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := exe(b.env(nil), "", "purge"); code != cli.ExitUsage {
		t.Errorf("no id: exit %d", code)
	}
	closed := b.env(map[string]string{"IMGPURGE_URL": "http://" + b.closed})
	if code, _, _ := exe(closed, "", "purge", imageID); code != cli.ExitNoReach {
		t.Errorf("unreachable: exit %d", code)
	}
}
