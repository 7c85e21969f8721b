package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

const (
	parityLog  = "boot/config/parity-checks.log"
	parityCron = "boot/config/plugins/dynamix/parity-check.cron"
	// The history is the log's tail: a line is ~80 bytes, so 256 KiB hold
	// thousands of checks (decades of monthly ones) while a log grown to
	// any size costs one seek and one bounded read.
	parityTailBytes = 256 << 10
	maxParityRecord = 1000
)

// ParityRecord is one finished parity operation.
type ParityRecord struct {
	Date            string  `json:"date"`
	DurationSeconds int64   `json:"duration_seconds"`
	SpeedMBps       float64 `json:"speed_mbps"`
	Status          string  `json:"status"`
	Errors          int64   `json:"errors"`
	Action          string  `json:"action"`
	SizeBytes       int64   `json:"size_bytes"`
}

// ParityHistory is the payload of parity_history_update.
type ParityHistory struct {
	Records   []ParityRecord `json:"records"`
	Truncated bool           `json:"truncated,omitempty"`
	Timestamp time.Time      `json:"timestamp"`
}

func newParityHistory() *collector {
	c := newCollector(sdk.Info{
		Name:            "parity_history",
		Topic:           "parity_history_update",
		Description:     "finished parity checks from parity-checks.log",
		DefaultInterval: 60 * time.Second,
		WatchPaths:      []string{parityLog},
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		recs, truncated, err := readParityLog(c.Path(parityLog))
		if err != nil {
			return nil, err
		}
		return ParityHistory{Records: recs, Truncated: truncated, Timestamp: time.Now()}, nil
	}
	return c
}

// readParityLog reads the last records of the log, oldest first. truncated
// tells that older lines were left out.
func readParityLog(p string) ([]ParityRecord, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return []ParityRecord{}, false, nil
		}
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is not a regular file", p)
	}
	off := max(st.Size()-parityTailBytes, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, off, parityTailBytes))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	truncated := off > 0
	if truncated { // drop the partial first line
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	recs := []ParityRecord{}
	sc := bufio.NewScanner(bytes.NewReader(buf))
	sc.Buffer(make([]byte, 0, 4096), parityTailBytes)
	for sc.Scan() {
		if r, ok := parseParityLine(sc.Text()); ok {
			recs = append(recs, r)
		}
	}
	if len(recs) > maxParityRecord {
		recs, truncated = recs[len(recs)-maxParityRecord:], true
	}
	return recs, truncated, nil
}

// parseParityLine reads `2025 Jan  5 03:00:01|duration|speed|exit|errors[|action|size]`.
func parseParityLine(line string) (ParityRecord, bool) {
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 5 {
		return ParityRecord{}, false
	}
	when, err := time.Parse("2006 Jan 2 15:04:05", strings.Join(strings.Fields(f[0]), " "))
	if err != nil {
		return ParityRecord{}, false
	}
	r := ParityRecord{Date: when.Format(time.RFC3339), Action: "Parity-Check"}
	r.DurationSeconds, _ = strconv.ParseInt(strings.TrimSpace(f[1]), 10, 64)
	r.SpeedMBps = parseSpeed(f[2])
	r.Errors, _ = strconv.ParseInt(strings.TrimSpace(f[4]), 10, 64)
	exit := strings.TrimSpace(f[3])
	switch exit {
	case "0":
		r.Status = "OK"
		if r.Errors > 0 {
			r.Status = fmt.Sprintf("%d errors", r.Errors)
		}
	case "-4":
		r.Status = "Canceled"
	default:
		r.Status = "Exit code " + exit
	}
	if len(f) >= 7 {
		r.Action = parityAction(strings.TrimSpace(f[5]))
		r.SizeBytes, _ = strconv.ParseInt(strings.TrimSpace(f[6]), 10, 64)
	}
	return r, true
}

func parityAction(a string) string {
	switch {
	case strings.HasPrefix(a, "check P Q"):
		return "Dual Parity-Check"
	case strings.HasPrefix(a, "check"):
		return "Parity-Check"
	case strings.HasPrefix(a, "recon P Q"):
		return "Dual Parity-Sync"
	case strings.HasPrefix(a, "recon"):
		return "Parity-Sync"
	case strings.HasPrefix(a, "clear"):
		return "Parity-Clear"
	}
	return a
}

