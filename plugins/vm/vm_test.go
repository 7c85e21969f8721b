package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

func TestValidVMName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Ubuntu", true},
		{"Windows 10", true},
		{"home_assistant-os.2", true},
		{"a", true},
		{" padded ", true},
		{strings.Repeat("v", 253), true},
		{strings.Repeat("v", 254), false},
		{"", false},
		{"-lead", false},
		{"trail-", false},
		{".hidden", false},
		{"dot.", false},
		{"a/b", false},
		{"../etc", false},
		{"semi;colon", false},
		{"tab\tname", false},
		{"ünïcode", false},
	} {
		if got := validVMName(tc.in); got != tc.want {
			t.Errorf("validVMName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFirstDisk(t *testing.T) {
	unraid, err := os.ReadFile("testdata/unraid-domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, xml    string
		path, target string
		ok           bool
	}{
		{"unraid: skips the cdrom", string(unraid), "/mnt/user/domains/Windows 11/vdisk1.img", "hdc", true},
		{"block device", `<domain><devices><disk type='block'><source dev='/dev/sdb'/><target dev='vdb'/></disk></devices></domain>`, "/dev/sdb", "vdb", true},
		{"volume", `<domain><devices><disk type='volume' device='disk'><source pool='default' volume='vm.qcow2'/><target dev='vda'/></disk></devices></domain>`, "default/vm.qcow2", "vda", true},
		{"network", `<domain><devices><disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='sda'/></disk></devices></domain>`, "pool/img", "sda", true},
		{"no target", `<domain><devices><disk><source file='/x.img'/></disk></devices></domain>`, "/x.img", "/x.img", true},
		{"empty source skipped", `<domain><devices><disk device='disk'><target dev='vda'/></disk><disk><source file='/y.img'/><target dev='vdb'/></disk></devices></domain>`, "/y.img", "vdb", true},
		{"only cdrom", `<domain><devices><disk device='cdrom'><source file='/a.iso'/></disk></devices></domain>`, "", "", false},
		{"no devices", `<domain><name>x</name></domain>`, "", "", false},
		{"not xml", `{`, "", "", false},
	} {
		d, ok := firstDisk([]byte(tc.xml))
		if ok != tc.ok || d.Path != tc.path || d.Target != tc.target {
			t.Errorf("%s: firstDisk = %+v, %v; want %q %q %v", tc.name, d, ok, tc.path, tc.target, tc.ok)
		}
	}
}

func FuzzFirstDisk(f *testing.F) {
	b, err := os.ReadFile("testdata/unraid-domain.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<domain><devices><disk><source file='/x'/></disk></devices></domain>`))
	f.Add([]byte(`<domain><devices><disk type='volume'><source pool='p' volume='v'/></disk></devices></domain>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, ok := firstDisk(in)
		if ok && (d.Path == "" || d.Target == "") {
			t.Fatalf("ok with empty fields: %+v", d)
		}
	})
}

func TestCPUPercents(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name        string
		prev, cur   cpuSample
		vcpus, host uint
		guest, hst  float64
	}{
		{"one of 4 vcpus busy, 8 host cpus", cpuSample{0, t0}, cpuSample{10e9, t0.Add(10 * time.Second)}, 4, 8, 25, 12.5},
		{"idle", cpuSample{5, t0}, cpuSample{5, t0.Add(time.Second)}, 2, 2, 0, 0},
		{"counter reset", cpuSample{10e9, t0}, cpuSample{1, t0.Add(time.Second)}, 2, 2, 0, 0},
		{"no time passed", cpuSample{0, t0}, cpuSample{1e9, t0}, 2, 2, 0, 0},
		{"capped at 100", cpuSample{0, t0}, cpuSample{10e9, t0.Add(time.Second)}, 2, 2, 100, 100},
		{"unknown host cpus", cpuSample{0, t0}, cpuSample{1e9, t0.Add(time.Second)}, 1, 0, 100, 0},
	} {
		g, h := cpuPercents(tc.prev, tc.cur, tc.vcpus, tc.host)
		if g != tc.guest || h != tc.hst {
			t.Errorf("%s: = %v, %v; want %v, %v", tc.name, g, h, tc.guest, tc.hst)
		}
	}
}

func TestProbeLibrary(t *testing.T) {
	if err := probeLibrary(libvirtSoname); err != nil {
		t.Errorf("libvirt.so.0 not loadable (apt-get install libvirt0): %v", err)
	}
	if err := probeLibrary("libtowerd-does-not-exist.so.0"); err == nil {
		t.Error("probe of a missing library succeeded")
	}
}

// --- real libvirt through the real plugin process ---

var (
	dlopenOnce sync.Once
	dlopenBin  string
	dlopenErr  error
)

// binaries returns the plugin built as the Makefile should ship it
// (-tags libvirt_dlopen, no link to libvirt.so) and as plain `go build`
// makes it (linked against libvirt.so via the libvirt-dev headers).
func binaries(t *testing.T) map[string]string {
	t.Helper()
	dlopenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "towerd-vm-dlopen-")
		if err != nil {
			dlopenErr = err
			return
		}
		dlopenBin = filepath.Join(dir, "vm")
		out, err := exec.Command("go", "build", "-tags", "libvirt_dlopen", "-o", dlopenBin, ".").CombinedOutput()
		if err != nil {
			dlopenErr = errors.New(string(out))
		}
	})
	if dlopenErr != nil {
		t.Fatalf("go build -tags libvirt_dlopen: %v", dlopenErr)
	}
	return map[string]string{"dlopen": dlopenBin, "linked": plugintest.Build(t, ".", "vm")}
}

func TestDlopenBuildDoesNotLinkLibvirt(t *testing.T) {
	bins := binaries(t)
	for kind, bin := range bins {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		libs, err := f.ImportedLibraries()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		linked := strings.Contains(strings.Join(libs, " "), "libvirt")
		if linked != (kind == "linked") {
			t.Errorf("%s build: imported libraries %v", kind, libs)
		}
	}
}

// fixture writes a test-driver node with two domains, one with a disk
// image of a known size, and returns its URI.
func fixture(t *testing.T) (uri, disk string) {
	t.Helper()
	dir := t.TempDir()
	disk = filepath.Join(dir, "ubuntu.img")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 10<<20); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/node.xml.in")
	if err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(node, bytes.ReplaceAll(b, []byte("@DISK@"), []byte(disk)), 0o644); err != nil {
		t.Fatal(err)
	}
	return "test://" + node, disk
}

func start(t *testing.T, bin, uri string) *plugintest.Plugin {
	t.Helper()
	p := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Configure(ctx, sdk.Config{Root: "/", Options: map[string]string{"uri": uri}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func list(t *testing.T, p *plugintest.Plugin) map[string]schema.VM {
	t.Helper()
	var vms []schema.VM
	p.CollectJSON(t, &vms)
	m := map[string]schema.VM{}
	for _, v := range vms {
		m[v.Name] = v
	}
	return m
}

func TestDescribe(t *testing.T) {
	p := plugintest.Start(t, binaries(t)["dlopen"])
	info, err := p.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "vm" || info.Topic != "vm_list_update" || info.DefaultInterval != 10*time.Second ||
		strings.Join(info.Actions, ",") != "start,stop,force-stop,restart,pause,resume,hibernate,reset" {
		t.Errorf("Describe = %+v", info)
	}
}

func TestListFields(t *testing.T) {
	for kind, bin := range binaries(t) {
		t.Run(kind, func(t *testing.T) {
			uri, disk := fixture(t)
			p := start(t, bin, uri)
			got := list(t, p)
			if len(got) != 2 {
				t.Fatalf("got %d VMs, want 2: %+v", len(got), got)
			}
			u := got["Ubuntu"]
			want := schema.VM{ID: "4dea22b3-1d52-d8f3-2516-782e98ab3fa0", Name: "Ubuntu", State: "running",
				VCPUs: 4, CPUCount: 4, MemoryAllocatedBytes: 4 << 30, MemoryUsedBytes: 2 << 30,
				MemoryDisplay: "2.0 GiB / 4.0 GiB", DiskPath: disk, Persistent: true}
			if u.ID != want.ID || u.State != want.State || u.VCPUs != want.VCPUs || u.CPUCount != want.CPUCount ||
				u.MemoryAllocatedBytes != want.MemoryAllocatedBytes || u.MemoryUsedBytes != want.MemoryUsedBytes ||
				u.MemoryDisplay != want.MemoryDisplay || u.DiskPath != want.DiskPath || u.Persistent != want.Persistent || u.Autostart {
				t.Errorf("Ubuntu = %+v\nwant     %+v", u, want)
			}
			// The test driver reports a fixed capacity for every disk.
			if u.DiskSizeBytes == 0 || u.DiskReadBytes == 0 || u.DiskWriteBytes == 0 {
				t.Errorf("Ubuntu disk size/io = %d %d %d", u.DiskSizeBytes, u.DiskReadBytes, u.DiskWriteBytes)
			}
			w := got["Windows 10"]
			if w.ID != "7a3e1c55-8a5d-4c1e-9f53-2d7f3b9b1e01" || w.State != "shut off" || w.VCPUs != 2 ||
				w.MemoryAllocatedBytes != 2<<30 || w.MemoryUsedBytes != 0 || w.DiskPath != "" || w.DiskSizeBytes != 0 || !w.Persistent {
				t.Errorf("Windows 10 = %+v", w)
			}
		})
	}
}

func TestDefaultTestDriver(t *testing.T) {
	p := start(t, binaries(t)["dlopen"], "test:///default")
	got := list(t, p)
	d, ok := got["test"]
	if !ok || len(got) != 1 {
		t.Fatalf("test:///default: %+v", got)
	}
	if d.State != "running" || d.VCPUs != 2 || d.MemoryAllocatedBytes == 0 || len(d.ID) != 36 || !d.Persistent {
		t.Errorf("test domain = %+v", d)
	}
}

func TestActions(t *testing.T) {
	uri, _ := fixture(t)
	p := start(t, binaries(t)["dlopen"], uri)
	ctx := context.Background()
	for _, tc := range []struct {
		action, vm string
		params     map[string]string
		want       string
	}{
		{"pause", "Ubuntu", nil, "paused"},
		{"resume", "Ubuntu", nil, "running"},
		{"stop", "Ubuntu", nil, "shut off"},
		{"start", "Ubuntu", nil, "running"},
		{"restart", "Ubuntu", nil, "running"},
		{"hibernate", "Ubuntu", nil, "shut off"},
		{"start", "Ubuntu", nil, "running"},
		{"reset", "Ubuntu", map[string]string{"confirm": "true"}, "running"},
		{"force-stop", "Ubuntu", nil, "shut off"},
		{"start", "Windows 10", nil, "running"},
		{"force-stop", "Windows 10", nil, "shut off"},
	} {
		msg, err := p.Act(ctx, sdk.Action{Name: tc.action, Target: tc.vm, Params: tc.params})
		if err != nil {
			t.Fatalf("%s %q: %v", tc.action, tc.vm, err)
		}
		if !strings.Contains(msg, tc.action) {
			t.Errorf("%s: message %q", tc.action, msg)
		}
		if got := list(t, p)[tc.vm].State; got != tc.want {
			t.Fatalf("after %s %q: state %q, want %q", tc.action, tc.vm, got, tc.want)
		}
	}
}

// TestActionsByUUID: Home Assistant's buttons post the VM's id (its UUID);
// the reference agent's id had no dashes. Both find the domain.
func TestActionsByUUID(t *testing.T) {
	uri, _ := fixture(t)
	p := start(t, binaries(t)["dlopen"], uri)
	ctx := context.Background()
	id := list(t, p)["Ubuntu"].ID
	bare := strings.ToUpper(strings.ReplaceAll(id, "-", ""))
	for _, tc := range []struct{ action, target, want string }{
		{"pause", id, "paused"},
		{"resume", bare, "running"},
		{"restart", id, "running"},
		{"force-stop", bare, "shut off"},
		{"start", id, "running"},
	} {
		if _, err := p.Act(ctx, sdk.Action{Name: tc.action, Target: tc.target}); err != nil {
			t.Fatalf("%s %s: %v", tc.action, tc.target, err)
		}
		if got := list(t, p)["Ubuntu"].State; got != tc.want {
			t.Fatalf("after %s by UUID: %q, want %q", tc.action, got, tc.want)
		}
	}
	if _, err := p.Act(ctx, sdk.Action{Name: "pause", Target: "00000000-0000-0000-0000-000000000000"}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("unknown UUID: %v, want not found", err)
	}
}

func TestActErrors(t *testing.T) {
	uri, _ := fixture(t)
	p := start(t, binaries(t)["dlopen"], uri)
	for _, tc := range []struct {
		action, vm string
		params     map[string]string
		want       error
	}{
		{"explode", "Ubuntu", nil, sdk.ErrUnsupported},
		{"", "Ubuntu", nil, sdk.ErrUnsupported},
		{"start", "", nil, sdk.ErrInvalidArgument},
		{"start", "-x", nil, sdk.ErrInvalidArgument},
		{"start", "x.", nil, sdk.ErrInvalidArgument},
		{"start", "a/b", nil, sdk.ErrInvalidArgument},
		{"start", strings.Repeat("v", 254), nil, sdk.ErrInvalidArgument},
		{"reset", "Ubuntu", nil, sdk.ErrInvalidArgument},
		{"reset", "Ubuntu", map[string]string{"confirm": "false"}, sdk.ErrInvalidArgument},
		{"start", "No Such VM", nil, sdk.ErrNotFound},
		{"pause", "Windows 10", nil, sdk.ErrConflict}, // shut off
		{"start", "Ubuntu", nil, sdk.ErrConflict},     // already running
	} {
		_, err := p.Act(context.Background(), sdk.Action{Name: tc.action, Target: tc.vm, Params: tc.params})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s %q %v: err = %v, want %v", tc.action, tc.vm, tc.params, err, tc.want)
		}
	}
}

// TestUnavailableLoggedOnce: an unreachable libvirt gives empty lists and
// one log line, in-process so the log can be read.
func TestUnavailableLoggedOnce(t *testing.T) {
	var buf plugintest.SyncBuffer
	c := newCollector()
	c.log = hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true})
	ctx := context.Background()
	uri := "test+unix:///default?socket=" + filepath.Join(t.TempDir(), "none.sock")
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"uri": uri}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		v, err := c.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l := v.([]schema.VM); l == nil || len(l) != 0 {
			t.Fatalf("got %#v, want an empty list", l)
		}
	}
	if n := strings.Count(buf.String(), "source unavailable"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf.String())
	}
	if _, err := c.Act(ctx, sdk.Action{Name: "start", Target: "test"}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Act without libvirt: %v, want ErrUnavailable", err)
	}
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"uri": "test:///default"}}); err != nil {
		t.Fatal(err)
	}
	v, err := c.Collect(ctx)
	if err != nil || len(v.([]schema.VM)) != 1 {
		t.Fatalf("after switching to test:///default: %v %v", v, err)
	}
	if n := strings.Count(buf.String(), "source available again"); n != 1 {
		t.Errorf("recovery logged %d times:\n%s", n, buf.String())
	}
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"uri": "not a uri"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bad uri: %v", err)
	}
}
