package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// DiskThresholds is the payload of disk_thresholds_update.
type DiskThresholds struct {
	SpindownDelayMinutes       int64     `json:"spindown_delay_minutes"`
	StartArray                 bool      `json:"start_array"`
	SpinupGroups               bool      `json:"spinup_groups"`
	ShutdownTimeoutSeconds     *int64    `json:"shutdown_timeout_seconds,omitempty"`
	DefaultFilesystem          string    `json:"default_filesystem,omitempty"`
	HDDTempWarningCelsius      int64     `json:"hdd_temp_warning_celsius"`
	HDDTempCriticalCelsius     int64     `json:"hdd_temp_critical_celsius"`
	SSDTempWarningCelsius      int64     `json:"ssd_temp_warning_celsius"`
	SSDTempCriticalCelsius     int64     `json:"ssd_temp_critical_celsius"`
	WarningUtilizationPercent  int64     `json:"warning_utilization_percent"`
	CriticalUtilizationPercent int64     `json:"critical_utilization_percent"`
	NVMePowerMonitoring        bool      `json:"nvme_power_monitoring"`
	Timestamp                  time.Time `json:"timestamp"`
}

const diskCfg = "boot/config/disk.cfg"

func newDiskThresholds() *collector {
	c := newCollector(sdk.Info{
		Name:            "disk_thresholds",
		Topic:           "disk_thresholds_update",
		Description:     "disk settings and the temperature and usage warning thresholds (disk.cfg, dynamix.cfg [display])",
		DefaultInterval: 300 * time.Second,
		WatchPaths:      []string{diskCfg, unraid.DynamixCfg},
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		d, err := readIni(c, diskCfg)
		if err != nil {
			return nil, err
		}
		dyn, err := readIni(c, unraid.DynamixCfg)
		if err != nil {
			return nil, err
		}
		g, disp := d.Global, dyn.Section("display")
		temp := unraid.TempLimitsOf(disp)
		out := DiskThresholds{
			SpindownDelayMinutes:       g.Int("spindownDelay", 0),
			StartArray:                 yes(g.String("startArray")),
			SpinupGroups:               yes(g.String("spinupGroups")),
			DefaultFilesystem:          g.String("defaultFsType"),
			HDDTempWarningCelsius:      int64(temp.Warning),
			HDDTempCriticalCelsius:     int64(temp.Critical),
			SSDTempWarningCelsius:      int64(temp.SSDWarning),
			SSDTempCriticalCelsius:     int64(temp.SSDCritical),
			WarningUtilizationPercent:  positive(disp.Int("warning", 0), 70),
			CriticalUtilizationPercent: positive(disp.Int("critical", 0), 90),
			Timestamp:                  time.Now(),
		}
		if v := g.Int("shutdownTimeout", -1); v >= 0 {
			out.ShutdownTimeoutSeconds = &v
		}
		return out, nil
	}
	return c
}

func positive(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// Mover is the payload of mover_update (/mover; /settings/mover is its
// settings part).
type Mover struct {
	Active                 bool      `json:"active"`
	Schedule               string    `json:"schedule,omitempty"`
	Logging                bool      `json:"logging"`
	CacheFloorKB           int64     `json:"cache_floor_kb"`
	LastRunStart           string    `json:"last_run_start,omitempty"`
	LastRunFinish          string    `json:"last_run_finish,omitempty"`
	LastRunDurationSeconds int64     `json:"last_run_duration_seconds"`
	LastRunFilesMoved      int64     `json:"last_run_files_moved"`
	LastRunBytesMoved      int64     `json:"last_run_bytes_moved"`
	CurrentThroughputMBs   float64   `json:"current_throughput_mbs"`
	Timestamp              time.Time `json:"timestamp"`
}

const moverLog = "var/log/mover.log"

func newMover() *collector {
	return varIniCollector(sdk.Info{
		Name:            "mover",
		Topic:           "mover_update",
		Description:     "the mover: running, schedule, last run (var.ini, mover.pid, mover.log)",
		DefaultInterval: 30 * time.Second,
		WatchPaths:      []string{unraid.VarIni},
	}, func(c *collector, g *unraid.Section) any {
		out := Mover{
			Active:       yes(g.String("shareMoverActive")),
			Schedule:     g.String("shareMoverSchedule"),
			Logging:      yes(g.String("shareMoverLogging")),
			CacheFloorKB: g.Int("shareCacheFloor", 0),
			Timestamp:    time.Now(),
		}
		// The webGui's own test: a live mover.pid.
		if _, err := os.Stat(c.Path("var/run/mover.pid")); err == nil {
			out.Active = true
		}
		if err := lastMoverRun(c.Path(moverLog), &out); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Debug("read mover log", "error", err)
		}
		return out
	})
}

var moverDates = []string{"Mon Jan 2 15:04:05 MST 2006", "Mon Jan 2 15:04:05 2006", "2006-01-02 15:04:05", time.RFC3339}

// lastMoverRun reads the tail of mover.log: "Started (<date>)" opens a
// run, "Finished (<date>)" closes it, "N files" and "N bytes" count.
func lastMoverRun(p string, m *Mover) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	const tail = 128 << 10
	buf, err := io.ReadAll(io.NewSectionReader(f, max(st.Size()-tail, 0), tail))
	if err != nil {
		return err
	}
	var start, finish time.Time
	var files, bytesMoved int64
	var done bool
	sc := bufio.NewScanner(bytes.NewReader(buf))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "Started ("):
			start, finish, files, bytesMoved, done = moverDate(line), time.Time{}, 0, 0, false
		case strings.Contains(line, "Finished ("):
			finish, done = moverDate(line), true
		default:
			fs := strings.Fields(line)
			for i := 1; i < len(fs); i++ {
				n, err := strconv.ParseInt(fs[i-1], 10, 64)
				if err != nil {
					continue
				}
				switch strings.TrimRight(fs[i], ",.") {
				case "files":
					files = n
				case "bytes":
					bytesMoved = n
				}
			}
		}
	}
	if start.IsZero() {
		return nil
	}
	m.LastRunStart = rfc3339(start)
	m.LastRunFilesMoved, m.LastRunBytesMoved = files, bytesMoved
	if done && !finish.IsZero() {
		m.LastRunFinish = rfc3339(finish)
		m.LastRunDurationSeconds = int64(finish.Sub(start).Seconds())
	}
	return nil
}

