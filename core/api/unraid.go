package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// The routes of this file are the Unraid controls and settings the Home
// Assistant integration calls beyond the monitoring payloads
// (docs/rest-extended.md): array start/stop and clear statistics
// (forwarded to the array plugin, which talks to emhttpd), reboot and
// shutdown (run here, only when the user enabled power actions), Docker
// and VM service settings read from the flash, and Docker port conflicts
// derived from the cached container list.

// Host is what the core-side Unraid routes need from the agent.
type Host struct {
	// Root is the Unraid state root ("/" on a server).
	Root string
	// PowerActions reports whether reboot and shutdown are allowed (the
	// "power_actions" setting); nil means never.
	PowerActions func() bool
	// SettingsFile names the settings file, for the message telling the
	// user how to enable power actions.
	SettingsFile string
}

// SetHost gives the Unraid routes the host's root and settings; without
// it they read under "/" and power actions stay disabled.
func (s *Server) SetHost(h Host) {
	s.hostMu.Lock()
	s.host = h
	s.hostMu.Unlock()
}

func (s *Server) hostInfo() Host {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	h := s.host
	if h.Root == "" {
		h.Root = "/"
	}
	return h
}

// hostState is embedded in Server.
type hostState struct {
	hostMu sync.Mutex
	host   Host
}

func (s *Server) unraidRoutes(r prefixed) {
	// Before GET /docker/{id}, which would take "port-conflicts" for an id.
	r.HandleFunc("/docker/port-conflicts", s.portConflicts).Methods(http.MethodGet)
	r.HandleFunc("/docker/updates", dockerUpdates).Methods(http.MethodGet)
	r.HandleFunc("/settings/docker", s.dockerSettings).Methods(http.MethodGet)
	r.HandleFunc("/settings/vm", s.vmSettings).Methods(http.MethodGet)
	// The array's actions other than parity-check-*: array-start is
	// POST /array/start, clear-disk-stats POST /array/clear-disk-stats.
	for _, a := range catalog.ActionsOf("array") {
		if !strings.HasPrefix(a, parityPrefix) {
			r.HandleFunc("/array/"+strings.TrimPrefix(a, "array-"), s.arrayControl(a)).Methods(http.MethodPost)
		}
	}
	r.HandleFunc("/system/reboot", s.power("reboot")).Methods(http.MethodPost)
	r.HandleFunc("/system/shutdown", s.power("shutdown")).Methods(http.MethodPost)
}

// arrayControl forwards POST /array/{start,stop,clear-disk-stats} to the
// array plugin's action name. clear-disk-stats takes Home Assistant's
// {"confirm":true}.
func (s *Server) arrayControl(name string) http.HandlerFunc {
	action := strings.TrimPrefix(name, "array-")
	return func(w http.ResponseWriter, r *http.Request) {
		params, raw, code, err := actionParams(r)
		if err != nil {
			writeError(w, code, err.Error())
			return
		}
		for k := range params {
			if k != "confirm" || action != "clear-disk-stats" {
				writeError(w, http.StatusBadRequest, "parameter "+quoteForMessage(k)+" not accepted by /array/"+action)
				return
			}
			if confirm, _ := raw["confirm"].(bool); !confirm {
				writeError(w, http.StatusBadRequest, `clear-disk-stats: confirm must be true when given`)
				return
			}
		}
		s.forward(w, r, "array", sdk.Action{Name: name, Params: params}, nil)
	}
}

// Unraid's clean power path: its /sbin/reboot and /sbin/poweroff run
// rc.6, which stops the array (and with it Docker and VMs) before the
// machine goes down, as the webGUI's buttons do.
var powerCommands = map[string]struct{ path, done string }{
	"reboot":   {"sbin/reboot", "Server reboot initiated"},
	"shutdown": {"sbin/poweroff", "Server shutdown initiated"},
}

const powerTimeout = 60 * time.Second

// power serves POST /system/reboot and /system/shutdown: refused (403)
// unless the user turned power actions on, so that a dashboard button
// cannot power a server off by surprise.
func (s *Server) power(action string) http.HandlerFunc {
	cmd := powerCommands[action]
	return func(w http.ResponseWriter, r *http.Request) {
		h := s.hostInfo()
		if h.PowerActions == nil || !h.PowerActions() {
			file := h.SettingsFile
			if file == "" {
				file = "the settings file"
			}
			writeError(w, http.StatusForbidden, action+` is disabled: power actions are off by default. To allow reboot and shutdown through the API, set "power_actions": true in `+file+` and restart towerd`)
			return
		}
		if _, _, code, err := actionParams(r); err != nil {
			writeError(w, code, err.Error())
			return
		}
		path := filepath.Join(h.Root, cmd.path)
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			writeError(w, http.StatusServiceUnavailable, action+": "+path+" not found (not an Unraid host)")
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), powerTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, path).CombinedOutput()
		if err != nil {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s: %s: %v %s", action, path, err, bytes.TrimSpace(out)))
			return
		}
		writeAction(w, cmd.done)
	}
}

