package unraid

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseDialect(t *testing.T) {
	type kv = map[string]string
	tests := []struct {
		name     string
		in       string
		global   kv
		sections map[string]kv
		order    []string
	}{
		{"quoted values, no sections", "version=\"7.3.1\"\nNAME=\"Tower\"\n", kv{"version": "7.3.1", "NAME": "Tower"}, nil, nil},
		{"quoted section headers", "[\"disk1\"]\nname=\"disk1\"\n[\"cache\"]\nname=\"cache\"\n", kv{}, map[string]kv{"disk1": {"name": "disk1"}, "cache": {"name": "cache"}}, []string{"disk1", "cache"}},
		{"plain section headers", "[display]\nhot=\"45\"\nmax=55\n", kv{}, map[string]kv{"display": {"hot": "45", "max": "55"}}, []string{"display"}},
		{"CRLF line ends", "shareComment=\"media\"\r\nshareExport=\"e\"\r\n", kv{"shareComment": "media", "shareExport": "e"}, nil, nil},
		{"comments and blank lines", "; emhttp\n# comment\n\n  a=\"1\"  \n", kv{"a": "1"}, nil, nil},
		{"empty and unquoted values", "a=\"\"\nb=\nc=plain value\n", kv{"a": "", "b": "", "c": "plain value"}, nil, nil},
		{"inline comments", "a=\"x\" ; note\nb=y ; note\n", kv{"a": "x", "b": "y"}, nil, nil},
		{"inner quotes and equals kept", "comment=\"the \"best\" = share\"\n", kv{"comment": "the \"best\" = share"}, nil, nil},
		{"repeated key keeps last", "a=\"1\"\na=\"2\"\n", kv{"a": "2"}, nil, nil},
		{"repeated section merges", "[\"d\"]\na=\"1\"\n[\"e\"]\n[\"d\"]\nb=\"2\"\n", kv{}, map[string]kv{"d": {"a": "1", "b": "2"}, "e": {}}, []string{"d", "e"}},
		{"BOM and no final newline", "\xef\xbb\xbfa=\"1\"", kv{"a": "1"}, nil, nil},
		{"spaces around =", "a = \"1\"\n", kv{"a": "1"}, nil, nil},
		{"UTF-8 value", "comment=\"Filme & Serien – 4K\"\n", kv{"comment": "Filme & Serien – 4K"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("test.ini", strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := f.Global.vals; !reflect.DeepEqual(got, tc.global) {
				t.Errorf("global = %v, want %v", got, tc.global)
			}
			var order []string
			for _, s := range f.Sections {
				order = append(order, s.Name)
				if !reflect.DeepEqual(s.vals, tc.sections[s.Name]) {
					t.Errorf("section %q = %v, want %v", s.Name, s.vals, tc.sections[s.Name])
				}
			}
			if !reflect.DeepEqual(order, tc.order) {
				t.Errorf("sections = %v, want %v", order, tc.order)
			}
		})
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"no equals", "a=\"1\"\nnonsense\n", 2, "not key=value"},
		{"unterminated header", "a=\"1\"\n\n[\"disk1\"\n", 3, "no closing ']'"},
		{"unterminated quoted header", "[\"disk1]\n", 1, "unterminated quote"},
		{"empty header", "[]\n", 1, "empty section name"},
		{"unterminated value", "x=\"1\"\r\ny=\"2\r\n", 2, "unterminated quote"},
		{"text after value", "a=\"1\" b\n", 1, "after the quoted value"},
		{"empty key", "=\"1\"\n", 1, "empty key"},
		{"quote in key", "a\"b=1\n", 1, "forbidden character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/var/local/emhttp/disks.ini", strings.NewReader(tc.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.File != "/var/local/emhttp/disks.ini" || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("err = %+v, want line %d containing %q", pe, tc.line, tc.msg)
			}
			if want := "/var/local/emhttp/disks.ini:" + strconv.Itoa(tc.line) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with %q", err, want)
			}
		})
	}
}

func TestParseRefusesHugeInput(t *testing.T) {
	big := strings.NewReader(strings.Repeat("a=\"1\"\n", MaxFileSize/6+10))
	if _, err := Parse("big.ini", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

func TestSectionGetters(t *testing.T) {
	f, err := Parse("t", strings.NewReader("n=\"42\"\nneg=\"-3\"\nbad=\"x\"\nempty=\"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := f.Global
	tests := []struct {
		key     string
		i       int64
		u       uint64
		present bool
	}{
		{"n", 42, 42, true},
		{"neg", -3, 7, true}, // negative: Uint gives the default
		{"bad", 7, 7, true},
		{"empty", 7, 7, true},
		{"missing", 7, 7, false},
	}
	for _, tc := range tests {
		if got := g.Int(tc.key, 7); got != tc.i {
			t.Errorf("Int(%s) = %d, want %d", tc.key, got, tc.i)
		}
		if got := g.Uint(tc.key, 7); got != tc.u {
			t.Errorf("Uint(%s) = %d, want %d", tc.key, got, tc.u)
		}
		if _, ok := g.Get(tc.key); ok != tc.present {
			t.Errorf("Get(%s) present = %v", tc.key, ok)
		}
	}
	var nilSec *Section
	if nilSec.String("x") != "" || nilSec.Int("x", 5) != 5 {
		t.Error("a nil section must answer defaults")
	}
	if got := g.Keys(); !reflect.DeepEqual(got, []string{"n", "neg", "bad", "empty"}) {
		t.Errorf("Keys = %v", got)
	}
}

// FuzzParse: Parse never panics; when it succeeds every key is non-empty
// and free of the characters that delimit keys; when it fails the error
// names the file and a line within the input.
func FuzzParse(f *testing.F) {
	for _, rel := range []string{VarIni, DisksIni, SharesIni, DynamixCfg, SharesCfg + "/media.cfg"} {
		b, err := os.ReadFile(filepath.Join(fixtureRoot, rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[\"disk1\"\nname=\"x\"\n"))
	f.Add([]byte("a=\"\r\n[]\n=\n\"\"=\"\"\n"))
	f.Add([]byte("\xef\xbb\xbf[\"\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.ini", strings.NewReader(string(data)))
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				lines := strings.Count(string(data), "\n") + 1
				if pe.File != "fuzz.ini" || pe.Line < 1 || pe.Line > lines+1 {
					t.Fatalf("bad error position: %+v (input has %d lines)", pe, lines)
				}
			}
			return
		}
		for _, s := range append([]*Section{file.Global}, file.Sections...) {
			for _, k := range s.Keys() {
				if k == "" || strings.ContainsAny(k, "\"[]\n") {
					t.Fatalf("bad key %q", k)
				}
			}
		}
	})
}
