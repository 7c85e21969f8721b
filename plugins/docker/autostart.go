package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// autostartFile is where Unraid's Docker manager keeps the containers to
// start with the array: one name per line, optionally followed by a
// start delay ("plex 30").
const autostartFile = "var/lib/docker/unraid-autostart"

// autostartNames reads the Unraid autostart list under the configured root.
// It returns nil when the file does not exist (not Unraid): autostart then
// follows the restart policy.
func (c *collector) autostartNames() map[string]bool {
	if c.root == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.root, autostartFile))
	if err != nil {
		return nil
	}
	return parseAutostart(b)
}

// parseAutostart parses the unraid-autostart format. Never nil.
func parseAutostart(b []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		names[f[0]] = true
	}
	return names
}
