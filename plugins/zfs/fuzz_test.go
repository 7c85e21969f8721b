package main

import (
	"strings"
	"testing"
)

// zpool status and arcstats text never panics the parsers.

func FuzzParseStatus(f *testing.F) {
	f.Add("  pool: tank\n state: ONLINE\n  scan: scrub repaired 0B in 00:12:41 with 0 errors on Sun Nov  2 00:12:42 2025\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n\ttank ONLINE 0 0 0\n\t  mirror-0 ONLINE 0 0 0\n\t    sda ONLINE 0 0 0\n\nerrors: No known data errors\n")
	f.Add("  pool: tank\nconfig:\n\t    orphan ONLINE\n\tlogs\n\t  x\nerrors: Permanent errors\n  /a\n")
	f.Fuzz(func(t *testing.T, text string) {
		pools := map[string]*Pool{"tank": {Name: "tank"}}
		parseStatus(strings.Split(text, "\n"), pools)
		if p := pools["tank"]; p.CorruptedFiles != len(p.CorruptedFilePaths) {
			t.Errorf("corrupted_files %d but %d paths", p.CorruptedFiles, len(p.CorruptedFilePaths))
		}
	})
}

func FuzzParseARC(f *testing.F) {
	f.Add([]byte("13 1 0x01 147 39984 5079571387 1151432748573218\nname type data\nhits 4 10\nmisses 4 0\nc_max 4 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a ARC
		parseARC(b, &a)
		if a.HitRatioPercent < 0 || a.HitRatioPercent > 100 && a.Hits >= 0 && a.Misses >= 0 {
			t.Errorf("hit ratio %v from hits %d misses %d", a.HitRatioPercent, a.Hits, a.Misses)
		}
	})
}
