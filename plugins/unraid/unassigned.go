package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

const (
	udConfigDir  = "boot/config/plugins/unassigned.devices"
	rcUnassigned = "usr/local/sbin/rc.unassigned"
)

// RemoteShare is an SMB/NFS share (or ISO) of the Unassigned Devices plugin.
type RemoteShare struct {
	Source       string   `json:"source"`
	Type         string   `json:"type"`
	MountPoint   string   `json:"mount_point"`
	Status       string   `json:"status"`
	SizeBytes    *uint64  `json:"size_bytes,omitempty"`
	UsedBytes    *uint64  `json:"used_bytes,omitempty"`
	FreeBytes    *uint64  `json:"free_bytes,omitempty"`
	UsagePercent *float64 `json:"usage_percent,omitempty"`
	AutoMount    bool     `json:"auto_mount"`
	ReadOnly     bool     `json:"read_only"`
	SMBServer    string   `json:"smb_server,omitempty"`
	SMBShare     string   `json:"smb_share,omitempty"`
	NFSServer    string   `json:"nfs_server,omitempty"`
	NFSExport    string   `json:"nfs_export,omitempty"`
}

// Unassigned is the payload of unassigned_devices_update.
type Unassigned struct {
	Devices      []UnassignedDevice `json:"devices"`
	RemoteShares []RemoteShare      `json:"remote_shares"`
	Timestamp    time.Time          `json:"timestamp"`
}

func newUnassigned() *collector {
	c := newCollector(sdk.Info{
		Name:            "unassigned",
		Topic:           "unassigned_devices_update",
		Description:     "remote SMB/NFS shares of the Unassigned Devices plugin; mount and unmount them",
		DefaultInterval: 30 * time.Second,
		Actions:         []string{"mount", "unmount"},
	}, nil)
	c.CollectFunc = collectUnassigned
	c.ActFunc = actUnassigned
	return c
}

func collectUnassigned(_ context.Context, c *collector) (any, error) {
	out := Unassigned{Devices: []UnassignedDevice{}, RemoteShares: []RemoteShare{}, Timestamp: time.Now()}
	if _, err := os.Stat(c.Path(udConfigDir)); err != nil {
		return out, nil // the plugin is not installed
	}
	mounts, rows := readMounts(c)
	out.Devices = unassignedDevices(c, mounts)
	cfg, err := readIni(c, udConfigDir+"/samba_mount.cfg")
	if err != nil {
		return nil, err
	}
	var shares []RemoteShare
	for _, s := range cfg.Sections {
		r := remoteShare(s.Name)
		switch strings.ToUpper(s.String("protocol")) {
		case "NFS":
			r.Type = "nfs"
		case "ROOT":
			r.Type = "root"
		}
		r.AutoMount, r.ReadOnly = yes(s.String("automount")), yes(s.String("read_only"))
		r.MountPoint = remoteMountPoint(r, s.String("mountpoint"))
		shares = append(shares, r)
	}
	for _, f := range rows {
		src, mp, fstype := f[0], f[1], f[2]
		var typ string
		switch {
		case strings.HasPrefix(mp, "/mnt/rootshare/"):
			typ = "root"
		case !strings.HasPrefix(mp, "/mnt/remotes/") && !strings.HasPrefix(mp, "/mnt/disks/"):
			continue
		case fstype == "cifs" || fstype == "smb3" || fstype == "smbfs":
			typ = "smb"
		case fstype == "nfs" || fstype == "nfs4":
			typ = "nfs"
		default:
			continue
		}
		m := remoteShare(src)
		m.Type, m.MountPoint, m.Status = typ, mp, "mounted"
		m.ReadOnly = hasOpt(f[3], "ro")
		if u, err := unraid.Statfs(c.Path(strings.TrimPrefix(mp, "/"))); err == nil {
			pct := u.Percent()
			m.SizeBytes, m.UsedBytes, m.FreeBytes, m.UsagePercent = &u.Total, &u.Used, &u.Free, &pct
		}
		replaced := false
		for i := range shares {
			if shares[i].Source == m.Source || shares[i].MountPoint == m.MountPoint {
				m.AutoMount = shares[i].AutoMount
				shares[i], replaced = m, true
				break
			}
		}
		if !replaced {
			shares = append(shares, m)
		}
	}
	if shares != nil {
		out.RemoteShares = shares
	}
	return out, nil
}

// remoteShare parses the source: //server/share (SMB) or server:/export.
func remoteShare(src string) RemoteShare {
	r := RemoteShare{Source: src, Type: "smb", Status: "unmounted"}
	if rest, ok := strings.CutPrefix(src, "//"); ok {
		r.SMBServer, r.SMBShare, _ = strings.Cut(rest, "/")
	} else if host, exp, ok := strings.Cut(src, ":"); ok {
		r.Type, r.NFSServer, r.NFSExport = "nfs", host, exp
	}
	return r
}

func remoteMountPoint(r RemoteShare, configured string) string {
	if configured != "" {
		return "/mnt/remotes/" + path.Base(configured)
	}
	base := "/mnt/remotes/"
	if r.Type == "root" {
		base = "/mnt/rootshare/"
	}
	server, p := r.SMBServer, r.SMBShare
	if r.Type == "nfs" {
		server, p = r.NFSServer, strings.TrimPrefix(r.NFSExport, "/")
	}
	return base + server + "_" + strings.ReplaceAll(p, "/", "_")
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// validSource is the reference agent's rule for a remote share source.
func validSource(s string) error {
	bad := s == "" || len(s) > 4096 || strings.ContainsAny(s, "\x00\r\n") || strings.HasPrefix(s, "-") || strings.Contains(s, "..")
	if !bad {
		if rest, ok := strings.CutPrefix(s, "//"); ok {
			server, share, _ := strings.Cut(rest, "/")
			bad = server == "" || share == ""
		} else {
			host, exp, ok := strings.Cut(s, ":")
			bad = !ok || host == "" || !strings.HasPrefix(exp, "/")
		}
	}
	if bad {
		return fmt.Errorf("invalid source %q: //server/share or server:/export, no .., not starting with -: %w", clip(s), sdk.ErrInvalidArgument)
	}
	return nil
}

// actUnassigned runs the plugin's own rc.unassigned script with the
// source as one argument (no shell).
func actUnassigned(ctx context.Context, c *collector, a sdk.Action) (string, error) {
	src := a.Target
	if src == "" {
		src = a.Params["source"]
	}
	if err := validSource(src); err != nil {
		return "", err
	}
	rc := c.Path(rcUnassigned)
	if _, err := os.Stat(rc); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("the Unassigned Devices plugin is not installed (no %s): %w", rcUnassigned, sdk.ErrUnavailable)
		}
		return "", err
	}
	verb := "mount"
	if a.Name == "unmount" {
		verb = "umount"
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out := &capped{max: 8 << 10}
	cmd := exec.CommandContext(ctx, rc, verb, src)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", verb, src, err, strings.TrimSpace(out.String()))
	}
	if a.Name == "unmount" {
		return "Remote share " + src + " unmounted", nil
	}
	return "Remote share " + src + " mounted", nil
}
