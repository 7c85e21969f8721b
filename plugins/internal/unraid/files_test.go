package unraid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureRoot = "../../../testdata/unraid"

func TestReadVarFixture(t *testing.T) {
	v, err := ReadVar(fixtureRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := Var{
		Version: "7.3.1", Name: "Tower", MdState: "STARTED", MdNumDisks: 6,
		SbSynced: 1763895600, SbSyncExit: "0",
		MdResync: 7814026584, MdResyncPos: 3125610634, MdResyncSize: 7814026584,
		MdResyncDt: 30, MdResyncDb: 5565000, MdResyncAction: "check P Q", MdResyncCorr: "0",
		FsState: "Started", SpindownDelay: 60, ShareCount: 5, CSRFToken: "0A1B2C3D4E5F6071",
	}
	if v != want {
		t.Errorf("ReadVar =\n%+v\nwant\n%+v", v, want)
	}
}

func TestReadVarOldActionKey(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, VarIni, "mdState=\"STARTED\"\nsbSyncAction=\"recon D5\"\n")
	v, err := ReadVar(root)
	if err != nil {
		t.Fatal(err)
	}
	if v.MdResyncAction != "recon D5" {
		t.Errorf("action = %q, want the sbSyncAction fallback", v.MdResyncAction)
	}
}

func TestReadDisksFixture(t *testing.T) {
	slots, err := ReadDisks(fixtureRoot)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range slots {
		names = append(names, s.Section)
	}
	if got := strings.Join(names, ","); got != "parity,parity2,disk1,disk2,disk3,disk4,disk5,cache,flash" {
		t.Fatalf("slots = %s", got)
	}
	tests := []struct {
		i     int
		want  Slot
		empty bool
	}{
		{0, Slot{Section: "parity", Idx: 0, Name: "parity", Device: "sdb", ID: "WDC_WD80EFAX-68KNBN0_VAGK1A2B", SizeKiB: 7814026584, Status: "DISK_OK", Temp: "34", NumReads: 118234001, NumWrites: 2209876, Type: "Parity", Color: "green-on", Rotational: "1", Spundown: "0", SpindownDelay: "-1", FsStatus: "-"}, false},
		{2, Slot{Section: "disk1", Idx: 1, Name: "disk1", Device: "sdd", ID: "WDC_WD40EFRX-68N32N0_WD-WCC7K1ABCDEF", SizeKiB: 3907018584, Status: "DISK_OK", Temp: "33", NumReads: 60211234, NumWrites: 1012345, Type: "Data", Color: "green-on", Rotational: "1", Spundown: "0", SpindownDelay: "-1", FsType: "xfs", FsStatus: "Mounted", FsSizeKiB: 3905110812, FsFreeKiB: 1463948572, FsUsedKiB: 2441162240, HasFsSizes: true}, false},
		{4, Slot{Section: "disk3", Idx: 3, Name: "disk3", Device: "sdf", ID: "WDC_WD40EFZX-68AWUN0_WD-WX12D0123456", SizeKiB: 3907018584, Status: "DISK_OK", Temp: "*", NumReads: 20001000, NumWrites: 120034, Type: "Data", Color: "green-blink", Rotational: "1", Spundown: "1", SpindownDelay: "-1", FsType: "xfs", FsStatus: "Mounted", FsSizeKiB: 3905110812, FsFreeKiB: 2684565276, FsUsedKiB: 1220545536, HasFsSizes: true}, false},
		{6, Slot{Section: "disk5", Idx: 5, Name: "disk5", Status: "DISK_NP", Temp: "*", Type: "Data", Color: "grey-off", Rotational: "1", Spundown: "0", SpindownDelay: "-1", FsStatus: "-"}, true},
		{7, Slot{Section: "cache", Idx: 31, Name: "cache", Device: "nvme0n1", ID: "Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456A", SizeKiB: 976762584, Status: "DISK_OK", Temp: "42", NumReads: 9123456, NumWrites: 48123456, Type: "Cache", Color: "green-on", Rotational: "0", Spundown: "0", SpindownDelay: "-1", FsType: "btrfs", FsStatus: "Mounted", FsSizeKiB: 976284620, FsFreeKiB: 663874508, FsUsedKiB: 312410112, HasFsSizes: true, Warning: "50", Critical: "60"}, false},
	}
	for _, tc := range tests {
		if slots[tc.i] != tc.want {
			t.Errorf("slot %d =\n%+v\nwant\n%+v", tc.i, slots[tc.i], tc.want)
		}
		if slots[tc.i].Empty() != tc.empty {
			t.Errorf("slot %d Empty() = %v", tc.i, !tc.empty)
		}
	}
}

