package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/units"
	"github.com/towerd/towerd/sdk/schema"
)

// nvidiaMaxOutput bounds what is read from nvidia-smi -q -x (~70 KB per GPU).
const nvidiaMaxOutput = 8 << 20

// nvidiaLog is the part of `nvidia-smi -q -x` the plugin reads. Elements
// moved between XML schema versions, so both spellings are listed.
type nvidiaLog struct {
	DriverVersion string      `xml:"driver_version"`
	GPUs          []nvidiaGPU `xml:"gpu"`
}

type nvidiaGPU struct {
	ID          string `xml:"id,attr"`
	ProductName string `xml:"product_name"`
	MinorNumber string `xml:"minor_number"`
	PCIBusID    string `xml:"pci>pci_bus_id"`
	FBTotal     string `xml:"fb_memory_usage>total"`
	FBUsed      string `xml:"fb_memory_usage>used"`
	GPUUtil     string `xml:"utilization>gpu_util"`
	MemUtil     string `xml:"utilization>memory_util"`
	GPUTemp     string `xml:"temperature>gpu_temp"`
	// Power: <power_readings><power_draw> up to driver 525 (schema v11),
	// <gpu_power_readings><power_draw> in v12, <instant_power_draw> /
	// <average_power_draw> from v13.
	PowerDraw        string `xml:"power_readings>power_draw"`
	GPUPowerDraw     string `xml:"gpu_power_readings>power_draw"`
	GPUInstantPower  string `xml:"gpu_power_readings>instant_power_draw"`
	GPUAveragePower  string `xml:"gpu_power_readings>average_power_draw"`
	LegacyInstantPwr string `xml:"power_readings>instant_power_draw"`
}

// nvBytes parses "5912 MiB" (nvidia-smi reports memory in MiB).
func nvBytes(s string) uint64 {
	v, ok := units.Leading(s)
	if !ok || v < 0 {
		return 0
	}
	mult := float64(1 << 20)
	if f := strings.Fields(s); len(f) > 1 {
		switch f[1] {
		case "KiB":
			mult = 1 << 10
		case "GiB":
			mult = 1 << 30
		case "B":
			mult = 1
		}
	}
	b := v * mult
	if b >= math.MaxUint64 {
		return 0
	}
	return uint64(b)
}

// normPCI turns nvidia-smi's "00000000:43:00.0" into sysfs's "0000:43:00.0".
func normPCI(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if i := strings.Index(id, ":"); i > 4 {
		id = id[i-4:]
	}
	return id
}

// gpuCard is one GPU found by a source, before indexing.
type gpuCard struct {
	slot string // PCI address, for ordering and de-duplication
	gpu  schema.GPU
}

// parseNvidiaXML decodes nvidia-smi -q -x output.
func parseNvidiaXML(r io.Reader) ([]gpuCard, error) {
	var log nvidiaLog
	dec := xml.NewDecoder(io.LimitReader(r, nvidiaMaxOutput))
	dec.Strict = false
	if err := dec.Decode(&log); err != nil {
		return nil, fmt.Errorf("parse nvidia-smi XML: %w", err)
	}
	cards := make([]gpuCard, 0, len(log.GPUs))
	for _, g := range log.GPUs {
		x := schema.GPU{
			Available:     true,
			Vendor:        "nvidia",
			Name:          strings.TrimSpace(g.ProductName),
			DriverVersion: strings.TrimSpace(log.DriverVersion),
		}
		x.TemperatureCelsius, _ = units.Leading(g.GPUTemp)
		x.UtilizationGPUPercent, _ = units.Leading(g.GPUUtil)
		x.UtilizationMemoryPercent, _ = units.Leading(g.MemUtil)
		x.MemoryTotalBytes = nvBytes(g.FBTotal)
		x.MemoryUsedBytes = nvBytes(g.FBUsed)
		for _, p := range []string{g.PowerDraw, g.GPUPowerDraw, g.GPUInstantPower, g.GPUAveragePower, g.LegacyInstantPwr} {
			if v, ok := units.Leading(p); ok {
				x.PowerDrawWatts = v
				break
			}
		}
		slot := g.PCIBusID
		if slot == "" {
			slot = g.ID
		}
		cards = append(cards, gpuCard{slot: normPCI(slot), gpu: x})
	}
	return cards, nil
}

// runNvidiaSMI runs `nvidia-smi -q -x` (fixed argv) once for all GPUs.
func runNvidiaSMI(ctx context.Context, bin string, timeout time.Duration) ([]gpuCard, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-q", "-x")
	cmd.WaitDelay = time.Second
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	cards, perr := parseNvidiaXML(out)
	_, _ = io.Copy(io.Discard, io.LimitReader(out, nvidiaMaxOutput))
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s -q -x: %w", bin, ctx.Err())
	}
	if werr != nil {
		return nil, fmt.Errorf("%s -q -x: %w: %s", bin, werr, firstLine(stderr.String()))
	}
	if perr != nil {
		return nil, perr
	}
	return cards, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limitedWriter keeps the first n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
