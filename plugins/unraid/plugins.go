package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/towerd/towerd/sdk"
)

// PluginInfo is one installed Unraid plugin (.plg).
type PluginInfo struct {
	Name            string `json:"name"`
	File            string `json:"file"`
	Version         string `json:"version"`
	Author          string `json:"author"`
	Enabled         bool   `json:"enabled"`
	URL             string `json:"url,omitempty"`
	SupportURL      string `json:"support_url,omitempty"`
	Icon            string `json:"icon,omitempty"`
	UpdateAvailable bool   `json:"update_available"`
	LatestVersion   string `json:"latest_version,omitempty"`
}

// PluginList is the payload of plugins_update.
type PluginList struct {
	Plugins            []PluginInfo `json:"plugins"`
	TotalCount         int          `json:"total_count"`
	TotalPlugins       int          `json:"total_plugins"`
	UpdatesAvailable   int          `json:"updates_available"`
	PluginsWithUpdates int          `json:"plugins_with_updates"`
	Timestamp          time.Time    `json:"timestamp"`
}

const maxPlugins = 500

func newPlugins() *collector {
	c := newCollector(sdk.Info{
		Name:            "plugins",
		Topic:           "plugins_update",
		Description:     "installed Unraid plugins (.plg) and whether the last update check found a newer version",
		DefaultInterval: 300 * time.Second,
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		files, err := filepath.Glob(c.Path("boot/config/plugins") + "/*.plg")
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) > maxPlugins {
			files = files[:maxPlugins]
		}
		out := PluginList{Plugins: []PluginInfo{}, Timestamp: time.Now()}
		for _, f := range files {
			p, ok := readPlg(f)
			if !ok {
				continue
			}
			// /tmp/plugins/<file> is what `plugin check` downloaded.
			if latest, ok := readPlg(c.Path("tmp/plugins/" + filepath.Base(f))); ok && latest.Version != "" && latest.Version != p.Version {
				p.UpdateAvailable, p.LatestVersion = true, latest.Version
				out.UpdatesAvailable++
			}
			out.Plugins = append(out.Plugins, p)
		}
		out.TotalCount, out.TotalPlugins = len(out.Plugins), len(out.Plugins)
		out.PluginsWithUpdates = out.UpdatesAvailable
		return out, nil
	}
	return c
}

var plgEntity = regexp.MustCompile(`<!ENTITY\s+(\w+)\s+"([^"]*)"`)

// readPlg reads the entities of a .plg's DOCTYPE: the lines up to "]>".
func readPlg(path string) (PluginInfo, bool) {
	f, err := os.Open(path)
	if err != nil {
		return PluginInfo{}, false
	}
	defer f.Close()
	p := PluginInfo{Name: strings.TrimSuffix(filepath.Base(path), ".plg"), File: filepath.Base(path), Enabled: true}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var pairs []string // &name; → value, for entities that use others
	for n := 0; sc.Scan() && n < 200; n++ {
		line := sc.Text()
		for _, m := range plgEntity.FindAllStringSubmatch(line, -1) {
			v := strings.NewReplacer(pairs...).Replace(m[2])
			pairs = append(pairs, "&"+m[1]+";", v)
			switch strings.ToLower(m[1]) {
			case "name":
				p.Name = v
			case "version":
				p.Version = v
			case "author":
				p.Author = v
			case "pluginurl":
				p.URL = v
			case "support", "supporturl":
				p.SupportURL = v
			case "icon":
				p.Icon = v
			}
		}
		if strings.Contains(line, "]>") {
			break
		}
	}
	return p, true
}
