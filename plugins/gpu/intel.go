package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// intelSample is the part of one intel_gpu_top -J sample the plugin reads.
type intelSample struct {
	Frequency struct {
		Actual float64 `json:"actual"`
	} `json:"frequency"`
	Power struct {
		GPU float64 `json:"GPU"`
	} `json:"power"`
	Engines map[string]struct {
		Busy float64 `json:"busy"`
	} `json:"engines"`
}

// busy is the busiest engine's utilisation (Render/3D, Video for
// transcodes, ...), clamped to 0–100.
func (s intelSample) busy() float64 {
	m := 0.0
	for _, e := range s.Engines {
		if e.Busy > m && !math.IsNaN(e.Busy) {
			m = e.Busy
		}
	}
	return math.Min(m, 100)
}

// parseIntelTop reads the first sample of intel_gpu_top -J's output, a JSON
// array that the tool keeps appending to ("[\n{...},\n{...}"), without
// waiting for the array to end.
func parseIntelTop(r io.Reader) (intelSample, error) {
	var s intelSample
	dec := json.NewDecoder(bufio.NewReader(io.LimitReader(r, 1<<20)))
	tok, err := dec.Token()
	if err != nil {
		return s, fmt.Errorf("intel_gpu_top JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return s, fmt.Errorf("intel_gpu_top JSON: want '[', got %v", tok)
	}
	if !dec.More() {
		return s, fmt.Errorf("intel_gpu_top JSON: no sample")
	}
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("intel_gpu_top JSON sample: %w", err)
	}
	return s, nil
}

// runIntelTop runs `intel_gpu_top -J -s <ms> [-d drm:/dev/dri/cardN]`,
// reads its first sample and stops it (the tool never exits by itself).
func runIntelTop(ctx context.Context, bin string, sample time.Duration, card string, timeout time.Duration) (intelSample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{"-J", "-s", strconv.Itoa(int(sample / time.Millisecond))}
	if card != "" {
		args = append(args, "-d", "drm:/dev/dri/"+card)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = time.Second
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return intelSample{}, fmt.Errorf("intel_gpu_top: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return intelSample{}, fmt.Errorf("start %s: %w", bin, err)
	}
	s, perr := parseIntelTop(out)
	cancel() // one sample is all we want
	_ = cmd.Wait()
	if perr != nil {
		if msg := firstLine(stderr.String()); msg != "" {
			return s, fmt.Errorf("%w (%s)", perr, msg)
		}
		return s, perr
	}
	return s, nil
}
