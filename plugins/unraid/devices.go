package main

import (
	"bufio"
	"bytes"
	"os"
	"sort"
	"strings"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/plugins/internal/unraid"
)

// UnassignedDevice is a disk that is neither in the array nor a pool nor
// the flash: what the Unassigned Devices plugin shows.
type UnassignedDevice struct {
	Device         string      `json:"device"`
	SizeBytes      uint64      `json:"size_bytes"`
	Mounted        bool        `json:"mounted"`
	Filesystem     string      `json:"filesystem,omitempty"`
	SerialNumber   string      `json:"serial_number"`
	Model          string      `json:"model"`
	Identification string      `json:"identification"`
	Status         string      `json:"status"`
	SpinState      string      `json:"spin_state"`
	AutoMount      bool        `json:"auto_mount"`
	PassThrough    bool        `json:"pass_through"`
	DisableMount   bool        `json:"disable_mount"`
	ScriptEnabled  bool        `json:"script_enabled"`
	Partitions     []Partition `json:"partitions"`
}

// Partition is one partition of an unassigned device.
type Partition struct {
	PartitionNumber int      `json:"partition_number"`
	Label           string   `json:"label,omitempty"`
	Filesystem      string   `json:"filesystem"`
	MountPoint      string   `json:"mount_point,omitempty"`
	SizeBytes       uint64   `json:"size_bytes"`
	UsedBytes       *uint64  `json:"used_bytes,omitempty"`
	FreeBytes       *uint64  `json:"free_bytes,omitempty"`
	UsagePercent    *float64 `json:"usage_percent,omitempty"`
	ReadOnly        bool     `json:"read_only"`
	SMBShare        bool     `json:"smb_share"`
	NFSShare        bool     `json:"nfs_share"`
	Status          string   `json:"status"`
}

type mountInfo struct {
	point, fstype string
	ro            bool
}

// unassignedDevices lists the whole disks under sys/block that Unraid has
// not assigned (disks.ini), as lsblk would see them: size from sysfs,
// model and serial from the device, file system and label from udev's
// database (run/udev/data), mounts from proc/mounts.
func unassignedDevices(c *collector, mounts map[string]mountInfo) []UnassignedDevice {
	out := []UnassignedDevice{}
	assigned := map[string]bool{}
	if slots, err := unraid.ReadDisks(c.Root()); err == nil {
		for _, s := range slots {
			if s.Device != "" {
				assigned[s.Device] = true
			}
		}
	}
	entries, err := os.ReadDir(c.Path("sys/block"))
	if err != nil {
		return out
	}
	for _, e := range entries {
		name := e.Name()
		if assigned[name] || !unraid.SafeName(name) || skipBlock(name) {
			continue
		}
		dir := c.Path("sys/block/" + name)
		size, _ := hostfs.Int(dir + "/size")
		d := UnassignedDevice{Device: name, SizeBytes: uint64(max(size, 0)) * 512, Status: "unmounted", SpinState: "unknown",
			Model: hostfs.String(dir + "/device/model"), SerialNumber: hostfs.String(dir + "/device/serial"), Partitions: []Partition{}}
		if d.SerialNumber == "" {
			d.SerialNumber = udevProps(c, hostfs.String(dir+"/dev"))["ID_SERIAL_SHORT"]
		}
		d.Identification = d.Model
		parts, _ := os.ReadDir(dir)
		for _, p := range parts {
			if !strings.HasPrefix(p.Name(), name) || !unraid.SafeName(p.Name()) {
				continue
			}
			pdir := dir + "/" + p.Name()
			num, ok := hostfs.Int(pdir + "/partition")
			if !ok {
				continue
			}
			psize, _ := hostfs.Int(pdir + "/size")
			props := udevProps(c, hostfs.String(pdir+"/dev"))
			part := Partition{PartitionNumber: int(num), SizeBytes: uint64(max(psize, 0)) * 512, Filesystem: props["ID_FS_TYPE"],
				Label: props["ID_FS_LABEL"], Status: "unmounted"}
			if m, ok := mounts["/dev/"+p.Name()]; ok {
				part.MountPoint, part.ReadOnly, part.Status = m.point, m.ro, "mounted"
				if part.Filesystem == "" {
					part.Filesystem = m.fstype
				}
				if u, err := unraid.Statfs(c.Path(strings.TrimPrefix(m.point, "/"))); err == nil {
					pct := u.Percent()
					part.UsedBytes, part.FreeBytes, part.UsagePercent = &u.Used, &u.Free, &pct
				}
				d.Mounted, d.Status = true, "mounted"
			}
			d.Partitions = append(d.Partitions, part)
		}
		sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].PartitionNumber < d.Partitions[j].PartitionNumber })
		if len(d.Partitions) > 0 {
			d.Filesystem = d.Partitions[0].Filesystem
		}
		out = append(out, d)
	}
	return out
}

// skipBlock leaves out what is not a disk: loop, md, zram, ram, nbd, dm
// and optical devices.
func skipBlock(name string) bool {
	for _, p := range []string{"loop", "md", "zram", "ram", "nbd", "dm-", "sr"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// udevProps reads udev's database entry of a block device ("8:113" →
// run/udev/data/b8:113): its E:KEY=VALUE lines.
func udevProps(c *collector, majMin string) map[string]string {
	out := map[string]string{}
	if majMin == "" || !unraid.SafeName(majMin) {
		return out
	}
	b, err := readSmall(c.Path("run/udev/data/b"+majMin), 64<<10)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "E:"); ok {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// readMounts reads proc/mounts: source → mount.
func readMounts(c *collector) (map[string]mountInfo, [][]string) {
	out := map[string]mountInfo{}
	var rows [][]string
	b, _ := readSmall(c.Path("proc/mounts"), 4<<20)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		f[0], f[1] = hostfs.UnescapeMount(f[0]), hostfs.UnescapeMount(f[1])
		rows = append(rows, f)
		if _, seen := out[f[0]]; !seen {
			out[f[0]] = mountInfo{point: f[1], fstype: f[2], ro: hasOpt(f[3], "ro")}
		}
	}
	return out, rows
}
