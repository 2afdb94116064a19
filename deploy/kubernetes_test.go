package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/config"
)

// The subset of the Kubernetes objects the tests read.
type (
	object struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   meta     `yaml:"metadata"`
		Spec       spec     `yaml:"spec"`
		Data       dataMap  `yaml:"data"`
		Resources  []string `yaml:"resources"` // Kustomization
		file       string
	}
	dataMap map[string]string
	meta    struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	spec struct {
		Replicas     *int           `yaml:"replicas"`
		Selector     selector       `yaml:"selector"`
		Template     podTemplate    `yaml:"template"`
		Ports        []servicePort  `yaml:"ports"`
		MinAvailable yaml.Node      `yaml:"minAvailable"`
		Strategy     map[string]any `yaml:"strategy"`
	}
	// selector is a Deployment's or PDB's {matchLabels: ...}, or a
	// Service's plain map; both decode into MatchLabels.
	selector struct {
		MatchLabels map[string]string
	}
	podTemplate struct {
		Metadata meta    `yaml:"metadata"`
		Spec     podSpec `yaml:"spec"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               securityContext `yaml:"securityContext"`
		Containers                    []container     `yaml:"containers"`
		Volumes                       []volume        `yaml:"volumes"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name            string          `yaml:"name"`
		Command         []string        `yaml:"command"`
		Args            []string        `yaml:"args"`
		Ports           []containerPort `yaml:"ports"`
		Env             []envVar        `yaml:"env"`
		Resources       resources       `yaml:"resources"`
		LivenessProbe   *probe          `yaml:"livenessProbe"`
		ReadinessProbe  *probe          `yaml:"readinessProbe"`
		StartupProbe    *probe          `yaml:"startupProbe"`
		SecurityContext securityContext `yaml:"securityContext"`
		VolumeMounts    []volumeMount   `yaml:"volumeMounts"`
		Lifecycle       struct {
			PreStop struct {
				Sleep *struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
	}
	containerPort struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}
	servicePort struct {
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
	}
	envVar struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			ResourceFieldRef *struct {
				Resource string `yaml:"resource"`
			} `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	}
	resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	probe struct {
		HTTPGet *struct {
			Path string    `yaml:"path"`
			Port yaml.Node `yaml:"port"`
		} `yaml:"httpGet"`
	}
	volumeMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}
	volume struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name  string `yaml:"name"`
			Items []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"configMap"`
		EmptyDir yaml.Node `yaml:"emptyDir"`
	}
)

func (s *selector) UnmarshalYAML(n *yaml.Node) error {
	var withMatch struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := n.Decode(&withMatch); err == nil && withMatch.MatchLabels != nil {
		s.MatchLabels = withMatch.MatchLabels
		return nil
	}
	return n.Decode(&s.MatchLabels)
}

// manifests decodes every document of every YAML file under kubernetes/.
func manifests(t *testing.T) map[string]*object {
	t.Helper()
	byKind := map[string]*object{}
	for _, file := range files(t, "kubernetes/*.yaml") {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if o.APIVersion == "" || o.Kind == "" {
				t.Fatalf("%s: a document without apiVersion or kind", file)
			}
			if byKind[o.Kind] != nil {
				t.Fatalf("%s: a second %s; the tests expect one of each", file, o.Kind)
			}
			o.file = filepath.Base(file)
			byKind[o.Kind] = &o
		}
	}
	for _, kind := range []string{"Kustomization", "Deployment", "Service", "ConfigMap",
		"PodDisruptionBudget", "ServiceAccount"} {
		if byKind[kind] == nil {
			t.Fatalf("kubernetes/ has no %s", kind)
		}
	}
	return byKind
}

