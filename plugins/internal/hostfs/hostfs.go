// Package hostfs locates and reads the kernel's /proc and /sys files for
// the built-in plugins. It honours gopsutil's HOST_PROC and HOST_SYS
// variables, so a test can point a plugin and gopsutil at one fixture tree.
package hostfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sys joins elem under the sysfs root (HOST_SYS, default /sys).
func Sys(elem ...string) string { return under("HOST_SYS", "/sys", elem) }

// Proc joins elem under the procfs root (HOST_PROC, default /proc).
func Proc(elem ...string) string { return under("HOST_PROC", "/proc", elem) }

func under(env, def string, elem []string) string {
	root := os.Getenv(env)
	if root == "" {
		root = def
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// String returns the trimmed content of a small file, or "" if it cannot
// be read (a missing attribute is normal in sysfs).
func String(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Int returns the file's content as an integer; ok is false if the file is
// missing or holds no integer.
func Int(path string) (int64, bool) {
	n, err := strconv.ParseInt(String(path), 10, 64)
	return n, err == nil
}

// UnescapeMount decodes the octal escapes the kernel writes in
// /proc/mounts fields (\040 for a space, \011 tab, \012 newline, \134
// backslash); anything that is not a valid escape stays as it is.
func UnescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
