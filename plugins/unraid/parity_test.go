package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
)

func TestParityHistoryFixture(t *testing.T) {
	c := configured(t, newParityHistory(), fixture(t), nil)
	var got ParityHistory
	collectInto(t, c, &got)
	if len(got.Records) != 6 || got.Truncated {
		t.Fatalf("%d records (truncated %v), want 6", len(got.Records), got.Truncated)
	}
	want := []ParityRecord{
		{Date: "2025-06-01T03:12:44Z", DurationSeconds: 50732, SpeedMBps: 157.7, Status: "OK", Action: "Dual Parity-Check", SizeBytes: 7814026584},
		{Date: "2025-08-01T03:05:51Z", DurationSeconds: 49877, SpeedMBps: 160.4, Status: "Canceled", Action: "Dual Parity-Check", SizeBytes: 7814026584},
		{Date: "2025-09-01T03:01:37Z", DurationSeconds: 50912, SpeedMBps: 157.1, Status: "2 errors", Errors: 2, Action: "Dual Parity-Check", SizeBytes: 7814026584},
		{Date: "2025-10-01T01:30:00Z", DurationSeconds: 64812, SpeedMBps: 126, Status: "OK", Action: "Parity-Sync", SizeBytes: 7814026584},
	}
	for i, idx := range []int{0, 2, 3, 4} {
		if got.Records[idx] != want[i] {
			t.Errorf("record %d = %+v\nwant %+v", idx, got.Records[idx], want[i])
		}
	}
}

func TestParseParityLine(t *testing.T) {
	for _, tc := range []struct {
		line   string
		ok     bool
		speed  float64
		status string
		action string
	}{
		{"2024 Jan  5 03:00:01|100|104857600|0|0", true, 100, "OK", "Parity-Check"},
		{"2024 Jan 5 03:00:01|100|Unavailable|1|0|clear|1", true, 0, "Exit code 1", "Parity-Clear"},
		{"2024 Jan 5 03:00:01|100|1.5 GB/s|0|0|recon P Q|1", true, 1536, "OK", "Dual Parity-Sync"},
		{"2024 Jan 5 03:00:01|100|0|0", false, 0, "", ""},
		{"not a date|1|2|3|4", false, 0, "", ""},
		{"", false, 0, "", ""},
	} {
		r, ok := parseParityLine(tc.line)
		if ok != tc.ok || ok && (r.SpeedMBps != tc.speed || r.Status != tc.status || r.Action != tc.action) {
			t.Errorf("%q: %+v %v", tc.line, r, ok)
		}
	}
}

// A 10 MB log is read from its tail: one bounded read, the newest records.
func TestParityHistoryHugeLog(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	start := time.Date(1990, 1, 1, 3, 0, 0, 0, time.UTC)
	n := 0
	for b.Len() < 10<<20 {
		fmt.Fprintf(&b, "%s|50000|157.7 MB/s|0|%d|check P|7814026584\n", start.Add(time.Duration(n)*time.Hour).Format("2006 Jan _2 15:04:05"), n)
		n++
	}
	unraidtest.WriteFile(t, root, parityLog, b.String())
	c := configured(t, newParityHistory(), root, nil)
	var got ParityHistory
	payload := collectInto(t, c, &got)
	if !got.Truncated || len(got.Records) != maxParityRecord {
		t.Fatalf("%d records, truncated %v; want the newest %d", len(got.Records), got.Truncated, maxParityRecord)
	}
	if last := got.Records[len(got.Records)-1]; last.Errors != int64(n-1) {
		t.Errorf("last record has errors=%d, want the file's last line (%d)", last.Errors, n-1)
	}
	if len(payload) > 512<<10 {
		t.Errorf("payload of %d bytes from a 10 MB log", len(payload))
	}
}

func TestParitySchedule(t *testing.T) {
	c := configured(t, newParitySchedule(), fixture(t), nil)
	var got ParitySchedule
	collectInto(t, c, &got)
	if got.Mode != "monthly" || !got.Enabled || got.Hour != 1 || got.Minute != 30 || got.DayOfMonth != 1 ||
		got.Correcting || !got.Cumulative || got.CheckCron != "30 1 1 * *" {
		t.Errorf("schedule = %+v", got)
	}
	if got.PauseHour == nil || *got.PauseHour != 6 || got.ResumeHour == nil || *got.ResumeHour != 1 {
		t.Errorf("pause/resume hours = %v/%v, want 6/1", got.PauseHour, got.ResumeHour)
	}
	// No settings at all: manual, correcting by default.
	c = configured(t, newParitySchedule(), t.TempDir(), nil)
	got = ParitySchedule{}
	collectInto(t, c, &got)
	if got.Mode != "manual" || got.Enabled || !got.Correcting {
		t.Errorf("defaults = %+v", got)
	}
}
