package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/core/coretest"
)

// The sections every plugin README has, in this order (Telegraf's model);
// a README may add its own after them.
var readmeSections = []string{"What it reports", "Options", "Fields", "Example payload", "Actions"}

// Every plugin README has the same sections; its Fields tables have the
// same columns; a built-in's Fields table names every field of its payload
// on the fixture tree (the golden file), and its example payload has no
// field the payload lacks, with the fixture's values where it says it
// comes from the fixture tree. A bundle's README does the same per
// collector (checkBundleREADME).
func TestPluginREADMEs(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(coretest.RepoRoot(), "plugins", "*", "main.go"))
	if err != nil || len(dirs) < 11 {
		t.Fatalf("plugins found: %v %v", dirs, err)
	}
	for _, m := range dirs {
		name := filepath.Base(filepath.Dir(m))
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(m), "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			secs := sections(string(b))
			for i, want := range readmeSections {
				if i >= len(secs) || !strings.HasPrefix(secs[i].title, want) {
					var got []string
					for _, s := range secs {
						got = append(got, s.title)
					}
					t.Fatalf("section %d must be %q; the README's ## sections: %q", i+1, want, got)
				}
			}
			fields := secs[2].body
			for _, l := range strings.Split(fields, "\n") {
				if strings.HasPrefix(l, "| field |") && strings.TrimSpace(l) != "| field | type | unit | source |" {
					t.Errorf("Fields table header %q, want | field | type | unit | source |", l)
				}
			}
			e, builtin := catalog.Lookup(name)
			if !builtin {
				checkBundleREADME(t, fields, secs[3].body)
				return
			}
			golden := readGolden(t, e.Path)
			for _, k := range keysOf(golden) {
				if !tableNames(fields, k) {
					t.Errorf("field %q of %s is not in the Fields table", k, e.Path)
				}
			}
			blocks := jsonBlocks(secs[3].body)
			fromFixture := strings.Contains(secs[3].body, "on the fixture tree (`make run`")
			for _, blk := range blocks {
				var ex any
				if err := json.Unmarshal([]byte(blk), &ex); err != nil {
					t.Errorf("example payload is not JSON: %v", err)
					continue
				}
				checkExample(t, e.Path, ex, golden, fields, fromFixture)
			}
			if fromFixture && len(blocks) == 0 {
				t.Error("the example payload has no json block")
			}
		})
	}
}

// A bundle's Fields section has a subsection per collector titled
// "### <collector> (`<REST path>`…": its tables name every field of that
// path's payload on the fixture tree. Each example payload follows a line
// naming the request it answers ("GET /api/v1/<path>") and is checked
// like a built-in's.
var (
	bundleSubsection = regexp.MustCompile("^([a-z_]+) \\(`(/[a-z0-9/_-]+)`")
	exampleRequest   = regexp.MustCompile("GET /api/v1(/[a-z0-9/_-]+)")
)

func checkBundleREADME(t *testing.T, fields, examples string) {
	t.Helper()
	tables := map[string]string{} // REST path -> its subsection
	for _, sub := range strings.Split("\n"+fields, "\n### ")[1:] {
		title, body, _ := strings.Cut(sub, "\n")
		m := bundleSubsection.FindStringSubmatch(title)
		if m == nil {
			t.Errorf("Fields subsection %q does not start with `<collector> (`/path`…`", title)
			continue
		}
		tables[m[2]] = body
		for _, k := range keysOf(readGolden(t, m[2])) {
			if !tableNames(body, k) {
				t.Errorf("field %q of %s is not in the %s Fields table", k, m[2], m[1])
			}
		}
	}
	if len(tables) == 0 {
		return // one collector: nothing to tell apart
	}
	parts := strings.Split(examples, "```json\n")
	for i, blk := range parts[1:] {
		m := exampleRequest.FindAllStringSubmatch(parts[i], -1)
		if m == nil {
			t.Errorf("example payload %d does not say which GET /api/v1/… it answers", i+1)
			continue
		}
		path := m[len(m)-1][1]
		table, ok := tables[path]
		if !ok {
			t.Errorf("example payload %d answers %s, which no Fields subsection covers", i+1, path)
			continue
		}
		blk, _, _ = strings.Cut(blk, "```")
		var ex any
		if err := json.Unmarshal([]byte(blk), &ex); err != nil {
			t.Errorf("example payload %d is not JSON: %v", i+1, err)
			continue
		}
		checkExample(t, path, ex, readGolden(t, path), table, strings.Contains(parts[i], "on the fixture tree"))
	}
}

type section struct{ title, body string }

func sections(s string) []section {
	var out []section
	for _, part := range strings.Split("\n"+s, "\n## ")[1:] {
		title, body, _ := strings.Cut(part, "\n")
		out = append(out, section{title, body})
	}
	return out
}

func readGolden(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(goldenFile(path))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// item is the object of a payload, or the first item of a list payload.
func item(v any) map[string]any {
	if l, ok := v.([]any); ok {
		if len(l) == 0 {
			return nil
		}
		v = l[0]
	}
	m, _ := v.(map[string]any)
	return m
}

func keysOf(v any) []string {
	var out []string
	for k := range item(v) {
		out = append(out, k)
	}
	return out
}

var backticked = regexp.MustCompile("`([a-z0-9_*]+)")

// tableNames reports whether a row of the Fields table names field, as
// `field`, or by a glob such as `ram_*`.
func tableNames(table, field string) bool {
	for _, l := range strings.Split(table, "\n") {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(l, "| "), " | ")
		for _, m := range backticked.FindAllStringSubmatch(first, -1) {
			if ok, _ := filepath.Match(m[1], field); ok {
				return true
			}
		}
	}
	return false
}

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

func jsonBlocks(s string) []string {
	var out []string
	for _, m := range jsonBlock.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkExample: every field of the example is in the Fields table; an
// example from the fixture tree has the fixture's values.
func checkExample(t *testing.T, path string, ex, golden any, table string, fromFixture bool) {
	t.Helper()
	ei, gi := item(ex), item(golden)
	for k := range ei {
		if !tableNames(table, k) {
			t.Errorf("example field %q is not in the Fields table", k)
		}
	}
	if ei == nil || !fromFixture {
		return
	}
	if gi == nil {
		t.Errorf("example for %s has an item; the fixture's payload is empty", path)
		return
	}
	for k, v := range ei {
		g, ok := gi[k]
		if !ok {
			t.Errorf("example field %q is not in %s's payload", k, path)
			continue
		}
		if s, masked := g.(string); k != "timestamp" && !(masked && strings.HasPrefix(s, "<")) {
			if a, b := mustJSON(v), mustJSON(g); a != b {
				t.Errorf("example %s = %s; the fixture gives %s", k, a, b)
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
