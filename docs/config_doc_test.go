package docs_test

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/config"
)

// yamlFields lists the YAML paths of t's fields, recursively: "auth.issuer",
// "datastores[].layers[].rate_limit.burst". A struct that decodes itself
// (config.Secret, yaml.Node) is one field, not a section.
func yamlFields(t reflect.Type, prefix string) []string {
	unmarshaler := reflect.TypeFor[yaml.Unmarshaler]()
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
			if ft.Kind() == reflect.Struct {
				path += "[]"
			}
		}
		leaf := ft.Kind() != reflect.Struct || ft == reflect.TypeFor[yaml.Node]() ||
			reflect.PointerTo(ft).Implements(unmarshaler)
		if leaf {
			out = append(out, path)
			continue
		}
		out = append(out, yamlFields(ft, path+".")...)
	}
	return out
}

// documentedFields returns the first cell of every row of the tables in a
// Markdown file whose first column is headed "field".
func documentedFields(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cell := regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")
	var out []string
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case strings.HasPrefix(line, "| field |"):
			inTable = true
		case inTable:
			if m := cell.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareFields reports fields the code has and the document lacks, and
// the other way round. A documented section (a list of objects, such as
// datastores[].layers) counts as present when the code has fields in it.
func compareFields(t *testing.T, doc string, code, documented []string) {
	t.Helper()
	for _, f := range code {
		if !slices.Contains(documented, f) {
			t.Errorf("%s does not document %s", doc, f)
		}
	}
	for _, f := range documented {
		section := slices.ContainsFunc(code, func(c string) bool {
			return strings.HasPrefix(c, f+".") || strings.HasPrefix(c, f+"[].")
		})
		if !slices.Contains(code, f) && !section {
			t.Errorf("%s documents %s, which the code does not have", doc, f)
		}
	}
	if n := len(documented) - len(slices.Compact(slices.Sorted(slices.Values(documented)))); n > 0 {
		t.Errorf("%s documents %d field(s) twice", doc, n)
	}
}

func TestConfigurationReferenceMatchesTheCode(t *testing.T) {
	t.Parallel()
	code := yamlFields(reflect.TypeFor[config.Config](), "")
	if len(code) < 40 {
		t.Fatalf("found only %d configuration fields; the walk is broken: %v", len(code), code)
	}
	compareFields(t, "configuration.md", code, documentedFields(t, "configuration.md"))
}

// TestDocumentedConfigurationsParse checks that every complete
// configuration shown in the documentation is accepted by the code.
func TestDocumentedConfigurationsParse(t *testing.T) {
	for _, file := range []string{"configuration.md", "architecture.md", "runbook.md"} {
		for i, block := range yamlBlocks(t, file) {
			if !strings.Contains(block, "datastores:") || !strings.Contains(block, "auth:") {
				continue // a fragment, not a whole file
			}
			for _, name := range envRefs(block) {
				t.Setenv(name, "dummy")
			}
			if _, err := config.Parse([]byte(block)); err != nil {
				t.Errorf("%s: YAML block %d is not a valid configuration: %v", file, i+1, err)
			}
		}
	}
}

var fenceRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// yamlBlocks returns the ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range fenceRE.FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	return out
}

var envRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func envRefs(doc string) []string {
	var names []string
	for _, m := range envRefRE.FindAllStringSubmatch(doc, -1) {
		names = append(names, m[1])
	}
	return names
}
