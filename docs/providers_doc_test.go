package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// providerKinds reads the provider table of internal/app: every kind a
// layer may name. Reading the source keeps this package from depending on
// every provider.
func providerKinds(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../internal/app/providers.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	ast.Inspect(f, func(n ast.Node) bool {
		if kv, ok := n.(*ast.KeyValueExpr); ok {
			if lit, ok := kv.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				k, _ := strconv.Unquote(lit.Value)
				kinds = append(kinds, k)
			}
		}
		return true
	})
	if len(kinds) == 0 {
		t.Fatal("no provider kinds found in internal/app/providers.go")
	}
	return kinds
}

// settingsFields returns the YAML names of the fields of the Settings type
// of providers/<kind>, read from its source.
func settingsFields(t *testing.T, kind string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "providers", kind, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fields := settingsIn(f); fields != nil {
			return fields
		}
	}
	t.Fatalf("providers/%s has no type Settings struct", kind)
	return nil
}

func settingsIn(f *ast.File) []string {
	var fields []string
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Settings" {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		found = true
		for _, fl := range st.Fields.List {
			if fl.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fl.Tag.Value)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
			if name != "" && name != "-" {
				fields = append(fields, name)
			}
		}
		return false
	})
	if !found {
		return nil
	}
	return fields
}

// TestProviderGuides checks that every provider kind has a guide, that its
// settings table lists exactly the fields of the provider's Settings, and
// that every layer its YAML examples show uses only those settings.
func TestProviderGuides(t *testing.T) {
	t.Parallel()
	for _, kind := range providerKinds(t) {
		t.Run(kind, func(t *testing.T) {
			guide := filepath.Join("providers", kind+".md")
			if _, err := os.Stat(guide); err != nil {
				t.Fatalf("no guide for provider %s: %v", kind, err)
			}
			fields := settingsFields(t, kind)
			compareFields(t, guide, fields, documentedFields(t, guide))
			layers := 0
			for i, block := range yamlBlocks(t, guide) {
				layers += checkLayers(t, guide, i+1, block, kind, fields)
			}
			if layers == 0 {
				t.Errorf("%s shows no layer of kind %s in a YAML block", guide, kind)
			}
		})
	}
}

// checkLayers finds the layers of the given kind in a YAML block and checks
// their settings keys; it returns how many it found.
func checkLayers(t *testing.T, guide string, n int, block, kind string, fields []string) int {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(block), &root); err != nil {
		t.Errorf("%s: YAML block %d does not parse: %v", guide, n, err)
		return 0
	}
	found := 0
	var walk func(*yaml.Node)
	walk = func(node *yaml.Node) {
		if node.Kind == yaml.MappingNode && value(node, "kind") == kind {
			found++
			if s := child(node, "settings"); s != nil {
				for i := 0; i+1 < len(s.Content); i += 2 {
					if k := s.Content[i].Value; !slices.Contains(fields, k) {
						t.Errorf("%s: YAML block %d: %s has no setting %q", guide, n, kind, k)
					}
				}
			}
		}
		for _, c := range node.Content {
			walk(c)
		}
	}
	walk(&root)
	return found
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func value(m *yaml.Node, key string) string {
	if c := child(m, key); c != nil {
		return c.Value
	}
	return ""
}
