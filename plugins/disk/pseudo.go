package main

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk/schema"
)

// Unraid mounts two file systems that are not array or pool disks but
// that fill up and break things when they do: the Docker vdisk
// (docker.img, a loop device at /var/lib/docker) and the log tmpfs at
// /var/log. Clients show their usage; the role tells them apart.
var pseudoDisks = []struct{ role, mountPoint string }{
	{"docker_vdisk", "/var/lib/docker"},
	{"log", "/var/log"},
}

type mount struct{ device, fsType string }

// readMounts parses <root>/proc/mounts: device, mount point (octal
// escapes such as \040 decoded), file system type.
func readMounts(root string) map[string]mount {
	b, err := os.ReadFile(unraid.Join(root, "proc/mounts"))
	if err != nil {
		return nil
	}
	out := map[string]mount{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		out[hostfs.UnescapeMount(f[1])] = mount{device: f[0], fsType: f[2]}
	}
	return out
}

// pseudo returns the docker_vdisk and log entries whose file system is
// mounted (per proc/mounts under the root), with statfs usage.
func (c *collector) pseudo(now time.Time) []schema.Disk {
	mounts := readMounts(c.root)
	var out []schema.Disk
	for _, p := range pseudoDisks {
		m, ok := mounts[p.mountPoint]
		if !ok {
			continue
		}
		u, err := unraid.Statfs(unraid.Join(c.root, p.mountPoint))
		if err != nil {
			continue
		}
		dev := ""
		if strings.HasPrefix(m.device, "/dev/") {
			dev = path.Base(m.device)
		}
		out = append(out, schema.Disk{
			ID: p.role, Name: p.role, Role: p.role, Device: dev, Status: "DISK_OK",
			SizeBytes: u.Total, TotalBytes: u.Total, UsedBytes: u.Used, FreeBytes: u.Free,
			UsagePercent: u.Percent(), SpinState: "active", SMARTStatus: "UNKNOWN",
			Filesystem: m.fsType, MountPoint: p.mountPoint, Timestamp: now,
		})
	}
	return out
}
