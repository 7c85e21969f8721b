package main

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseNvidiaXML(t *testing.T) {
	for _, tc := range []struct {
		file          string
		slot, name    string
		driver        string
		temp, util    float64
		mem, power    float64
		total, used   uint64
		wantErr, gpus int
	}{
		{"gtx-1660-ti-418.43.xml", "0000:43:00.0", "Graphics Device", "418.43", 40, 0, 1, 8.93, 5912 << 20, 0, 0, 1},
		{"rtx-4000-sff-ada-595.84-trimmed.xml", "0000:06:00.0", "NVIDIA RTX 4000 SFF Ada Generation", "595.84", 38, 0, 37, 8.44, 20475 << 20, 3534 << 20, 0, 1},
	} {
		f, err := os.Open("testdata/nvidia/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		cards, err := parseNvidiaXML(f)
		f.Close()
		if err != nil || len(cards) != tc.gpus {
			t.Fatalf("%s: %d cards, %v", tc.file, len(cards), err)
		}
		g := cards[0].gpu
		if cards[0].slot != tc.slot || g.Name != tc.name || g.DriverVersion != tc.driver || g.TemperatureCelsius != tc.temp ||
			g.UtilizationGPUPercent != tc.util || g.UtilizationMemoryPercent != tc.mem || g.PowerDrawWatts != tc.power ||
			g.MemoryTotalBytes != tc.total || g.MemoryUsedBytes != tc.used || !g.Available || g.Vendor != "nvidia" {
			t.Errorf("%s: slot %s, %+v", tc.file, cards[0].slot, g)
		}
	}
	b, _ := os.ReadFile("testdata/nvidia/no-driver.txt")
	if _, err := parseNvidiaXML(strings.NewReader(string(b))); err == nil {
		t.Error("no-driver message parsed as XML")
	}
	// Two GPUs in one document, power only as N/A.
	two := `<nvidia_smi_log><driver_version>550.1</driver_version>
<gpu id="00000000:01:00.0"><product_name>A</product_name><power_readings><power_draw>[N/A]</power_draw></power_readings></gpu>
<gpu id="00000000:02:00.0"><product_name>B</product_name><gpu_power_readings><power_draw>70.5 W</power_draw></gpu_power_readings></gpu>
</nvidia_smi_log>`
	cards, err := parseNvidiaXML(strings.NewReader(two))
	if err != nil || len(cards) != 2 || cards[0].slot != "0000:01:00.0" || cards[0].gpu.PowerDrawWatts != 0 ||
		cards[1].gpu.PowerDrawWatts != 70.5 || cards[1].gpu.DriverVersion != "550.1" {
		t.Fatalf("two GPUs: %+v, %v", cards, err)
	}
}

func TestNvBytes(t *testing.T) {
	for in, want := range map[string]uint64{"5912 MiB": 5912 << 20, "1 GiB": 1 << 30, "N/A": 0, "-1 MiB": 0} {
		if got := nvBytes(in); got != want {
			t.Errorf("nvBytes(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseIntelTop(t *testing.T) {
	for _, tc := range []struct {
		file        string
		busy, power float64
	}{
		{"uhd630-transcode.json", 43.209118, 4.120334},
		{"uhd630-idle.json", 0, 0},
	} {
		f, err := os.Open("testdata/intel/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseIntelTop(f)
		f.Close()
		if err != nil || s.busy() != tc.busy || s.Power.GPU != tc.power || len(s.Engines) != 4 {
			t.Errorf("%s: %+v, %v", tc.file, s, err)
		}
	}
	for _, in := range []string{"", "{}", "[", "[]", "[\n{\"engines\": 3}", "Failed to initialize PMU!"} {
		if _, err := parseIntelTop(strings.NewReader(in)); err == nil {
			t.Errorf("parseIntelTop(%q): no error", in)
		}
	}
}

func TestPCIName(t *testing.T) {
	for _, tc := range []struct{ vendor, device, want string }{
		{"8086", "3e92", "CoffeeLake-S GT2 [UHD Graphics 630]"},
		{"1002", "73bf", "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]"},
		{"10de", "2184", "TU116 [GeForce GTX 1660]"},
		{"8086", "ffff", ""},
		{"1458", "3fc8", ""}, // a subsystem line, not a device
	} {
		f, err := os.Open("testdata/root-tower/usr/share/hwdata/pci.ids")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := lookupPCIName(bufio.NewScanner(f), tc.vendor, tc.device)
		f.Close()
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("lookup %s:%s = %q,%v", tc.vendor, tc.device, got, ok)
		}
	}
	for in, want := range map[string]string{"CoffeeLake-S GT2 [UHD Graphics 630]": "UHD Graphics 630", "ASPEED Graphics Family": "ASPEED Graphics Family", "x []": "x []"} {
		if got := marketingName(in); got != want {
			t.Errorf("marketingName(%q) = %q", in, got)
		}
	}
}

func TestDRMCards(t *testing.T) {
	cards, err := drmCards("testdata/root-tower")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cards {
		got = append(got, c.name+" "+c.vendor+":"+c.device+" "+c.driver+" "+c.slot)
	}
	want := []string{
		"card0 8086:3e92 i915 0000:00:02.0",
		"card3 1a03:2000 ast 0000:05:00.0",
		"card1 1002:73bf amdgpu 0000:0a:00.0",
		"card2 10de:2184 nvidia 0000:43:00.0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("drmCards\n got %q\nwant %q", got, want)
	}
	if v, ok := cpuTemp("testdata/root-tower"); !ok || v != 38 {
		t.Fatalf("cpuTemp = %v,%v", v, ok)
	}
	if _, err := drmCards(t.TempDir()); err == nil {
		t.Fatal("no sys/class/drm: no error")
	}
}

func TestParseUevent(t *testing.T) {
	got := parseUevent("DRIVER=i915\nPCI_ID=8086:3E92\n\nbroken\n=x\nA=b=c\n")
	want := map[string]string{"DRIVER": "i915", "PCI_ID": "8086:3E92", "A": "b=c"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseUevent = %v", got)
	}
}

func FuzzParseNvidiaXML(f *testing.F) {
	for _, p := range []string{"gtx-1660-ti-418.43.xml", "rtx-4000-sff-ada-595.84-trimmed.xml", "no-driver.txt"} {
		b, _ := os.ReadFile("testdata/nvidia/" + p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cards, err := parseNvidiaXML(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, c := range cards {
			if c.gpu.Vendor != "nvidia" || !c.gpu.Available {
				t.Fatalf("card %+v", c)
			}
		}
	})
}

func FuzzParseIntelTop(f *testing.F) {
	for _, p := range []string{"uhd630-transcode.json", "uhd630-idle.json"} {
		b, _ := os.ReadFile("testdata/intel/" + p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseIntelTop(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if u := s.busy(); u < 0 || u > 100 {
			t.Fatalf("busy %v out of 0–100", u)
		}
	})
}

func FuzzLookupPCIName(f *testing.F) {
	b, _ := os.ReadFile("testdata/root-tower/usr/share/hwdata/pci.ids")
	f.Add(string(b), "8086", "3e92")
	f.Fuzz(func(t *testing.T, ids, vendor, device string) {
		name, ok := lookupPCIName(bufio.NewScanner(strings.NewReader(ids)), vendor, device)
		if !ok && name != "" {
			t.Fatalf("not found but named %q", name)
		}
		_ = marketingName(name)
		_ = parseUevent(ids)
	})
}
