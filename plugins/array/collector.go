package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/units"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// StateUnknown is the array state when var.ini cannot be read (not an
// Unraid host); it is what the REST API answers before the first collect.
const StateUnknown = "unknown"

type collector struct {
	log      hclog.Logger
	root     string
	varSrc   health.Source
	disksSrc health.Source
}

func newCollector() *collector {
	log := sdk.Logger("array")
	return &collector{
		log:      log,
		root:     "/",
		varSrc:   health.Source{Log: log, Name: unraid.VarIni},
		disksSrc: health.Source{Log: log, Name: unraid.DisksIni},
	}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "array",
		Version:         sdk.Version,
		Topic:           schema.TopicArray,
		Description:     "Unraid array state, parity check and capacity from var.ini and disks.ini",
		DefaultInterval: 10 * time.Second,
		Actions:         actionNames(),
		// emhttpd rewrites these on every state change (array start/stop,
		// parity check progress): the core collects at once.
		WatchPaths: []string{unraid.VarIni, unraid.DisksIni},
	}
}

func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("array", cfg.Options); err != nil {
		return err
	}
	if cfg.Root != "" {
		c.root = cfg.Root
	}
	return nil
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, verr := unraid.ReadVar(c.root)
	c.varSrc.Report(verr)
	slots, derr := unraid.ReadDisks(c.root)
	c.disksSrc.Report(derr)
	if verr != nil {
		v = unraid.Var{}
	}
	a := build(v, verr == nil, slots)
	a.Timestamp = time.Now()
	return a, nil
}

// build derives the payload from var.ini (haveVar false: not readable) and
// the slots of disks.ini (nil: not readable).
func build(v unraid.Var, haveVar bool, slots []unraid.Slot) schema.Array {
	a := schema.Array{State: StateUnknown, ParityCheckStatus: "idle"}
	if !haveVar {
		return a
	}
	if v.MdState != "" {
		a.State = v.MdState
	}
	parityBad := false
	for _, s := range slots {
		if s.Empty() {
			continue
		}
		switch s.Type {
		case "Parity":
			a.NumParityDisks++
			switch s.Status {
			case "DISK_DSBL", "DISK_NP_DSBL", "DISK_INVALID", "DISK_EMULATED", "DISK_NP_MISSING", "DISK_WRONG":
				parityBad = true
			}
		case "Data":
			a.NumDataDisks++
			if s.HasFsSizes {
				a.TotalBytes += s.FsSizeKiB * unraid.KiB
				a.UsedBytes += s.FsUsedKiB * unraid.KiB
				a.FreeBytes += s.FsFreeKiB * unraid.KiB
			}
		}
	}
	a.NumDisks = a.NumParityDisks + a.NumDataDisks
	if slots == nil {
		a.NumDisks = int(v.MdNumDisks)
	}
	a.TotalDisks = a.NumDisks
	a.UsedPercent = unraid.Percent(a.UsedBytes, a.TotalBytes)

	a.ParityValid = a.NumParityDisks > 0 && v.MdNumInvalid == 0 && !parityBad
	if slots == nil { // no disks.ini: judge from var.ini alone
		a.ParityValid = v.MdNumInvalid == 0 && v.MdNumDisabled == 0 && v.MdNumDisks > 0
	}
	a.SyncErrors = v.SbSyncErrs

	p := parity(v)
	a.ParityCheckStatus = p.status
	a.ParityCheckRunning = p.status == "running"
	a.ParityCheckProgress = p.progress
	a.SyncAction = p.action
	a.SyncSpeedBytesPerSec = p.speed
	a.SyncETASeconds = p.eta
	if p.status != "idle" && p.status != "paused" && p.speed > 0 {
		speed, eta := units.Rate(p.speed), units.Duration(p.eta)
		a.SyncSpeed, a.SyncETA = &speed, &eta
	}
	switch {
	case p.status != "idle":
		a.SyncPercent = p.progress
	case a.ParityValid:
		a.SyncPercent = 100
	}
	return a
}

type parityState struct {
	status   string // idle, running, paused, clearing, reconstructing
	action   string
	progress float64
	speed    uint64 // bytes/s
	eta      int64  // seconds
}

// parity derives the state of a running parity operation from the md
// driver's mdResync* keys: an operation is under way while mdResync or
// mdResyncPos is non-zero; Dt 0 with Pos > 0 means paused.
func parity(v unraid.Var) parityState {
	if v.MdResync == 0 && v.MdResyncPos == 0 {
		return parityState{status: "idle"}
	}
	p := parityState{action: v.MdResyncAction}
	size := v.MdResyncSize
	if size == 0 {
		size = v.MdResync
	}
	if size > 0 {
		pos := min(v.MdResyncPos, size)
		p.progress = unraid.Round2(float64(pos) / float64(size) * 100)
	}
	switch {
	case v.MdResyncDt == 0 && v.MdResyncPos > 0:
		p.status = "paused"
	case hasPrefix(v.MdResyncAction, "recon"):
		p.status = "reconstructing"
	case hasPrefix(v.MdResyncAction, "clear"):
		p.status = "clearing"
	default:
		p.status = "running"
	}
	if p.status != "paused" && v.MdResyncDt > 0 && v.MdResyncDb > 0 {
		// Db KiB were done in the last Dt seconds.
		p.speed = v.MdResyncDb * unraid.KiB / v.MdResyncDt
		if size > v.MdResyncPos {
			p.eta = int64(float64(size-v.MdResyncPos) * float64(v.MdResyncDt) / float64(v.MdResyncDb))
		}
	}
	return p
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
