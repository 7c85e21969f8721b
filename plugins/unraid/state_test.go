package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
)

func TestFans(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	c := configured(t, newFans(), root, nil)
	var got Fans
	collectInto(t, c, &got)
	if len(got.Fans) != 4 || got.Summary.TotalFans != 4 || got.Summary.ControllableFans != 3 {
		t.Fatalf("fans = %+v summary %+v", got.Fans, got.Summary)
	}
	f := got.Fans[0]
	if f.ID != "hwmon2_fan1" || f.Name != "CPU Fan" || f.RPM != 1180 || f.PWMValue != 102 || f.PWMPercent != 40 || f.Mode != "automatic" || f.HwmonIndex != 1 {
		t.Errorf("fan1 = %+v", f)
	}
	if got.Fans[1].Name != "Fan 2" || got.Fans[1].Mode != "manual" || got.Fans[3].Controllable {
		t.Errorf("fan2/fan4 = %+v / %+v", got.Fans[1], got.Fans[3])
	}
	if len(got.Summary.FailedFans) != 1 || got.Summary.FailedFans[0] != "hwmon2_fan3" {
		t.Errorf("failed fans %v, want hwmon2_fan3 (PWM 77, 0 RPM)", got.Summary.FailedFans)
	}

	pwm := func(j string) string {
		b, _ := os.ReadFile(filepath.Join(root, "sys/class/hwmon/hwmon2/pwm"+j))
		return strings.TrimSpace(string(b))
	}
	if _, err := act(c, "speed", "hwmon2_fan2", map[string]string{"speed_percent": "50"}); err != nil || pwm("2") != "128" {
		t.Fatalf("speed 50: %v, pwm2=%s", err, pwm("2"))
	}
	// The reference agent's key works too; below the floor is raised to it.
	if msg, err := act(c, "speed", "", map[string]string{"fan_id": "hwmon2_fan2", "pwm_percent": "5"}); err != nil || pwm("2") != "51" || !strings.Contains(msg, "20%") {
		t.Fatalf("speed 5: %q %v, pwm2=%s", msg, err, pwm("2"))
	}
	for _, p := range []map[string]string{{"speed_percent": "0"}, {"speed_percent": "101"}, {"speed_percent": "-3"}, {"speed_percent": "fast"}, {}} {
		_, err := act(c, "speed", "hwmon2_fan2", p)
		wantErr(t, err, sdk.ErrInvalidArgument, "speed "+p["speed_percent"])
	}
	if pwm("2") != "51" {
		t.Errorf("a refused request changed pwm2 to %s", pwm("2"))
	}
	_, err := act(c, "speed", "hwmon7_fan1", map[string]string{"speed_percent": "50"})
	wantErr(t, err, sdk.ErrNotFound, "unknown fan")
	_, err = act(c, "speed", "hwmon2_fan4", map[string]string{"speed_percent": "50"})
	wantErr(t, err, sdk.ErrConflict, "fan without PWM")
	for _, bad := range []string{"../hwmon2_fan1", "hwmon2/fan1", "", "-x"} {
		_, err = act(c, "speed", bad, map[string]string{"speed_percent": "50"})
		wantErr(t, err, sdk.ErrInvalidArgument, "fan id "+bad)
	}
	c = configured(t, newFans(), root, map[string]string{"control": "false"})
	_, err = act(c, "speed", "hwmon2_fan2", map[string]string{"speed_percent": "50"})
	wantErr(t, err, sdk.ErrConflict, "control off")
	if err := newFans().Configure(t.Context(), sdk.Config{Root: root, Options: map[string]string{"nope": "1"}}); err == nil {
		t.Error("unknown option accepted")
	}
}

