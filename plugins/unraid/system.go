package main

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Flash is the payload of flash_update: the USB boot drive.
type Flash struct {
	Device         string    `json:"device"`
	Model          string    `json:"model"`
	Product        string    `json:"product"`
	Vendor         string    `json:"vendor"`
	GUID           string    `json:"guid"`
	SizeBytes      uint64    `json:"size_bytes"`
	TotalBytes     uint64    `json:"total_bytes"`
	UsedBytes      uint64    `json:"used_bytes"`
	FreeBytes      uint64    `json:"free_bytes"`
	UsagePercent   float64   `json:"usage_percent"`
	SmartAvailable bool      `json:"smart_available"`
	Timestamp      time.Time `json:"timestamp"`
}

func newFlash() *collector {
	return varIniCollector(sdk.Info{
		Name:            "flash",
		Topic:           "flash_update",
		Description:     "the USB flash boot drive: model, GUID, usage of /boot",
		DefaultInterval: 60 * time.Second,
	}, func(c *collector, g *unraid.Section) any {
		out := Flash{Model: g.String("flashProduct"), Product: g.String("flashProduct"),
			Vendor: g.String("flashVendor"), GUID: g.String("flashGUID"), Timestamp: time.Now()}
		if slots, err := unraid.ReadDisks(c.Root()); err == nil {
			for _, s := range slots {
				if s.Section == "flash" && s.Device != "" {
					out.Device = "/dev/" + s.Device
				}
			}
		}
		// /boot is only its own file system on Unraid; elsewhere statfs
		// reports the root's, which is still a truthful figure for it.
		if u, err := unraid.Statfs(c.Path("boot")); err == nil {
			out.SizeBytes, out.TotalBytes, out.UsedBytes, out.FreeBytes = u.Total, u.Total, u.Used, u.Free
			out.UsagePercent = u.Percent()
		}
		return out
	})
}

// Registration is the payload of registration_update: the license key.
type Registration struct {
	Type             string    `json:"type"`
	State            string    `json:"state"`
	GUID             string    `json:"guid,omitempty"`
	ServerName       string    `json:"server_name,omitempty"`
	Expiration       string    `json:"expiration"`
	UpdateExpiration string    `json:"update_expiration"`
	KeyFile          string    `json:"key_file,omitempty"`
	Timestamp        time.Time `json:"timestamp"`
}

func newRegistration() *collector {
	return varIniCollector(sdk.Info{
		Name:            "registration",
		Topic:           "registration_update",
		Description:     "the Unraid license: type, state, expiry (var.ini reg* keys)",
		DefaultInterval: 300 * time.Second,
		WatchPaths:      []string{unraid.VarIni},
	}, func(c *collector, g *unraid.Section) any {
		return registration(g, time.Now())
	})
}

func registration(g *unraid.Section, now time.Time) Registration {
	r := Registration{Type: strings.ToLower(g.String("regTy")), GUID: g.String("regGUID"),
		ServerName: g.String("NAME"), KeyFile: g.String("regFILE"), Timestamp: now}
	if r.Type == "" {
		r.Type = "unknown"
	}
	// regExp carries an expiry only for keys that expire (trial, the
	// update window of newer licenses); regTm is when the key was
	// issued/checked, so a perpetual key with a past regTm stays valid
	// (the reference agent calls it expired).
	exp := g.Int("regExp", 0)
	if exp > 0 {
		r.Expiration = time.Unix(exp, 0).UTC().Format(time.RFC3339)
	}
	r.UpdateExpiration = r.Expiration
	switch {
	case r.Type == "unknown" || strings.HasPrefix(r.Type, "e"): // "enokey", "eguid", "eblacklisted"…
		r.State = "invalid"
	case exp > 0 && exp < now.Unix():
		r.State = "expired"
	case r.Type == "trial":
		r.State = "trial"
	default:
		r.State = "valid"
	}
	return r
}

// OSUpdate is the payload of os_update_update.
type OSUpdate struct {
	CurrentVersion    string    `json:"current_version"`
	LatestVersion     string    `json:"latest_version,omitempty"`
	UpdateAvailable   bool      `json:"update_available"`
	OSUpdateAvailable bool      `json:"os_update_available"`
	Status            string    `json:"status"`
	Timestamp         time.Time `json:"timestamp"`
}

func newOSUpdate() *collector {
	c := newCollector(sdk.Info{
		Name:            "os_update",
		Topic:           "os_update_update",
		Description:     "the installed Unraid version and the newest one the webGui's update check found (no request of its own)",
		DefaultInterval: 300 * time.Second,
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		out := OSUpdate{Status: "unknown", Timestamp: time.Now()}
		out.CurrentVersion = versionIn(c, "etc/unraid-version", false)
		if out.CurrentVersion == "" {
			v, err := readIni(c, unraid.VarIni)
			if err != nil {
				return nil, err
			}
			out.CurrentVersion = v.Global.String("version")
		}
		for _, p := range []string{"tmp/unraidcheck/result", "var/local/emhttp/update.ini"} {
			if l := versionIn(c, p, true); l != "" {
				out.LatestVersion = l
				break
			}
		}
		if out.LatestVersion != "" && out.CurrentVersion != "" {
			out.UpdateAvailable = newerVersion(out.LatestVersion, out.CurrentVersion)
			out.OSUpdateAvailable = out.UpdateAvailable
			out.Status = "up_to_date"
			if out.UpdateAvailable {
				out.Status = "update_available"
			}
		}
		return out, nil
	}
	return c
}

// versionIn finds version="…" (any case) in a small file, or with bare a
// token starting with a digit and holding a dot.
func versionIn(c *collector, rel string, bare bool) string {
	b, err := readSmall(c.Path(rel), 256<<10)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Debug("read version", "file", rel, "error", err)
		}
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "version") {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	if bare {
		for _, tok := range strings.Fields(string(b)) {
			tok = strings.Trim(tok, `"',;`)
			if tok != "" && tok[0] >= '0' && tok[0] <= '9' && strings.Contains(tok, ".") {
				return tok
			}
		}
	}
	return ""
}

// newerVersion compares dotted versions numerically ("7.10.0" > "7.9.1");
// a suffix such as "-rc.1" counts only when the numbers are equal.
func newerVersion(a, b string) bool {
	na, sa, _ := strings.Cut(a, "-")
	nb, sb, _ := strings.Cut(b, "-")
	pa, pb := strings.Split(na, "."), strings.Split(nb, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x > y
		}
	}
	// 7.3.0 is newer than 7.3.0-rc.2; between two suffixes, compare text.
	switch {
	case sa == sb:
		return false
	case sa == "":
		return true
	case sb == "":
		return false
	}
	return sa > sb
}