func imgpurged(t *testing.T, dep *object) *container {
	t.Helper()
	for i, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "imgpurged" {
			return &dep.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatal("the Deployment has no container named imgpurged")
	return nil
}

// configDoc returns the imgpurged configuration the ConfigMap holds.
func configDoc(t *testing.T, cm *object) (key, doc string) {
	t.Helper()
	if len(cm.Data) != 1 {
		t.Fatalf("ConfigMap holds %d keys; want the one configuration file", len(cm.Data))
	}
	for k, v := range cm.Data {
		return k, v
	}
	return "", ""
}

// TestKubernetesManifests checks the manifests against each other, the
// container image, the configuration code and the real router.
func TestKubernetesManifests(t *testing.T) {
	objs := manifests(t)
	dep, cm := objs["Deployment"], objs["ConfigMap"]
	c := imgpurged(t, dep)
	pod := dep.Spec.Template.Spec
	img := readImage(t)
	_, doc := configDoc(t, cm)
	cfg := parseWithDummies(t, doc, map[string]string{
		"IMGPURGE_DATABASE_URL": "postgres://imgpurge:dummy@127.0.0.1:1/imgpurge",
	})

	t.Run("kustomization lists every manifest", func(t *testing.T) {
		var want []string
		for _, o := range objs {
			if o.Kind != "Kustomization" {
				want = append(want, o.file)
			}
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(objs["Kustomization"].Resources))
		if !slices.Equal(got, want) {
			t.Errorf("kustomization resources %v, manifests %v", got, want)
		}
	})

	t.Run("three replicas on PostgreSQL", func(t *testing.T) {
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
			t.Errorf("replicas = %v, want 3", dep.Spec.Replicas)
		}
		db := findEnv(c, "IMGPURGE_DATABASE_URL")
		if db == nil || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil {
			t.Fatal("IMGPURGE_DATABASE_URL must come from a Secret")
		}
		if cfg.Journal.DatabaseURL.From != "IMGPURGE_DATABASE_URL" ||
			!strings.HasPrefix(cfg.Journal.DatabaseURL.Reveal(), "postgres://") {
			t.Error("the journal does not take its PostgreSQL URL from IMGPURGE_DATABASE_URL")
		}
	})

	t.Run("secrets are references", func(t *testing.T) {
		if objs["Secret"] != nil {
			t.Errorf("%s holds a Secret; reference Secrets, do not ship them", objs["Secret"].file)
		}
		for _, name := range envRefs(doc) {
			e := findEnv(c, name)
			if e == nil || e.Value != nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("${%s} in the configuration must be set from a secretKeyRef", name)
			}
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "IMGPURGE_") && e.Name != "IMGPURGE_DATABASE_URL" {
				t.Errorf("env %s overrides the ConfigMap; set it in the configuration", e.Name)
			}
		}
	})

	t.Run("ports agree", func(t *testing.T) {
		port := listenPort(t, cfg.Listen)
		named := containerPorts(c)
		if img.port != port {
			t.Errorf("image EXPOSEs %s, configuration listens on %s", img.port, port)
		}
		if !slices.Contains(slices.Collect(maps.Values(named)), port) {
			t.Errorf("container ports %v do not include the configuration's %s", named, port)
		}
		if p, ok := dep.Spec.Template.Metadata.Annotations["prometheus.io/port"]; ok && p != port {
			t.Errorf("prometheus.io/port %s is not the configuration's port %s", p, port)
		}
		for _, sp := range objs["Service"].Spec.Ports {
			if resolvePort(t, named, &sp.TargetPort) != port {
				t.Errorf("Service targetPort %q is not the configuration's port %s", sp.TargetPort.Value, port)
			}
		}
	})

	t.Run("configuration is mounted where the image reads it", func(t *testing.T) {
		key, _ := configDoc(t, cm)
		mounted := ""
		for _, v := range pod.Volumes {
			if v.ConfigMap == nil || v.ConfigMap.Name != cm.Metadata.Name {
				continue
			}
			for _, m := range c.VolumeMounts {
				for _, it := range v.ConfigMap.Items {
					if m.Name == v.Name && it.Key == key {
						mounted = path.Join(m.MountPath, it.Path)
					}
				}
			}
		}
		if mounted != img.configPath {
			t.Errorf("ConfigMap key %s is mounted at %q, the image reads -config %q", key, mounted, img.configPath)
		}
		if len(c.Command) > 0 || len(c.Args) > 0 {
			t.Error("command/args replace or extend the image's entrypoint; keep it")
		}
	})

	t.Run("probes hit real routes", func(t *testing.T) {
		base := bootLocal(t)
		want := map[string]*probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
		for p, pr := range want {
			if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != p {
				t.Errorf("want an httpGet probe on %s, got %+v", p, pr)
				continue
			}
			if resolvePort(t, containerPorts(c), &pr.HTTPGet.Port) != listenPort(t, cfg.Listen) {
				t.Errorf("probe %s targets port %q", p, pr.HTTPGet.Port.Value)
			}
			if code := getStatus(t, base+p); code != 200 {
				t.Errorf("GET %s = %d on the real router, want 200", p, code)
			}
		}
		if c.StartupProbe != nil && (c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/healthz") {
			t.Error("the startup probe should use /healthz")
		}
	})

	t.Run("termination grace covers shutdown", func(t *testing.T) {
		grace := pod.TerminationGracePeriodSeconds
		if grace == nil {
			t.Fatal("terminationGracePeriodSeconds is not set")
		}
		need := stopBound(cfg)
		if s := c.Lifecycle.PreStop.Sleep; s != nil {
			need += time.Duration(s.Seconds) * time.Second
		}
		if time.Duration(*grace)*time.Second <= need {
			t.Errorf("terminationGracePeriodSeconds %d ≤ %s (preStop + 2×shutdown_timeout + 5s)", *grace, need)
		}
	})

	t.Run("resources", func(t *testing.T) {
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" {
				t.Errorf("no %s request", r)
			}
		}
		if c.Resources.Limits["memory"] == "" {
			t.Error("no memory limit")
		}
	})

	t.Run("security context", func(t *testing.T) {
		checkSecurity(t, pod.SecurityContext, c.SecurityContext, img.uid)
	})

	t.Run("writable paths are volumes", func(t *testing.T) {
		// The root filesystem is read-only; data_dir must be mounted.
		if !mountedUnder(c, cfg.DataDir) {
			t.Errorf("data_dir %s is not on a mounted volume", cfg.DataDir)
		}
	})

	t.Run("selectors match the pods", func(t *testing.T) {
		labels := dep.Spec.Template.Metadata.Labels
		for kind, sel := range map[string]map[string]string{
			"Deployment":          dep.Spec.Selector.MatchLabels,
			"PodDisruptionBudget": objs["PodDisruptionBudget"].Spec.Selector.MatchLabels,
			"Service":             objs["Service"].Spec.Selector.MatchLabels,
		} {
			if len(sel) == 0 {
				t.Errorf("%s has an empty selector", kind)
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s selects %s=%s; the pods have %q", kind, k, v, labels[k])
				}
			}
		}
		checkPDB(t, objs["PodDisruptionBudget"], *dep.Spec.Replicas)
	})
}

