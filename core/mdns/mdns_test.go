package mdns

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAvahiServiceXML(t *testing.T) {
	got := string(avahiService(Service{Instance: `Tower <"&'>`, Port: 8043, TXT: []string{"version=1.2", "path=/api/v1", "name=tower", "scheme=https"}}))
	for _, want := range []string{
		"<name>Tower &lt;&quot;&amp;&apos;&gt;</name>",
		"<type>_unraid-mgmt-agent._tcp</type>",
		"<port>8043</port>",
		"<txt-record>version=1.2</txt-record>",
		"<txt-record>path=/api/v1</txt-record>",
		"<txt-record>name=tower</txt-record>",
		"<txt-record>scheme=https</txt-record>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("service file lacks %q:\n%s", want, got)
		}
	}
}

// The avahi mode writes the file atomically and removes it on Close; a
// folder that cannot be written is an error, not a crash.
func TestAvahiModeFile(t *testing.T) {
	dir := t.TempDir()
	a, err := Start(Service{Instance: "t", Host: "t", Port: 1}, Options{Mode: ModeAvahi, AvahiServicesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode() != ModeAvahi {
		t.Errorf("mode %s", a.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "towerd.service" {
		t.Errorf("folder holds %v, want towerd.service alone", entries)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left after Close: %v", entries)
	}
	if _, err := Start(Service{Instance: "t", Host: "t", Port: 1}, Options{Mode: ModeAvahi, AvahiServicesDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("no error for a missing services folder")
	}
}

func TestAvahiRunning(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	if AvahiRunning(pidFile) {
		t.Error("running without a PID file")
	}
	for content, want := range map[string]bool{
		strconv.Itoa(os.Getpid()) + "\n": true,
		"garbage":                        false,
		"0":                              false,
		"2147483646":                     false, // no such process
	} {
		if err := os.WriteFile(pidFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := AvahiRunning(pidFile); got != want {
			t.Errorf("PID file %q: running %v, want %v", content, got, want)
		}
	}
}

func TestStartRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		svc  Service
		opts Options
		want string
	}{
		{Service{Port: 0}, Options{}, "port"},
		{Service{Port: 70000}, Options{}, "port"},
		{Service{Port: 80}, Options{Mode: "bonjour"}, "mode"},
	} {
		if _, err := Start(c.svc, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v %+v: error %v, want %q", c.svc, c.opts, err, c.want)
		}
	}
}

func TestHostLabel(t *testing.T) {
	for in, want := range map[string]string{"Tower": "tower", "my_box 2": "my-box-2", "-x-": "x", "ünraid": "nraid"} {
		if got := hostLabel(in); got != want {
			t.Errorf("hostLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
