package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const dockerfile = "container/Dockerfile"

// image is what the tests of the other deployments need from the container
// image's definition.
type image struct {
	uid        int
	port       string
	configPath string
}

// shellless are final-stage bases with no shell or package manager.
var shellless = regexp.MustCompile(`^(scratch|gcr\.io/distroless/static(-debian\d+)?` +
	`(:[\w.-]+)?(@sha256:[0-9a-f]{64})?)$`)

func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := parseDockerfile(t, dockerfile)
	final := ins[len(ins)-1].stage
	if final < 1 {
		t.Fatalf("%s has %d stage(s); want a build stage and a final one", dockerfile, final+1)
	}

	t.Run("final stage has no shell", func(t *testing.T) {
		for _, in := range stage(ins, final) {
			switch in.cmd {
			case "FROM":
				base := strings.Fields(in.args)[0]
				if !shellless.MatchString(base) {
					t.Errorf("line %d: final base %q is not a shell-less image "+
						"(distroless static or scratch)", in.line, base)
				}
			case "RUN", "SHELL", "HEALTHCHECK", "ONBUILD":
				// Each needs a shell, or a binary the final image does not have.
				t.Errorf("line %d: %s in the final stage", in.line, in.cmd)
			}
		}
	})

	t.Run("builds the Makefile's target", func(t *testing.T) {
		want := makeBuildPackage(t, "imgpurged")
		run := goBuild(t, ins)
		for _, part := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/imgpurged"} {
			if !strings.Contains(run, part) {
				t.Errorf("go build line lacks %q: %s", part, run)
			}
		}
		if f := strings.Fields(run); f[len(f)-1] != want {
			t.Errorf("Dockerfile builds %q, the Makefile builds %q", f[len(f)-1], want)
		}
	})

	t.Run("builder Go is the module's", func(t *testing.T) {
		builder := goVersionArg(t, ins)
		module := goModVersion(t)
		if olderGo(builder, module) {
			t.Errorf("builder Go %s is older than go.mod's go %s", builder, module)
		}
	})

	t.Run("runs as a numeric non-root user", func(t *testing.T) {
		if uid := readImage(t).uid; uid == 0 {
			t.Error("USER is root")
		}
	})

	t.Run("the environment does not override the configuration", func(t *testing.T) {
		// IMGPURGE_LISTEN and friends silently win over the file; set in
		// the image, they would hide what the ConfigMap says.
		for _, in := range ins {
			if in.cmd == "ENV" && strings.Contains(in.args, "IMGPURGE_") {
				t.Errorf("line %d: ENV %s", in.line, in.args)
			}
		}
	})
}

func stage(ins []instruction, n int) []instruction {
	var out []instruction
	for _, in := range ins {
		if in.stage == n {
			out = append(out, in)
		}
	}
	return out
}

func goBuild(t *testing.T, ins []instruction) string {
	t.Helper()
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			_, build, _ := strings.Cut(in.args, "CGO_ENABLED=")
			return "CGO_ENABLED=" + build
		}
	}
	t.Fatal("no RUN ... go build in the Dockerfile")
	return ""
}

func goVersionArg(t *testing.T, ins []instruction) string {
	t.Helper()
	for _, in := range ins {
		if v, ok := strings.CutPrefix(in.args, "GO_VERSION="); ok && in.cmd == "ARG" {
			return v
		}
	}
	t.Fatal("no ARG GO_VERSION=... in the Dockerfile")
	return ""
}

// olderGo reports whether Go version a (such as 1.26.8) is older than b.
func olderGo(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func goModVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// readImage returns the user, port and configuration path of the final
// stage.
func readImage(t *testing.T) image {
	t.Helper()
	ins := parseDockerfile(t, dockerfile)
	var img image
	img.uid = -1
	for _, in := range stage(ins, ins[len(ins)-1].stage) {
		switch in.cmd {
		case "USER":
			uid, _, _ := strings.Cut(in.args, ":")
			n, err := strconv.Atoi(uid)
			if err != nil {
				t.Fatalf("line %d: USER %q is not numeric", in.line, in.args)
			}
			img.uid = n
		case "EXPOSE":
			img.port = strings.TrimSuffix(in.args, "/tcp")
		case "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
				t.Fatalf("line %d: ENTRYPOINT is not in exec form: %v", in.line, err)
			}
			for i, a := range argv {
				if a == "-config" && i+1 < len(argv) {
					img.configPath = argv[i+1]
				}
			}
		}
	}
	if img.uid < 0 || img.port == "" || img.configPath == "" {
		t.Fatalf("final stage needs USER, EXPOSE and ENTRYPOINT [..., \"-config\", path]: %+v", img)
	}
	return img
}
