package catalog

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// README's collectors table says for each built-in what the catalog says.
func TestREADMECollectorsTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(coretest.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// | name | `topic` | N s | `/path` | [plugins/name](plugins/name) |
	row := regexp.MustCompile("^\\| ([a-z_]+) \\| `([a-z_]+)` \\| ([0-9]+) s \\| `([^`]+)` \\| \\[plugins/([a-z_]+)\\]")
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		e, ok := Lookup(m[1])
		if !ok {
			t.Errorf("README lists %q as a built-in collector; the catalog does not", m[1])
			continue
		}
		seen[e.Name] = true
		secs, _ := strconv.Atoi(m[3])
		if m[2] != e.Topic || time.Duration(secs)*time.Second != e.Interval || m[4] != e.Path || m[5] != e.Name {
			t.Errorf("README row %q; catalog: topic %s, %v, path %s, plugins/%s", line, e.Topic, e.Interval, e.Path, e.Name)
		}
	}
	for _, e := range Builtins {
		if !seen[e.Name] {
			t.Errorf("README's collectors table has no row for %s", e.Name)
		}
	}
}

// Each built-in plugin, built and run as towerd runs it, describes itself
// as the catalog describes it: plugins cannot import the core, so this
// test is what ties the two.
func TestBuiltinPluginsDescribeAsCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the nine plugins")
	}
	// vm loads libvirt at run time with this tag (as make build does), so
	// the test needs no libvirt headers.
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags=libvirt_dlopen"))
	for _, e := range Builtins {
		t.Run(e.Name, func(t *testing.T) {
			p := plugintest.Start(t, plugintest.Build(t, "github.com/towerd/towerd/plugins/"+e.Name))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := p.DescribeBundle(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Collectors) != 1 {
				t.Fatalf("%d collectors, want 1", len(b.Collectors))
			}
			info := b.Collectors[0]
			if info.Name != e.Name || info.Topic != e.Topic || info.DefaultInterval != e.Interval {
				t.Errorf("Describe: name %q topic %q interval %v; catalog: %q %q %v",
					info.Name, info.Topic, info.DefaultInterval, e.Name, e.Topic, e.Interval)
			}
			if !slices.Equal(info.Actions, e.Actions) && (len(info.Actions) > 0 || len(e.Actions) > 0) {
				t.Errorf("Describe actions %q; catalog %q", info.Actions, e.Actions)
			}
		})
	}
}

func TestCatalogIsWellFormed(t *testing.T) {
	names, topics, paths := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range Builtins {
		if names[e.Name] || topics[e.Topic] || paths[e.Path] {
			t.Errorf("%s: name, topic or path given twice", e.Name)
		}
		names[e.Name], topics[e.Topic], paths[e.Path] = true, true, true
		if e.Interval < MinInterval || e.Interval > MaxInterval {
			t.Errorf("%s: interval %v outside %v..%v", e.Name, e.Interval, MinInterval, MaxInterval)
		}
		if !strings.HasPrefix(e.Path, "/") {
			t.Errorf("%s: path %q", e.Name, e.Path)
		}
	}
	if got := ActionsOf("docker"); len(got) == 0 || &got[0] == &MustLookup("docker").Actions[0] {
		t.Error("ActionsOf must return a copy of the docker actions")
	}
}
