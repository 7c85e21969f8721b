package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var cardRE = regexp.MustCompile(`^card[0-9]+$`)

// drmCard is a GPU found under sys/class/drm.
type drmCard struct {
	name   string // card0
	dir    string // <root>/sys/class/drm/card0/device
	vendor string // 8086, 1002, 10de (lower-case hex)
	device string // 3e92
	driver string // i915, xe, amdgpu, nvidia, ...
	slot   string // 0000:00:02.0
}

// readTrim reads a small sysfs file.
func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readInt reads a sysfs integer file.
func readInt(path string) (int64, bool) {
	s, err := readTrim(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// parseUevent reads KEY=VALUE lines of a device's uevent file.
func parseUevent(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// drmCards lists the PCI GPUs under <root>/sys/class/drm, in PCI order.
func drmCards(root string) ([]drmCard, error) {
	base := filepath.Join(root, "sys", "class", "drm")
	ents, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", base, err)
	}
	var cards []drmCard
	for _, e := range ents {
		if !cardRE.MatchString(e.Name()) {
			continue // connectors (card0-HDMI-A-1), renderD128, version
		}
		dir := filepath.Join(base, e.Name(), "device")
		ue, err := readTrim(filepath.Join(dir, "uevent"))
		if err != nil {
			continue
		}
		u := parseUevent(ue)
		vendor, device, _ := strings.Cut(strings.ToLower(u["PCI_ID"]), ":")
		if vendor == "" {
			v, _ := readTrim(filepath.Join(dir, "vendor"))
			d, _ := readTrim(filepath.Join(dir, "device"))
			vendor, device = strings.TrimPrefix(strings.ToLower(v), "0x"), strings.TrimPrefix(strings.ToLower(d), "0x")
		}
		if vendor == "" {
			continue
		}
		cards = append(cards, drmCard{name: e.Name(), dir: dir, vendor: vendor, device: device,
			driver: u["DRIVER"], slot: strings.ToLower(u["PCI_SLOT_NAME"])})
	}
	sort.Slice(cards, func(i, j int) bool { return cards[i].slot < cards[j].slot })
	return cards, nil
}

// hwmonDirs returns the hwmon directories of a device.
func hwmonDirs(dev string) []string {
	m, _ := filepath.Glob(filepath.Join(dev, "hwmon", "hwmon*"))
	return m
}

// hwmonValue returns the first readable file of names across a device's
// hwmon directories, and its path.
func hwmonValue(dev string, names ...string) (int64, string, bool) {
	for _, h := range hwmonDirs(dev) {
		for _, n := range names {
			p := filepath.Join(h, n)
			if v, ok := readInt(p); ok {
				return v, p, true
			}
		}
	}
	return 0, "", false
}

// cpuTemp is the CPU package temperature from hwmon: coretemp's
// "Package id 0" (else its first sensor), or k10temp's Tctl/Tdie.
func cpuTemp(root string) (float64, bool) {
	dirs, _ := filepath.Glob(filepath.Join(root, "sys", "class", "hwmon", "hwmon*"))
	sort.Strings(dirs)
	for _, d := range dirs {
		name, _ := readTrim(filepath.Join(d, "name"))
		var want []string
		switch name {
		case "coretemp":
			want = []string{"Package id 0"}
		case "k10temp", "zenpower":
			want = []string{"Tctl", "Tdie"}
		default:
			continue
		}
		labels, _ := filepath.Glob(filepath.Join(d, "temp*_label"))
		sort.Strings(labels)
		for _, w := range want {
			for _, l := range labels {
				if s, _ := readTrim(l); s == w {
					if v, ok := readInt(strings.TrimSuffix(l, "_label") + "_input"); ok {
						return float64(v) / 1000, true
					}
				}
			}
		}
		if v, ok := readInt(filepath.Join(d, "temp1_input")); ok {
			return float64(v) / 1000, true
		}
	}
	return 0, false
}

// raplUncore is the energy counter of the RAPL "uncore" domain (the
// integrated GPU on client Intel CPUs), if there is one.
func raplUncore(root string) string {
	dirs, _ := filepath.Glob(filepath.Join(root, "sys", "class", "powercap", "intel-rapl:*:*"))
	sort.Strings(dirs)
	for _, d := range dirs {
		if n, _ := readTrim(filepath.Join(d, "name")); n == "uncore" {
			return filepath.Join(d, "energy_uj")
		}
	}
	return ""
}

// pciIDFiles are where pci.ids lives (Unraid: hwdata).
var pciIDFiles = []string{"usr/share/hwdata/pci.ids", "usr/share/misc/pci.ids"}

// lookupPCIName finds a device's name in a pci.ids file ("vvvv  Vendor",
// "\tdddd  Device"); ok is false if it is not listed.
func lookupPCIName(sc *bufio.Scanner, vendor, device string) (string, bool) {
	inVendor := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] != '\t' {
			if inVendor {
				return "", false
			}
			inVendor = strings.HasPrefix(line, vendor+"  ")
			continue
		}
		if inVendor && len(line) > 1 && line[1] != '\t' && strings.HasPrefix(line[1:], device+"  ") {
			return strings.TrimSpace(line[1+len(device):]), true
		}
	}
	return "", false
}

// marketingName turns "CoffeeLake-S GT2 [UHD Graphics 630]" into
// "UHD Graphics 630": pci.ids puts the product name in brackets.
func marketingName(s string) string {
	if i, j := strings.LastIndexByte(s, '['), strings.LastIndexByte(s, ']'); i >= 0 && j > i+1 {
		return s[i+1 : j]
	}
	return s
}

var vendorNames = map[string]string{"8086": "Intel", "1002": "AMD", "10de": "NVIDIA"}

// pciName names a GPU: amdgpu's product_name, else pci.ids under root,
// else the PCI ID.
func pciName(root string, c drmCard) string {
	if s, _ := readTrim(filepath.Join(c.dir, "product_name")); s != "" {
		return s
	}
	vn := vendorNames[c.vendor]
	if vn == "" {
		vn = "GPU"
	}
	for _, f := range pciIDFiles {
		fh, err := os.Open(filepath.Join(root, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		name, ok := lookupPCIName(sc, c.vendor, c.device)
		fh.Close()
		if ok {
			n := marketingName(name)
			if !strings.HasPrefix(n, vn) {
				n = vn + " " + n
			}
			return n
		}
	}
	return fmt.Sprintf("%s GPU [%s:%s]", vn, c.vendor, c.device)
}