// parseSpeed gives MB/s from a plain B/s number or "N UNIT/s".
func parseSpeed(s string) float64 {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return unraid.Round2(v / (1 << 20))
	}
	num, unit, ok := strings.Cut(s, " ")
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	mult := map[string]float64{"B/s": 1.0 / (1 << 20), "KB/s": 1.0 / 1024, "MB/s": 1, "GB/s": 1024, "TB/s": 1 << 20}[strings.TrimSpace(unit)]
	return unraid.Round2(v * mult)
}

// ParitySchedule is the payload of parity_schedule_update.
type ParitySchedule struct {
	Mode          string    `json:"mode"`
	Enabled       bool      `json:"enabled"`
	Day           int64     `json:"day"`
	Hour          int64     `json:"hour"`
	Minute        int64     `json:"minute"`
	DayOfMonth    int64     `json:"day_of_month"`
	Month         int64     `json:"month"`
	Frequency     int64     `json:"frequency"`
	DurationHours int64     `json:"duration_hours"`
	Cumulative    bool      `json:"cumulative"`
	Correcting    bool      `json:"correcting"`
	Cron          string    `json:"cron,omitempty"`
	CheckCron     string    `json:"check_cron,omitempty"`
	PauseHour     *int64    `json:"pause_hour,omitempty"`
	ResumeHour    *int64    `json:"resume_hour,omitempty"`
	Timestamp     time.Time `json:"timestamp"`
}

var parityModes = map[string]string{"0": "disabled", "1": "daily", "2": "weekly", "3": "monthly", "4": "yearly", "5": "custom"}

func newParitySchedule() *collector {
	c := newCollector(sdk.Info{
		Name:            "parity_schedule",
		Topic:           "parity_schedule_update",
		Description:     "the parity check schedule: dynamix.cfg [parity] and parity-check.cron",
		DefaultInterval: 300 * time.Second,
		WatchPaths:      []string{unraid.DynamixCfg, parityCron},
	}, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		f, err := readIni(c, unraid.DynamixCfg)
		if err != nil {
			return nil, err
		}
		s := paritySchedule(f.Section("parity"))
		cron, err := readSmall(c.Path(parityCron), 64<<10)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		applyParityCron(&s, string(cron))
		s.Timestamp = time.Now()
		return s, nil
	}
	return c
}

func paritySchedule(p *unraid.Section) ParitySchedule {
	s := ParitySchedule{Mode: "manual", Correcting: true}
	if m, ok := parityModes[p.String("mode")]; ok {
		s.Mode = m
	}
	s.Enabled = s.Mode != "manual" && s.Mode != "disabled"
	s.Day = p.Int("day", 0)
	if m, h, ok := strings.Cut(strings.TrimSpace(p.String("hour")), " "); ok {
		s.Minute, _ = strconv.ParseInt(m, 10, 64)
		s.Hour, _ = strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	} else {
		s.Hour = p.Int("hour", 0)
	}
	s.DayOfMonth = p.Int("dotm", 0)
	s.Month = p.Int("month", 0)
	s.Frequency = p.Int("frequency", 0)
	s.DurationHours = p.Int("duration", 0)
	s.Cumulative = yes(p.String("cumulative"))
	if w, ok := p.Get("write"); ok {
		s.Correcting = w == "" || w == "CORRECT"
	}
	s.Cron = p.String("cron")
	return s
}

// applyParityCron reads the cron lines the webGui writes for the schedule:
// the check line, and the pause and resume lines of an incremental check.
func applyParityCron(s *ParitySchedule, cron string) {
	for _, line := range strings.Split(cron, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "#") {
			continue
		}
		rest := strings.Join(f[5:], " ")
		hour, err := strconv.ParseInt(f[1], 10, 64)
		switch {
		case strings.Contains(rest, "resume"):
			if err == nil {
				s.ResumeHour = &hour
			}
		case strings.Contains(rest, "pause"):
			if err == nil {
				s.PauseHour = &hour
			}
		case strings.Contains(rest, "mdcmd check") && s.CheckCron == "":
			s.CheckCron = strings.Join(f[:5], " ")
		}
	}
}
