// Command psi is an example third-party towerd plugin, built outside the
// towerd module against the SDK alone. It reports Linux pressure stall
// information (/proc/pressure/{cpu,memory,io}): the share of time tasks
// waited for CPU, memory or I/O — on an Unraid server, the number that shows
// a parity check or a mover run starving containers and VMs.
//
// Topic psi_update, payload:
//
//	{"available":true,"cpu":{"some":{"avg10":1.5,"avg60":0.9,"avg300":0.4,"total_us":123},
//	 "full":{…}},"memory":{…},"io":{…},"timestamp":"2026-11-23T13:33:00Z"}
//
// Option "proc" (default /proc) is where to read pressure/ from. On a kernel
// without PSI the payload is {"available":false,"reason":…,"timestamp":…}.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/sdk"
)

// version is the plugin's own version, shown by GET /api/v1/collectors.
const version = "1.0.0"

// Stall is one line of a pressure file: averages in percent over 10, 60 and
// 300 seconds, and the total stall time in microseconds.
type Stall struct {
	Avg10   float64 `json:"avg10"`
	Avg60   float64 `json:"avg60"`
	Avg300  float64 `json:"avg300"`
	TotalUS uint64  `json:"total_us"`
}

// Resource is one pressure file. Full is absent for cpu on older kernels.
type Resource struct {
	Some *Stall `json:"some"`
	Full *Stall `json:"full,omitempty"`
}

// Payload is what psi_update carries.
type Payload struct {
	Available bool      `json:"available"`
	Reason    string    `json:"reason,omitempty"`
	CPU       *Resource `json:"cpu,omitempty"`
	Memory    *Resource `json:"memory,omitempty"`
	IO        *Resource `json:"io,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

type collector struct {
	log     hclog.Logger
	proc    string
	lastErr string // logged once per change, not every tick
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "psi",
		Version:         version,
		Topic:           "psi_update",
		Description:     "Linux pressure stall information for CPU, memory and I/O",
		DefaultInterval: 10 * time.Second,
	}
}

func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	c.proc = "/proc"
	if p := cfg.Options["proc"]; p != "" {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("option proc %q: %w: must be an absolute path", p, sdk.ErrInvalidArgument)
		}
		c.proc = p
	}
	return nil
}

func (c *collector) Collect(context.Context) (any, error) {
	out := Payload{Available: true, Timestamp: time.Now().UTC()}
	var err error
	for _, r := range []struct {
		file string
		dst  **Resource
	}{{"cpu", &out.CPU}, {"memory", &out.Memory}, {"io", &out.IO}} {
		if *r.dst, err = readPressure(filepath.Join(c.proc, "pressure", r.file)); err != nil {
			break
		}
	}
	if err != nil {
		out = Payload{Reason: err.Error(), Timestamp: out.Timestamp}
		if err.Error() != c.lastErr {
			c.log.Warn("pressure stall information unavailable", "error", err)
		}
		c.lastErr = err.Error()
		return out, nil
	}
	if c.lastErr != "" {
		c.log.Info("pressure stall information available again")
		c.lastErr = ""
	}
	return out, nil
}

// readPressure parses a file of lines such as
// "some avg10=0.34 avg60=1.12 avg300=0.75 total=12422488".
func readPressure(path string) (*Resource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read pressure: %w", err)
	}
	defer f.Close()
	r := &Resource{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		var s Stall
		for _, field := range strings.Fields(rest) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "avg10":
				s.Avg10, err = strconv.ParseFloat(v, 64)
			case "avg60":
				s.Avg60, err = strconv.ParseFloat(v, 64)
			case "avg300":
				s.Avg300, err = strconv.ParseFloat(v, 64)
			case "total":
				s.TotalUS, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: field %q: %w", path, field, err)
			}
		}
		switch kind {
		case "some":
			r.Some = &s
		case "full":
			r.Full = &s
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Some == nil {
		return nil, fmt.Errorf("%s: no \"some\" line", path)
	}
	return r, nil
}

func main() {
	sdk.Serve(&collector{log: sdk.Logger("psi"), proc: "/proc"})
}