func TestReadSharesAndConfigFixture(t *testing.T) {
	shares, err := ReadShares(fixtureRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{
		{Name: "appdata", Comment: "Application data", UseCache: "only", CachePool: "cache", FreeKiB: 664352508, UsedKiB: 239009792, HasSizes: true},
		{Name: "domains", Comment: "Saved VM instances", UseCache: "prefer", CachePool: "cache", FreeKiB: 664352508, UsedKiB: 41943040, HasSizes: true},
		{Name: "isos", UseCache: "yes", CachePool: "cache"},
		{Name: "media", Comment: "Movies, TV and music", UseCache: "no", FreeKiB: 4970812252, UsedKiB: 8002396416, HasSizes: true},
		{Name: "system", Comment: "System data", UseCache: "prefer", CachePool: "cache", FreeKiB: 664352508, UsedKiB: 31457280, HasSizes: true},
	}
	if len(shares) != len(want) {
		t.Fatalf("got %d shares, want %d", len(shares), len(want))
	}
	for i := range want {
		if shares[i] != want[i] {
			t.Errorf("share %d = %+v, want %+v", i, shares[i], want[i])
		}
	}
	// The .cfg files on the flash have CRLF line ends.
	cfg, err := ReadShareConfig(fixtureRoot, "isos")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != (ShareConfig{Comment: "ISO images", UseCache: "yes", Export: "e", ExportNFS: "-", Security: "public"}) {
		t.Errorf("isos.cfg = %+v", cfg)
	}
	if _, err := ReadShareConfig(fixtureRoot, "../../etc/passwd"); err == nil {
		t.Error("a share name with a slash must be refused")
	}
}

func TestReadTempLimits(t *testing.T) {
	lim, err := ReadTempLimits(fixtureRoot)
	if err != nil || lim != (TempLimits{45, 55, 60, 70}) {
		t.Errorf("fixture limits = %+v, %v", lim, err)
	}
	root := t.TempDir()
	if lim, err := ReadTempLimits(root); err != nil || lim != DefaultTempLimits {
		t.Errorf("missing file: %+v, %v; want defaults", lim, err)
	}
	writeFile(t, root, DynamixCfg, "[display]\nhot=\"40\"\nmax=\"50\"\n")
	if lim, _ := ReadTempLimits(root); lim != (TempLimits{40, 50, 60, 70}) {
		t.Errorf("custom limits = %+v", lim)
	}
	writeFile(t, root, DynamixCfg, "[display\n")
	if _, err := ReadTempLimits(root); err == nil || !strings.Contains(err.Error(), "dynamix.cfg:1:") {
		t.Errorf("malformed file: err = %v, want file:line", err)
	}
}

func TestMissingFilesAreNotExist(t *testing.T) {
	root := t.TempDir()
	_, e1 := ReadVar(root)
	_, e2 := ReadDisks(root)
	_, e3 := ReadShares(root)
	for _, err := range []error{e1, e2, e3} {
		if !IsNotExist(err) {
			t.Errorf("err = %v, want not-exist", err)
		}
	}
}

func TestStatfsAndPercent(t *testing.T) {
	u, err := Statfs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u.Total == 0 || u.Used+u.Free != u.Total {
		t.Errorf("usage %+v inconsistent", u)
	}
	if _, err := Statfs("/nonexistent/path"); err == nil || !strings.Contains(err.Error(), "/nonexistent/path") {
		t.Errorf("err = %v, want one naming the path", err)
	}
	for _, tc := range []struct {
		part, total uint64
		want        float64
	}{{0, 0, 0}, {1, 3, 33.33}, {2, 3, 66.67}, {5, 5, 100}, {9128690176, 19527272056, 46.75}} {
		if got := Percent(tc.part, tc.total); got != tc.want {
			t.Errorf("Percent(%d,%d) = %v, want %v", tc.part, tc.total, got, tc.want)
		}
	}
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
