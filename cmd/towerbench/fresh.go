package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Freshness is how fast a change of one of Unraid's state files reaches a
// WebSocket client: from just before the write to the first event of the
// collector's topic that carries the new value.
type Freshness struct {
	Case    string  `json:"case"`
	Topic   string  `json:"topic"`
	Changes int     `json:"changes"`
	Missed  int     `json:"missed"` // no event with the value within the timeout
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

// freshCase changes one field of one state file back and forth.
type freshCase struct {
	file, topic string
	field       string    // as written in the file, e.g. `mdState="%s"`
	values      [2]string // the field's value in the fixture first
	check       func(data json.RawMessage, value string) bool
}

var freshCases = []freshCase{
	{file: "var.ini", topic: "array_status_update", field: `mdState="%s"`, values: [2]string{"STARTED", "STOPPED"},
		check: func(d json.RawMessage, v string) bool {
			var a struct {
				State string `json:"state"`
			}
			return json.Unmarshal(d, &a) == nil && strings.EqualFold(a.State, v)
		}},
	{file: "disks.ini", topic: "disk_list_update", field: `temp="%s"`, values: [2]string{"34", "35"},
		check: func(d json.RawMessage, v string) bool {
			var disks []struct {
				Name string  `json:"name"`
				Temp float64 `json:"temperature_celsius"`
			}
			if json.Unmarshal(d, &disks) != nil {
				return false
			}
			for _, x := range disks {
				if x.Name == "parity" { // the first temp= of disks.ini
					return fmt.Sprint(x.Temp) == v
				}
			}
			return false
		}},
	{file: "shares.ini", topic: "share_list_update", field: `comment="%s"`, values: [2]string{"Application data", "Application data (changed)"},
		check: func(d json.RawMessage, v string) bool {
			var shares []struct {
				Name    string `json:"name"`
				Comment string `json:"comment"`
			}
			if json.Unmarshal(d, &shares) != nil {
				return false
			}
			for _, s := range shares {
				if s.Name == "appdata" { // the first comment= of shares.ini
					return s.Comment == v
				}
			}
			return false
		}},
}

// freshPhase changes each file o.freshChanges times in place (truncate and
// write, as emhttpd does) and as many times by writing a temporary file
// and renaming it over the original (as atomic writers and editors do).
func (a *agentRun) freshPhase(ctx context.Context, c *wsClient) ([]Freshness, error) {
	var out []Freshness
	for _, fc := range freshCases {
		path := filepath.Join(a.root, "var/local/emhttp", fc.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			return out, err
		}
		if !strings.Contains(string(orig), fmt.Sprintf(fc.field, fc.values[0])) {
			return out, fmt.Errorf("freshness: %s has no %s", path, fmt.Sprintf(fc.field, fc.values[0]))
		}
		for _, rename := range []bool{false, true} {
			how := "in place"
			if rename {
				how = "write+rename"
			}
			f := Freshness{Case: fc.file + " " + how, Topic: fc.topic}
			var ms []float64
			for i := 0; i < a.o.freshChanges && ctx.Err() == nil; i++ {
				// Alternate the value; each change must be seen as itself.
				now := fc.values[(i+1)%2]
				body := strings.Replace(string(orig), fmt.Sprintf(fc.field, fc.values[0]), fmt.Sprintf(fc.field, now), 1)
				start := time.Now()
				if err := writeState(path, body, rename); err != nil {
					return out, err
				}
				f.Changes++
				ev, ok := c.waitData(ctx, fc.topic, start, a.o.freshTimeout, func(d json.RawMessage) bool { return fc.check(d, now) })
				if !ok {
					f.Missed++
					continue
				}
				ms = append(ms, float64(ev.Recv.Sub(start).Microseconds())/1000)
				// A pause between changes, so each is its own change and
				// not one debounce window with the last.
				sleepCtx(ctx, 150*time.Millisecond)
			}
			sort.Float64s(ms)
			if len(ms) > 0 {
				f.P50, f.P99, f.Max = percentile(ms, 50), percentile(ms, 99), ms[len(ms)-1]
			}
			out = append(out, f)
		}
		// Leave the file as it was.
		if err := writeState(path, string(orig), true); err != nil {
			return out, err
		}
	}
	return out, ctx.Err()
}

func writeState(path, body string, rename bool) error {
	if !rename {
		return os.WriteFile(path, []byte(body), 0o644)
	}
	tmp := path + ".towerbench"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printFresh(w io.Writer, fs []Freshness) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "freshness (change → client)\ttopic\tchanges\tmissed\tp50 ms\tp99 ms\tmax ms\t\n")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t\n", f.Case, f.Topic, f.Changes, f.Missed, f.P50, f.P99, f.Max)
	}
	tw.Flush()
}