func TestFlashRegistrationUpdates(t *testing.T) {
	root := fixture(t)
	var fl Flash
	collectInto(t, configured(t, newFlash(), root, nil), &fl)
	if fl.Device != "/dev/sda" || fl.GUID != "0781-5583-4C53-0001234567891234" || fl.Vendor != "SanDisk" || fl.Model != "Cruzer_Fit" || fl.SizeBytes == 0 {
		t.Errorf("flash = %+v", fl)
	}
	var reg Registration
	collectInto(t, configured(t, newRegistration(), root, nil), &reg)
	if reg.Type != "plus" || reg.State != "valid" || reg.ServerName != "Tower" || reg.KeyFile != "/boot/config/Plus.key" {
		t.Errorf("registration = %+v", reg)
	}
	var pl PluginList
	collectInto(t, configured(t, newPlugins(), root, nil), &pl)
	if pl.TotalPlugins != 2 || pl.PluginsWithUpdates != 1 || pl.Plugins[1].Name != "unassigned.devices" ||
		!pl.Plugins[1].UpdateAvailable || pl.Plugins[1].LatestVersion != "2025.11.20" || pl.Plugins[0].Author != "Squidly271" ||
		pl.Plugins[0].URL != "https://raw.githubusercontent.com/Squidly271/community.applications/master/plugins/community.applications.plg" {
		t.Errorf("plugins = %+v", pl)
	}
	var os OSUpdate
	collectInto(t, configured(t, newOSUpdate(), root, nil), &os)
	if os.CurrentVersion != "7.3.1" || os.LatestVersion != "7.3.2" || !os.UpdateAvailable || os.Status != "update_available" {
		t.Errorf("os update = %+v", os)
	}
	// Not Unraid: defaults, no error.
	empty := t.TempDir()
	collectInto(t, configured(t, newOSUpdate(), empty, nil), &os)
	collectInto(t, configured(t, newRegistration(), empty, nil), &reg)
	if os.Status != "unknown" || reg.Type != "unknown" || reg.State != "invalid" {
		t.Errorf("empty root: %+v %+v", os, reg)
	}
}

func TestRegistrationStates(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct{ ini, state string }{
		{`regTy="Trial"` + "\n" + `regExp="1800000100"`, "trial"},
		{`regTy="Trial"` + "\n" + `regExp="1700000000"`, "expired"},
		{`regTy="Pro"` + "\n" + `regTm="1700000000"`, "valid"},
		{`regTy="ENOKEYFILE"`, "invalid"},
	} {
		f, err := unraid.Parse("var.ini", strings.NewReader(tc.ini))
		if err != nil {
			t.Fatal(err)
		}
		if r := registration(f.Global, now); r.State != tc.state {
			t.Errorf("%q: state %q, want %q", tc.ini, r.State, tc.state)
		}
	}
}

