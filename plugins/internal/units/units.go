// Package units formats byte counts for the human-readable fields of the
// payloads (memory_display of containers and VMs), in one spelling for
// every plugin: IEC units with one decimal, "512.0 MiB / 2.0 GiB".
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var iec = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Bytes formats n with IEC units and one decimal: 0 → "0 B",
// 1536 → "1.5 KiB", 2147483648 → "2.0 GiB".
func Bytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(iec)-1 {
		v /= 1024
		i++
	}
	// Rounding to one decimal can reach 1024.0; move up one unit then.
	if v >= 1023.95 && i < len(iec)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, iec[i])
}

// Usage formats "used / limit", e.g. "512.0 MiB / 2.0 GiB".
func Usage(used, limit uint64) string {
	return Bytes(used) + " / " + Bytes(limit)
}

// Leading parses the number a value starts with, as tools print them:
// "229.5", "229.5 Volts", "1200.0 Minutes", "40 C", "5912 MiB". ok is false
// for "", "N/A", "[N/A]" and anything else that is not a finite number.
func Leading(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

var si = []string{"B/s", "KB/s", "MB/s", "GB/s", "TB/s"}

// Rate formats a transfer rate with decimal units and one decimal, as
// Unraid's webGUI shows the parity speed: 189952000 → "190.0 MB/s".
func Rate(bytesPerSec uint64) string {
	v := float64(bytesPerSec)
	i := 0
	for v >= 999.95 && i < len(si)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B/s", bytesPerSec)
	}
	return fmt.Sprintf("%.1f %s", v, si[i])
}

// Duration formats seconds as the webGUI's estimated finish, to the
// minute: 25274 → "7h 1m", 90061 → "1d 1h 1m", 42 → "42s".
func Duration(seconds int64) string {
	if seconds < 60 {
		return fmt.Sprintf("%ds", max(seconds, 0))
	}
	m := seconds / 60
	d, h := m/1440, m/60%24
	m %= 60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm", d, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
