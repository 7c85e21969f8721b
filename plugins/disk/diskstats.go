package main

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// ioStat is one line of /proc/diskstats.
type ioStat struct {
	ReadOps, ReadSectors   uint64
	WriteOps, WriteSectors uint64
	IOTicksMs              uint64
}

// parseDiskstats reads /proc/diskstats: major minor name, then reads
// completed, reads merged, sectors read, ms reading, writes completed,
// writes merged, sectors written, ms writing, I/Os in progress, ms doing
// I/O (io_ticks), ... Sectors are 512 bytes whatever the device's sector
// size. Lines that do not parse are skipped.
func parseDiskstats(data []byte) map[string]ioStat {
	out := map[string]ioStat{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 13 {
			continue
		}
		var n [10]uint64
		ok := true
		for i := range n {
			v, err := strconv.ParseUint(f[3+i], 10, 64)
			if err != nil {
				ok = false
				break
			}
			n[i] = v
		}
		if !ok {
			continue
		}
		out[f[2]] = ioStat{ReadOps: n[0], ReadSectors: n[2], WriteOps: n[4], WriteSectors: n[6], IOTicksMs: n[9]}
	}
	return out
}