func findEnv(c *container, name string) *envVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func containerPorts(c *container) map[string]string {
	named := map[string]string{}
	for _, p := range c.Ports {
		named[p.Name] = strconv.Itoa(p.ContainerPort)
	}
	return named
}

// resolvePort turns a port given by name or number into the number.
func resolvePort(t *testing.T, named map[string]string, n *yaml.Node) string {
	t.Helper()
	if _, err := strconv.Atoi(n.Value); err == nil {
		return n.Value
	}
	p, ok := named[n.Value]
	if !ok {
		t.Errorf("port name %q is not a container port", n.Value)
	}
	return p
}

func checkSecurity(t *testing.T, pod, c securityContext, imageUID int) {
	t.Helper()
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(pod.RunAsNonRoot) && !isTrue(c.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if pod.RunAsUser != nil && *pod.RunAsUser != imageUID {
		t.Errorf("runAsUser %d differs from the image's USER %d", *pod.RunAsUser, imageUID)
	}
	if !isTrue(c.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if !slices.Equal(c.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", c.Capabilities.Drop)
	}
	if pod.SeccompProfile.Type != "RuntimeDefault" && c.SeccompProfile.Type != "RuntimeDefault" {
		t.Error("no RuntimeDefault seccomp profile")
	}
}

func mountedUnder(c *container, dir string) bool {
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly && (dir == m.MountPath || strings.HasPrefix(dir, m.MountPath+"/")) {
			return true
		}
	}
	return false
}

// checkPDB makes sure the budget allows a drain (not every replica is
// required) and keeps more than one replica serving.
func checkPDB(t *testing.T, pdb *object, replicas int) {
	t.Helper()
	if pdb.Spec.MinAvailable.Kind == 0 {
		t.Fatal("the PodDisruptionBudget sets no minAvailable")
	}
	n, err := strconv.Atoi(pdb.Spec.MinAvailable.Value)
	if err != nil {
		t.Fatalf("minAvailable %q: use a count", pdb.Spec.MinAvailable.Value)
	}
	if n < 2 || n >= replicas {
		t.Errorf("minAvailable %d with %d replicas: want at least 2 and fewer than all", n, replicas)
	}
}

// TestConfigMapBuildsEveryLayer builds the service from the ConfigMap's
// configuration, so each provider checks its own settings, with only what
// cannot run here replaced: dev tokens for the identity provider, a SQLite
// journal for PostgreSQL. Nothing is contacted: the providers make no
// request when they are built.
func TestConfigMapBuildsEveryLayer(t *testing.T) {
	_, doc := configDoc(t, manifests(t)["ConfigMap"])
	cfg := parseWithDummies(t, doc, map[string]string{"AWS_EC2_METADATA_DISABLED": "true"})
	cfg.Auth = config.Auth{Mode: config.AuthModeDev, Audience: cfg.Auth.Audience}.WithDefaults()
	cfg.DataDir = t.TempDir()
	// No collector runs here, and nothing may be sent elsewhere.
	cfg.Telemetry.OTLPEndpoint = ""
	buildOrSkip(t, cfg)
}