// flatCfg reads a flat KEY="value" file of the flash (docker.cfg,
// domain.cfg). The plugins' ini parser lives in plugins/internal, which
// the core cannot import; these two files need nothing more than this.
func flatCfg(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, sc.Err()
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// DockerSettings is GET /settings/docker: Unraid's Docker service
// setting, not towerd's collector.
type DockerSettings struct {
	Enabled        bool     `json:"enabled"`
	ImagePath      string   `json:"image_path"`
	DefaultNetwork string   `json:"default_network"`
	CustomNetworks []string `json:"custom_networks"`
	Timestamp      string   `json:"timestamp"`
}

// VMSettings is GET /settings/vm.
type VMSettings struct {
	Enabled         bool              `json:"enabled"`
	PCIDevices      []string          `json:"pci_devices"`
	USBDevices      []string          `json:"usb_devices"`
	DefaultSettings map[string]string `json:"default_settings"`
	Timestamp       string            `json:"timestamp"`
}

// dockerSettings reads <root>/boot/config/docker.cfg; a host without it
// answers as Unraid with the service off.
func (s *Server) dockerSettings(w http.ResponseWriter, _ *http.Request) {
	cfg, err := flatCfg(filepath.Join(s.hostInfo().Root, "boot/config/docker.cfg"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusInternalServerError, "read docker.cfg: "+err.Error())
		return
	}
	en := strings.ToLower(cfg["DOCKER_ENABLED"])
	writeJSON(w, http.StatusOK, DockerSettings{
		Enabled:   en == "yes" || en == "true" || en == "1",
		ImagePath: cfg["DOCKER_IMAGE_FILE"], DefaultNetwork: cfg["DOCKER_DEFAULT_NETWORK"],
		CustomNetworks: splitList(cfg["DOCKER_CUSTOM_NETWORKS"]), Timestamp: time.Now().Format(time.RFC3339),
	})
}

// vmSettings reads <root>/boot/config/domain.cfg (SERVICE="enable").
func (s *Server) vmSettings(w http.ResponseWriter, _ *http.Request) {
	cfg, err := flatCfg(filepath.Join(s.hostInfo().Root, "boot/config/domain.cfg"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusInternalServerError, "read domain.cfg: "+err.Error())
		return
	}
	en := strings.ToLower(cfg["SERVICE"])
	rest := map[string]string{}
	for k, v := range cfg {
		if k != "SERVICE" && k != "PCI_DEVICES" && k != "USB_DEVICES" {
			rest[k] = v
		}
	}
	writeJSON(w, http.StatusOK, VMSettings{
		Enabled:    en == "enable" || en == "enabled",
		PCIDevices: splitList(cfg["PCI_DEVICES"]), USBDevices: splitList(cfg["USB_DEVICES"]),
		DefaultSettings: rest, Timestamp: time.Now().Format(time.RFC3339),
	})
}

// PortConflict is one item of GET /docker/port-conflicts: a host port
// published by two or more running containers.
type PortConflict struct {
	HostPort             int      `json:"host_port"`
	Protocol             string   `json:"protocol"`
	Containers           []string `json:"containers"`
	ContainerName        string   `json:"container_name"`
	ConflictingContainer string   `json:"conflicting_container"`
}

// portConflicts derives the conflicts from the cached container list: no
// call to Docker, no plugin.
func (s *Server) portConflicts(w http.ResponseWriter, _ *http.Request) {
	out := []PortConflict{}
	ev, ok := s.bus.Latest(schema.TopicContainers)
	if !ok {
		writeJSON(w, http.StatusOK, out)
		return
	}
	var list []struct {
		Name  string `json:"name"`
		State string `json:"state"`
		Ports []struct {
			HostPort int    `json:"host_port"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	}
	if err := json.Unmarshal(ev.Data, &list); err != nil {
		writeError(w, http.StatusInternalServerError, "container list: "+err.Error())
		return
	}
	type hostPort struct {
		port  int
		proto string
	}
	byKey := map[hostPort]map[string]bool{}
	for _, c := range list {
		if c.State != "running" {
			continue
		}
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			key := hostPort{p.HostPort, p.Protocol}
			if byKey[key] == nil {
				byKey[key] = map[string]bool{}
			}
			byKey[key][c.Name] = true
		}
	}
	for key, names := range byKey {
		if len(names) < 2 {
			continue
		}
		pc := PortConflict{HostPort: key.port, Protocol: key.proto}
		for name := range names {
			pc.Containers = append(pc.Containers, name)
		}
		sort.Strings(pc.Containers)
		pc.ContainerName, pc.ConflictingContainer = pc.Containers[0], pc.Containers[1]
		out = append(out, pc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].HostPort != out[j].HostPort {
			return out[i].HostPort < out[j].HostPort
		}
		return out[i].Protocol < out[j].Protocol
	})
	writeJSON(w, http.StatusOK, out)
}

// dockerUpdates answers GET /docker/updates with a clear 404: towerd does
// not check images for updates, which needs a registry to compare digests
// with (docs/rest-extended.md). Home Assistant polls the path only with its
// opt-in "container updates" option and mutes this 404; without the route
// the path fell through to GET /docker/{id} and read "no item with id
// \"updates\"".
func dockerUpdates(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "container image update checks are not available in towerd (they need a registry to compare image digests with)")
}
