package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

const smartDir = "usr/share/towerd-fixture/smartctl"

// fixtureDisks is the whole disk_list_update for testdata/unraid, less
// timestamps: sizes are the ini's KiB × 1024, I/O from proc/diskstats
// (sectors × 512), SMART from the captures. disk3 (sdf) is spun down and
// never queried, so its SMART fields stay UNKNOWN/0; disk5 is an empty slot
// and absent; flash is not SMART-queried.
var fixtureDisks = []schema.Disk{
	{ID: "parity", SMARTAttributes: rot(5400), Device: "sdb", Name: "parity", Role: "parity", Status: "DISK_OK", Model: "WDC WD80EFAX-68KNBN0", SerialNumber: "VAGK1A2B",
		SizeBytes: 7814026584 * 1024, TemperatureCelsius: 34, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "active",
		SMARTStatus: "PASSED", SMARTErrors: 0, PowerOnHours: 31245, PowerCycleCount: 112, SpindownDelay: 60,
		ReadBytes: 15628053168 * 512, WriteBytes: 15628053168 * 512, ReadOps: 118234001, WriteOps: 2209876},
	{ID: "parity2", SMARTAttributes: rot(7200), Device: "sdc", Name: "parity2", Role: "parity2", Status: "DISK_OK", Model: "ST8000VN004-2M2101", SerialNumber: "WSD0A1B2",
		SizeBytes: 7814026584 * 1024, TemperatureCelsius: 35, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "active",
		SMARTStatus: "PASSED", PowerOnHours: 22011, PowerCycleCount: 87, SpindownDelay: 60,
		ReadBytes: 15628053168 * 512, WriteBytes: 15628053168 * 512, ReadOps: 118230555, WriteOps: 2209880},
	{ID: "disk1", SMARTAttributes: rot(5400), Device: "sdd", Name: "disk1", Role: "data", Status: "DISK_OK", Model: "WDC WD40EFRX-68N32N0", SerialNumber: "WD-WCC7K1ABCDEF",
		SizeBytes: 3907018584 * 1024, UsedBytes: 2441162240 * 1024, FreeBytes: 1463948572 * 1024, UsagePercent: 62.51,
		TemperatureCelsius: 33, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "active",
		SMARTStatus: "PASSED", PowerOnHours: 40122, PowerCycleCount: 150, SpindownDelay: 60, Filesystem: "xfs", MountPoint: "/mnt/disk1",
		ReadBytes: 4882812500 * 512, WriteBytes: 1953125000 * 512, ReadOps: 60211234, WriteOps: 1012345},
	{ID: "disk2", SMARTAttributes: rot(5980), Device: "sde", Name: "disk2", Role: "data", Status: "DISK_OK", Model: "ST4000VN008-2DR166", SerialNumber: "ZGY0ABCD",
		SizeBytes: 3907018584 * 1024, UsedBytes: 3513497600 * 1024, FreeBytes: 391613212 * 1024, UsagePercent: 89.97,
		TemperatureCelsius: 41, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "active",
		SMARTStatus: "FAILED", SMARTErrors: 12, PowerOnHours: 51877, PowerCycleCount: 203, SpindownDelay: 30, Filesystem: "xfs", MountPoint: "/mnt/disk2",
		ReadBytes: 4687500000 * 512, WriteBytes: 1904296875 * 512, ReadOps: 58001122, WriteOps: 998877},
	{ID: "disk3", Device: "sdf", Name: "disk3", Role: "data", Status: "DISK_OK", Model: "WDC WD40EFZX-68AWUN0", SerialNumber: "WD-WX12D0123456",
		SizeBytes: 3907018584 * 1024, UsedBytes: 1220545536 * 1024, FreeBytes: 2684565276 * 1024, UsagePercent: 31.26,
		TemperatureCelsius: 0, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "standby",
		SMARTStatus: "UNKNOWN", SpindownDelay: 60, Filesystem: "xfs", MountPoint: "/mnt/disk3",
		ReadBytes: 976562500 * 512, WriteBytes: 244140625 * 512, ReadOps: 20001000, WriteOps: 120034},
	{ID: "disk4", SMARTAttributes: rot(7200), Device: "sdg", Name: "disk4", Role: "data", Status: "DISK_OK", Model: "TOSHIBA HDWG180", SerialNumber: "X0L0A0ABCDE",
		SizeBytes: 7814026584 * 1024, UsedBytes: 1953484800 * 1024, FreeBytes: 5858454820 * 1024, UsagePercent: 25.01,
		TemperatureCelsius: 36, TempWarningCelsius: 45, TempCriticalCelsius: 55, SpinState: "active",
		SMARTStatus: "PASSED", PowerOnHours: 15333, PowerCycleCount: 61, SpindownDelay: 60, Filesystem: "xfs", MountPoint: "/mnt/disk4",
		ReadBytes: 2441406250 * 512, WriteBytes: 976562500 * 512, ReadOps: 30122334, WriteOps: 701234},
	{ID: "cache", Device: "nvme0n1", Name: "cache", Role: "cache", Status: "DISK_OK", Model: "Samsung SSD 970 EVO Plus 1TB", SerialNumber: "S4EWNX0R123456A",
		SizeBytes: 976762584 * 1024, UsedBytes: 312410112 * 1024, FreeBytes: 663874508 * 1024, UsagePercent: 32,
		TemperatureCelsius: 42, TempWarningCelsius: 50, TempCriticalCelsius: 60, SpinState: "active",
		SMARTStatus: "PASSED", SMARTErrors: 0, PowerOnHours: 15012, PowerCycleCount: 61, SpindownDelay: 60, Filesystem: "btrfs", MountPoint: "/mnt/cache",
		ReadBytes: 732421875 * 512, WriteBytes: 2929687500 * 512, ReadOps: 9123456, WriteOps: 48123456},
	{ID: "flash", Device: "sda", Name: "flash", Role: "flash", Status: "DISK_OK", Model: "SanDisk Cruzer Fit", SerialNumber: "4C530001234567891234",
		SizeBytes: 30044160 * 1024, UsedBytes: 1218896 * 1024, FreeBytes: 28809888 * 1024, UsagePercent: 4.06,
		TemperatureCelsius: 0, TempWarningCelsius: 60, TempCriticalCelsius: 70, SpinState: "active",
		SMARTStatus: "UNKNOWN", SpindownDelay: 60, Filesystem: "vfat", MountPoint: "/boot",
		ReadBytes: 1048576 * 512, WriteBytes: 262144 * 512, ReadOps: 52345, WriteOps: 8123},
}