func moverDate(line string) time.Time {
	i, j := strings.Index(line, "("), strings.LastIndex(line, ")")
	if i < 0 || j <= i {
		return time.Time{}
	}
	s := strings.Join(strings.Fields(line[i+1:j]), " ")
	for _, l := range moverDates {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// NetworkService is one service of /settings/network-services.
type NetworkService struct {
	Name        string `json:"name"`
	Enabled     bool   `json:"enabled"`
	Running     bool   `json:"running"`
	Port        int    `json:"port"`
	Description string `json:"description"`
}

type serviceDef struct {
	key, name, desc string
	enabled         func(g map[string]string, c *collector) bool
	procs           []string
	port            int
	portKey         string
}

func keyYes(keys ...string) func(map[string]string, *collector) bool {
	return func(g map[string]string, _ *collector) bool {
		for _, k := range keys {
			if yes(g[k]) {
				return true
			}
		}
		return false
	}
}

var serviceDefs = []serviceDef{
	{key: "smb", name: "SMB", desc: "Windows file sharing (Samba)", enabled: keyYes("shareSMBEnabled"), procs: []string{"smbd"}, port: 445},
	{key: "nfs", name: "NFS", desc: "Network File System", enabled: keyYes("shareNFSEnabled"), procs: []string{"nfsd", "rpc.nfsd"}, port: 2049},
	{key: "afp", name: "AFP", desc: "Apple Filing Protocol (removed in Unraid 6.9)", enabled: keyYes(), procs: []string{"netatalk", "afpd"}, port: 548},
	{key: "ftp", name: "FTP", desc: "FTP server", enabled: keyYes("FTP", "FTP_TELNET"), procs: []string{"vsftpd", "proftpd"}, port: 21},
	{key: "ssh", name: "SSH", desc: "secure shell", enabled: keyYes("USE_SSH"), procs: []string{"sshd"}, port: 22, portKey: "PORTSSH"},
	{key: "telnet", name: "Telnet", desc: "telnet server", enabled: keyYes("USE_TELNET"), procs: []string{"telnetd", "in.telnetd"}, port: 23, portKey: "PORTTELNET"},
	{key: "avahi", name: "Avahi", desc: "mDNS/Bonjour announcement", enabled: keyYes("shareAvahiEnabled"), procs: []string{"avahi-daemon"}, port: 5353},
	{key: "netbios", name: "NetBIOS", desc: "NetBIOS name service", enabled: keyYes("USE_NETBIOS"), procs: []string{"nmbd"}, port: 137},
	{key: "wsd", name: "WSD", desc: "Web Services Discovery", enabled: keyYes("USE_WSD"), procs: []string{"wsdd", "wsdd2"}, port: 3702},
	{key: "wireguard", name: "WireGuard", desc: "WireGuard VPN tunnels", enabled: func(_ map[string]string, c *collector) bool {
		m, _ := filepath.Glob(c.Path("boot/config/wireguard") + "/*.conf")
		return len(m) > 0
	}, port: 51820},
	{key: "upnp", name: "UPnP", desc: "UPnP port forwarding", enabled: keyYes("USE_UPNP"), procs: []string{"upnpd", "miniupnpd"}, port: 1900},
	{key: "ntp", name: "NTP", desc: "time synchronisation", enabled: keyYes("USE_NTP"), procs: []string{"ntpd", "chronyd"}, port: 123},
	{key: "syslog", name: "Syslog", desc: "remote syslog server (rsyslog imudp/imtcp)", enabled: func(_ map[string]string, c *collector) bool {
		b, _ := readSmall(c.Path("etc/rsyslog.conf"), 1<<20)
		return bytes.Contains(b, []byte("imudp")) || bytes.Contains(b, []byte("imtcp"))
	}, procs: []string{"rsyslogd"}, port: 514},
}

func newNetworkServices() *collector {
	c := newCollector(sdk.Info{
		Name:            "network_services",
		Topic:           "network_services_update",
		Description:     "network services (SMB, NFS, SSH, …): enabled in the settings and running",
		DefaultInterval: 60 * time.Second,
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		// Later files win: ident.cfg, Tips and Tweaks, var.ini.
		settings := map[string]string{}
		for _, rel := range []string{"boot/config/ident.cfg", "boot/config/plugins/tips.and.tweaks/tips.and.tweaks.cfg", unraid.VarIni} {
			f, err := readIni(c, rel)
			if err != nil {
				log.Debug("read settings", "file", rel, "error", err)
				continue
			}
			for _, k := range f.Global.Keys() {
				settings[k] = f.Global.String(k)
			}
		}
		procs := processNames(c.Path("proc"))
		wg, _ := filepath.Glob(c.Path("sys/class/net") + "/wg*")
		out := map[string]any{}
		enabled, running := 0, 0
		for _, d := range serviceDefs {
			s := NetworkService{Name: d.name, Description: d.desc, Enabled: d.enabled(settings, c), Port: d.port}
			if d.portKey != "" {
				if p, err := strconv.Atoi(settings[d.portKey]); err == nil && p > 0 && p < 65536 {
					s.Port = p
				}
			}
			for _, p := range d.procs {
				s.Running = s.Running || procs[p]
			}
			if d.key == "wireguard" {
				s.Running = len(wg) > 0
			}
			if s.Enabled {
				enabled++
			}
			if s.Running {
				running++
			}
			out[d.key] = s
		}
		out["syslog_server"] = out["syslog"]
		out["total_services"] = len(serviceDefs)
		out["enabled_services"], out["services_enabled"] = enabled, enabled
		out["running_services"], out["services_running"] = running, running
		out["timestamp"] = time.Now()
		return out, nil
	}
	return c
}

// processNames is the set of /proc/<pid>/comm values under proc.
func processNames(proc string) map[string]bool {
	out := map[string]bool{}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if n := e.Name(); n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		if b, err := os.ReadFile(proc + "/" + e.Name() + "/comm"); err == nil {
			out[strings.TrimSpace(string(b))] = true
		}
	}
	return out
}