func TestNewerVersion(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"7.3.2", "7.3.1", true}, {"7.10.0", "7.9.9", true}, {"7.3.1", "7.3.1", false},
		{"7.3.0", "7.3.0-rc.2", true}, {"7.3.0-rc.2", "7.3.0", false}, {"7.2", "7.3.1", false},
	} {
		if got := newerVersion(tc.a, tc.b); got != tc.want {
			t.Errorf("newerVersion(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestSettingsCollectors(t *testing.T) {
	root := fixture(t)
	var th DiskThresholds
	collectInto(t, configured(t, newDiskThresholds(), root, nil), &th)
	if th.HDDTempWarningCelsius != 45 || th.HDDTempCriticalCelsius != 55 || th.SSDTempWarningCelsius != 60 || th.SSDTempCriticalCelsius != 70 ||
		th.SpindownDelayMinutes != 60 || !th.StartArray || th.ShutdownTimeoutSeconds == nil || *th.ShutdownTimeoutSeconds != 90 ||
		th.DefaultFilesystem != "xfs" || th.WarningUtilizationPercent != 70 {
		t.Errorf("thresholds = %+v", th)
	}
	var mv Mover
	collectInto(t, configured(t, newMover(), root, nil), &mv)
	if mv.Active || mv.Schedule != "40 3 * * *" || !mv.Logging || mv.CacheFloorKB != 2000000 || mv.LastRunFilesMoved != 37 ||
		mv.LastRunBytesMoved != 48318382080 || mv.LastRunDurationSeconds != 737 || mv.LastRunStart != "2025-11-24T03:40:01Z" {
		t.Errorf("mover = %+v", mv)
	}
	var ns map[string]any
	collectInto(t, configured(t, newNetworkServices(), root, nil), &ns)
	svc := func(k string) map[string]any { m, _ := ns[k].(map[string]any); return m }
	if svc("smb")["enabled"] != true || svc("nfs")["enabled"] != false || svc("ssh")["enabled"] != true || svc("ssh")["port"] != float64(22) ||
		svc("syslog") == nil || svc("syslog_server") == nil || ns["services_enabled"] != ns["enabled_services"] {
		t.Errorf("network services = %v", ns)
	}
	for _, k := range []string{"smb", "nfs", "afp", "ftp", "ssh", "telnet", "avahi", "netbios", "wsd", "wireguard", "upnp", "ntp", "syslog"} {
		if svc(k)["name"] == nil || svc(k)["running"] != false {
			t.Errorf("service %s = %v (nothing runs in the fixture's proc)", k, svc(k))
		}
	}
}

func TestUnassigned(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	c := configured(t, newUnassigned(), root, nil)
	var got Unassigned
	collectInto(t, c, &got)
	if len(got.Devices) != 2 || len(got.RemoteShares) != 2 {
		t.Fatalf("unassigned = %+v", got)
	}
	sdh, sdi := got.Devices[0], got.Devices[1]
	if sdh.Device != "sdh" || sdh.SizeBytes != 3907029168*512 || !sdh.Mounted || sdh.Status != "mounted" || sdh.Filesystem != "xfs" ||
		sdh.Model != "WDC WD20EZBX-00A" || sdh.SerialNumber != "WD-WX12D1234567" || len(sdh.Partitions) != 1 {
		t.Errorf("sdh = %+v", sdh)
	} else if p := sdh.Partitions[0]; p.Label != "WD_Backup" || p.MountPoint != "/mnt/disks/WD_Backup" || p.UsedBytes == nil || p.Status != "mounted" {
		t.Errorf("sdh1 = %+v", p)
	}
	if sdi.Device != "sdi" || sdi.Mounted || sdi.Status != "unmounted" || len(sdi.Partitions) != 2 || sdi.Partitions[1].Filesystem != "btrfs" ||
		sdi.Partitions[1].Label != "scratch" || sdi.Partitions[0].Filesystem != "" || sdi.SerialNumber != "S6PXNM0T123456B" {
		t.Errorf("sdi = %+v", sdi)
	}
	smb, nfs := got.RemoteShares[0], got.RemoteShares[1]
	if smb.Source != "//NAS/backups" || smb.Status != "mounted" || smb.MountPoint != "/mnt/remotes/NAS_backups" || !smb.AutoMount ||
		smb.SMBServer != "NAS" || smb.SizeBytes == nil || smb.UsagePercent == nil || smb.ReadOnly {
		t.Errorf("smb share = %+v", smb)
	}
	if nfs.Source != "nas.local:/export/media" || nfs.Type != "nfs" || nfs.Status != "unmounted" || !nfs.ReadOnly ||
		nfs.MountPoint != "/mnt/remotes/nas.local_export_media" || nfs.NFSExport != "/export/media" {
		t.Errorf("nfs share = %+v", nfs)
	}

	argv := filepath.Join(t.TempDir(), "argv")
	t.Setenv("RC_UNASSIGNED_ARGV_LOG", argv)
	if _, err := act(c, "mount", "nas.local:/export/media", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := act(c, "unmount", "", map[string]string{"source": "//NAS/backups"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(argv); string(b) != "mount nas.local:/export/media\numount //NAS/backups\n" {
		t.Errorf("rc.unassigned ran with %q", b)
	}
	_, err := act(c, "mount", "//UNREACHABLE/x", nil)
	if err == nil || !strings.Contains(err.Error(), "could not connect") {
		t.Errorf("failed mount: %v", err)
	}
	for _, bad := range []string{"", "-o remount", "//srv/../etc", "//srv", "server", "//srv/share\nx", "srv:relative"} {
		_, err := act(c, "mount", bad, nil)
		wantErr(t, err, sdk.ErrInvalidArgument, "mount "+bad)
	}
	// Without the plugin: empty lists, and actions are unavailable.
	empty := t.TempDir()
	c = configured(t, newUnassigned(), empty, nil)
	if b := collectInto(t, c, nil); !strings.Contains(string(b), `"devices":[],"remote_shares":[]`) {
		t.Errorf("no plugin: %s", b)
	}
	_, err = act(c, "mount", "//NAS/backups", nil)
	wantErr(t, err, sdk.ErrUnavailable, "mount without the plugin")
}