func intp(n int) *int { return &n }

func rot(rpm int) map[string]schema.SMARTAttribute {
	return map[string]schema.SMARTAttribute{"rotation_rate": {Name: "rotation_rate", RawValue: strconv.Itoa(rpm)}}
}

func compareDisks(t *testing.T, got, want []schema.Disk) {
	t.Helper()
	got = checkPseudo(t, got)
	if len(got) != len(want) {
		t.Fatalf("%d disks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if g.Timestamp.IsZero() {
			t.Errorf("%s: no timestamp", g.ID)
		}
		g.Timestamp = time.Time{}
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("disk %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}

// checkPseudo checks the docker_vdisk and log pseudo-disks at the end of
// a fixture list (mounted per the fixture's proc/mounts; their sizes come
// from statfs on the host, so only their consistency is checked) and
// returns the list without them.
func checkPseudo(t *testing.T, got []schema.Disk) []schema.Disk {
	t.Helper()
	if len(got) < 2 {
		t.Fatalf("%d disks, want the pseudo-disks too", len(got))
	}
	tail := got[len(got)-2:]
	for i, want := range []schema.Disk{
		{ID: "docker_vdisk", Name: "docker_vdisk", Role: "docker_vdisk", Device: "loop2", Filesystem: "btrfs", MountPoint: "/var/lib/docker"},
		{ID: "log", Name: "log", Role: "log", Filesystem: "tmpfs", MountPoint: "/var/log"},
	} {
		g := tail[i]
		if g.ID != want.ID || g.Name != want.Name || g.Role != want.Role || g.Device != want.Device ||
			g.Filesystem != want.Filesystem || g.MountPoint != want.MountPoint || g.SpinState != "active" {
			t.Errorf("pseudo-disk %d = %+v, want %+v", i, g, want)
		}
		if g.TotalBytes == 0 || g.TotalBytes != g.SizeBytes || g.UsedBytes+g.FreeBytes != g.TotalBytes {
			t.Errorf("%s sizes inconsistent: %+v", g.ID, g)
		}
	}
	return got[:len(got)-2]
}

// TestPluginFixture runs the plugin process on the fixture tree with the
// stand-in smartctl logging every call, and checks every field of every
// disk, that the spun-down disk and the flash were never queried, that
// smartctl always ran with -n standby, and that SMART is not re-run each
// collect.
func TestPluginFixture(t *testing.T) {
	bin := plugintest.Build(t, "github.com/towerd/towerd/plugins/disk")
	argvLog := filepath.Join(t.TempDir(), "argv.log")
	p := plugintest.Start(t, bin, "SMARTCTL_ARGV_LOG="+argvLog)
	unraidtest.Configure(t, p, sdk.Config{Root: unraidtest.FixtureRoot(t)})

	var disks []schema.Disk
	start := time.Now()
	raw := p.CollectJSON(t, &disks)
	t.Logf("first collect (6 smartctl runs) took %v", time.Since(start))
	compareDisks(t, disks, fixtureDisks)
	for _, key := range []string{`"device"`, `"mount_point"`, `"io_utilization_percent"`, `"spin_state"`, `"temp_warning_celsius"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("payload lacks %s", key)
		}
	}

	calls := readLines(t, argvLog)
	want := []string{"sdb", "sdc", "sdd", "sde", "sdg", "nvme0n1"}
	if len(calls) != len(want) {
		t.Fatalf("smartctl calls = %q, want one per active non-flash disk %v", calls, want)
	}
	for i, dev := range want {
		if calls[i] != "--json -a -n standby /dev/"+dev {
			t.Errorf("call %d = %q", i, calls[i])
		}
	}
	for _, c := range calls {
		if strings.Contains(c, "sdf") || strings.Contains(c, "sda") {
			t.Errorf("queried a disk it must not: %q", c)
		}
	}

	for i := 0; i < 2; i++ {
		start = time.Now()
		p.CollectJSON(t, &disks)
		t.Logf("collect %d took %v", i+2, time.Since(start))
		compareDisks(t, disks, fixtureDisks)
	}
	if n := len(readLines(t, argvLog)); n != len(want) {
		t.Errorf("smartctl ran %d times after 3 collects, want %d (once per smart_interval)", n, len(want))
	}
}

// TestStandbyDiskIsNotWoken: a disk read once while active keeps its last
// SMART values once it spins down, and is not queried again; a disk that
// emhttpd still reports active but that is asleep is asked with
// -n standby, answers "STANDBY" (exit 2), and keeps its values too.
func TestStandbyDiskIsNotWoken(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	argvLog := filepath.Join(t.TempDir(), "argv.log")
	t.Setenv("SMARTCTL_ARGV_LOG", argvLog)
	disksIni := filepath.Join(root, unraid.DisksIni)
	orig, _ := os.ReadFile(disksIni)
	setDisk3 := func(temp, spundown string) {
		s := strings.Replace(string(orig), "temp=\"*\"\nnumReads=\"20001000\"", "temp=\""+temp+"\"\nnumReads=\"20001000\"", 1)
		s = strings.Replace(s, "spundown=\"1\"", "spundown=\""+spundown+"\"", 1)
		if err := os.WriteFile(disksIni, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(root, smartDir, "sdf.standby")

	c, clock := newTestCollector(t, root)
	disk3 := func() schema.Disk {
		t.Helper()
		out, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.([]schema.Disk) {
			if d.ID == "disk3" {
				return d
			}
		}
		t.Fatal("disk3 missing")
		return schema.Disk{}
	}
	sdfCalls := func() []string {
		var out []string
		for _, l := range readLines(t, argvLog) {
			if strings.HasSuffix(l, "/dev/sdf") {
				out = append(out, l)
			}
		}
		return out
	}

	// 1. Active and awake: read.
	setDisk3("31", "0")
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	d := disk3()
	if d.SpinState != "active" || d.SMARTStatus != "PASSED" || d.PowerOnHours != 9876 || d.PowerCycleCount != 44 || d.TemperatureCelsius != 31 {
		t.Fatalf("active disk3 = %+v", d)
	}
	if n := len(sdfCalls()); n != 1 {
		t.Fatalf("%d smartctl calls for sdf, want 1", n)
	}

	// 2. Spun down per emhttpd, SMART interval passed: not queried, last
	// values kept, temperature 0.
	setDisk3("*", "1")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(10 * time.Minute)
	d = disk3()
	if d.SpinState != "standby" || d.SMARTStatus != "PASSED" || d.PowerOnHours != 9876 || d.TemperatureCelsius != 0 {
		t.Errorf("spun-down disk3 = %+v, want last SMART values kept", d)
	}
	if n := len(sdfCalls()); n != 1 {
		t.Errorf("spun-down disk was queried: %q", sdfCalls())
	}

	// 3. emhttpd says active, the drive is asleep: asked with -n standby
	// only, stays asleep, values kept.
	setDisk3("", "0")
	*clock = clock.Add(10 * time.Minute)
	d = disk3()
	calls := sdfCalls()
	if len(calls) != 2 || calls[1] != "--json -a -n standby /dev/sdf" {
		t.Errorf("sdf calls = %q, want a second one with -n standby", calls)
	}
	if d.SMARTStatus != "PASSED" || d.PowerOnHours != 9876 || d.PowerCycleCount != 44 {
		t.Errorf("disk3 after a STANDBY answer = %+v, want last values", d)
	}
	// 4. ...and not asked again before the interval has passed.
	*clock = clock.Add(time.Minute)
	disk3()
	if n := len(sdfCalls()); n != 2 {
		t.Errorf("sdf queried %d times, want 2 (smart_interval)", n)
	}
}

func newTestCollector(t *testing.T, root string, opts ...string) (*collector, *time.Time) {
	t.Helper()
	c := newCollector()
	clock := time.Date(2025, 11, 23, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	o := map[string]string{}
	for i := 0; i+1 < len(opts); i += 2 {
		o[opts[i]] = opts[i+1]
	}
	if err := c.Configure(context.Background(), sdk.Config{Root: root, Options: o}); err != nil {
		t.Fatal(err)
	}
	return c, &clock
}

func TestIOUtilization(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	c, clock := newTestCollector(t, root, "smart", "false")
	statsPath := filepath.Join(root, unraid.DiskStats)
	orig, _ := os.ReadFile(statsPath)
	const sddTicks = "21234567" // io_ticks of sdd in the fixture
	util := func(ticks string) map[string]float64 {
		t.Helper()
		s := strings.Replace(string(orig), " "+sddTicks+" ", " "+ticks+" ", 1)
		if err := os.WriteFile(statsPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := c.Collect(context.Background())
		m := map[string]float64{}
		for _, d := range out.([]schema.Disk) {
			m[d.Device] = d.IOUtilizationPercent
		}
		return m
	}
	tests := []struct {
		name    string
		advance time.Duration
		ticks   string
		want    float64
	}{
		{"first collect has no delta", 0, sddTicks, 0},
		{"1.5 s busy in 3 s", 3 * time.Second, "21236067", 50},
		{"idle", 30 * time.Second, "21236067", 0},
		{"busy 300 ms in 30 s", 30 * time.Second, "21236367", 1},
		{"more ticks than time is capped", 10 * time.Second, "21266367", 100},
		{"counter reset", 10 * time.Second, "100", 0},
		{"after the reset", 10 * time.Second, "2600", 25},
	}
	for _, tc := range tests {
		*clock = clock.Add(tc.advance)
		m := util(tc.ticks)
		if m["sdd"] != tc.want {
			t.Errorf("%s: sdd util = %v, want %v", tc.name, m["sdd"], tc.want)
		}
		if m["sdb"] != 0 {
			t.Errorf("%s: unchanged sdb util = %v, want 0", tc.name, m["sdb"])
		}
	}
}

func TestEdgeCases(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	ini, _ := os.ReadFile(filepath.Join(root, unraid.DisksIni))
	s := strings.Replace(string(ini), "temp=\"34\"", "temp=\"127.5\"", 1) // stuck sensor on parity
	s = strings.Replace(s, "temp=\"42\"", "temp=\"\"", 1)                 // cache: no reading in the ini
	s = strings.Replace(s, "spindownDelay=\"30\"", "spindownDelay=\"0\"", 1)
	unraidtest.WriteFile(t, root, unraid.DisksIni, s)
	unraidtest.WriteFile(t, root, unraid.DynamixCfg, "[display]\nhot=\"40\"\nmax=\"50\"\n")
	c, _ := newTestCollector(t, root)
	out, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]schema.Disk{}
	for _, d := range out.([]schema.Disk) {
		byID[d.ID] = d
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"implausible temperature dropped", byID["parity"].TemperatureCelsius, 0.0},
		{"empty ini temp: SMART temperature", byID["cache"].TemperatureCelsius, 42.0},
		{"spindown delay 0 (never) kept", byID["disk2"].SpindownDelay, 0},
		{"global hot from dynamix.cfg", byID["disk1"].TempWarningCelsius, 40.0},
		{"global max from dynamix.cfg", byID["disk1"].TempCriticalCelsius, 50.0},
		{"per-disk warning wins", byID["cache"].TempWarningCelsius, 50.0},
		{"empty slot left out (+2 pseudo-disks)", len(byID), 10},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMissingSources(t *testing.T) {
	t.Run("not an Unraid host", func(t *testing.T) {
		c, _ := newTestCollector(t, t.TempDir())
		for i := 0; i < 2; i++ {
			out, err := c.Collect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := out.([]schema.Disk); !ok || d == nil || len(d) != 0 {
				t.Fatalf("got %#v, want an empty non-nil list", out)
			}
		}
	})
	t.Run("no smartctl", func(t *testing.T) {
		c, _ := newTestCollector(t, unraidtest.FixtureRoot(t), "smartctl_path", "/nonexistent/smartctl")
		out, _ := c.Collect(context.Background())
		disks := out.([]schema.Disk)
		if len(disks) != 10 { // 8 slots + docker_vdisk + log
			t.Fatalf("%d disks", len(disks))
		}
		for _, d := range disks {
			if d.SMARTStatus != "UNKNOWN" || d.PowerOnHours != 0 {
				t.Errorf("%s: SMART %s/%d without smartctl", d.ID, d.SMARTStatus, d.PowerOnHours)
			}
		}
		if disks[0].Model != "WDC WD80EFAX-68KNBN0" || disks[0].SerialNumber != "VAGK1A2B" {
			t.Errorf("model/serial from the ini id: %q %q", disks[0].Model, disks[0].SerialNumber)
		}
	})
	t.Run("malformed disks.ini", func(t *testing.T) {
		root := t.TempDir()
		unraidtest.WriteFile(t, root, unraid.DisksIni, "[\"disk1\"\nname=\"disk1\"\n")
		c, _ := newTestCollector(t, root)
		out, err := c.Collect(context.Background())
		if err != nil || len(out.([]schema.Disk)) != 0 {
			t.Fatalf("got %v, %v", out, err)
		}
		if !strings.Contains(c.disksSrc.Last(), "disks.ini:1:") {
			t.Errorf("reported error %q does not name file and line", c.disksSrc.Last())
		}
	})
	t.Run("plugin process, not Unraid", func(t *testing.T) {
		p := plugintest.Start(t, plugintest.Build(t, "github.com/towerd/towerd/plugins/disk"))
		unraidtest.Configure(t, p, sdk.Config{Root: t.TempDir()})
		if raw := p.CollectJSON(t, nil); string(raw) != "[]" {
			t.Errorf("payload %s, want []", raw)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []map[string]string{{"smart_interval": "soon"}, {"smart_interval": "0"}, {"smart": "maybe"}} {
			if err := newCollector().Configure(context.Background(), sdk.Config{Options: o}); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("%v: err = %v, want invalid argument", o, err)
			}
		}
	})
}

func TestParseSmartCaptures(t *testing.T) {
	root := unraidtest.FixtureRoot(t)
	tests := []struct {
		file string
		want smartInfo
		err  string
	}{
		{"sdb.json", smartInfo{Status: "PASSED", PowerOnHours: 31245, PowerCycleCount: 112, Temperature: 34, Model: "WDC WD80EFAX-68KNBN0", Serial: "VAGK1A2B", RotationRate: intp(5400)}, ""},
		{"sde.json", smartInfo{Status: "FAILED", Errors: 12, PowerOnHours: 51877, PowerCycleCount: 203, Temperature: 41, Model: "ST4000VN008-2DR166", Serial: "ZGY0ABCD", RotationRate: intp(5980)}, ""},
		{"nvme0n1.json", smartInfo{Status: "PASSED", PowerOnHours: 15012, PowerCycleCount: 61, Temperature: 42, Model: "Samsung SSD 970 EVO Plus 1TB", Serial: "S4EWNX0R123456A"}, ""},
		{"standby.json", smartInfo{}, errStandby.Error()},
		{"nodevice.json", smartInfo{}, "No such device"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, smartDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseSmart(b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "not json", "{}", `{"smartctl":{}}`, `{"smartctl":{"exit_status":1}}`} {
		if _, err := parseSmart([]byte(bad)); err == nil {
			t.Errorf("parseSmart(%q) succeeded", bad)
		}
	}
}

func TestParseDiskstats(t *testing.T) {
	in := "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n" +
		" 259       0 nvme0n1 10 0 20 0 30 0 40 0 0 50 0 0 0 0 0 0 0\n" +
		"   8      16 sdb short line\n" +
		"   8      32 sdc x 2 3 4 5 6 7 8 9 10 11\n"
	got := parseDiskstats([]byte(in))
	want := map[string]ioStat{
		"sda":     {ReadOps: 1, ReadSectors: 3, WriteOps: 5, WriteSectors: 7, IOTicksMs: 10},
		"nvme0n1": {ReadOps: 10, ReadSectors: 20, WriteOps: 30, WriteSectors: 40, IOTicksMs: 50},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %+v, want %+v", k, got[k], v)
		}
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct{ id, model, serial string }{
		{"WDC_WD80EFAX-68KNBN0_VAGK1A2B", "WDC WD80EFAX-68KNBN0", "VAGK1A2B"},
		{"NOSERIAL", "", "NOSERIAL"},
		{"", "", ""},
	} {
		if m, s := splitID(tc.id); m != tc.model || s != tc.serial {
			t.Errorf("splitID(%q) = %q, %q", tc.id, m, s)
		}
	}
	for _, tc := range []struct {
		slot unraid.Slot
		want string
	}{
		{unraid.Slot{Type: "Parity", Name: "parity2"}, "parity2"},
		{unraid.Slot{Type: "Cache", Name: "cache2"}, "cache"},
		{unraid.Slot{Type: "Cache", Name: "fastpool"}, "pool"},
		{unraid.Slot{Type: "Flash", Name: "flash"}, "flash"},
	} {
		if got := role(tc.slot); got != tc.want {
			t.Errorf("role(%+v) = %q, want %q", tc.slot, got, tc.want)
		}
	}
	if _, err := runSmart(context.Background(), "/bin/true", "../../etc/passwd", time.Second); err == nil {
		t.Error("runSmart accepted a path as a device name")
	}
}

func FuzzParseSmart(f *testing.F) {
	dir := filepath.Join("../../testdata/unraid", smartDir)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			f.Add(b)
		}
	}
	f.Add([]byte(`{"smartctl":{"exit_status":-1},"power_on_time":{"hours":-5},"nvme_smart_health_information_log":{"media_errors":-2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseSmart(b)
		if err != nil {
			return
		}
		if info.PowerOnHours < 0 || info.PowerCycleCount < 0 || info.Errors < 0 {
			t.Fatalf("negative counters: %+v", info)
		}
		if info.Status != "PASSED" && info.Status != "FAILED" && info.Status != "UNKNOWN" {
			t.Fatalf("status %q", info.Status)
		}
	})
}

func FuzzParseDiskstats(f *testing.F) {
	b, _ := os.ReadFile("../../testdata/unraid/proc/diskstats")
	f.Add(b)
	f.Add([]byte("8 0 sda 1 2 3 4 5 6 7 8 9 10\n8 0 sda -1 2 3 4 5 6 7 8 9 10\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name := range parseDiskstats(b) {
			if name == "" || strings.ContainsAny(name, " \t\n") {
				t.Fatalf("bad device name %q", name)
			}
		}
	})
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
