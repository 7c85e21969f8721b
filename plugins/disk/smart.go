package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// smartInfo is what the disk list takes from `smartctl --json -a`.
type smartInfo struct {
	Status          string // PASSED, FAILED, UNKNOWN
	Errors          int
	PowerOnHours    int64
	PowerCycleCount int64
	Temperature     float64
	Model           string
	Serial          string
	RotationRate    *int // rpm; 0 = solid state; nil when not reported (NVMe)
}

// smartctl's JSON output, the fields used (smartmontools >= 7.0).
type smartJSON struct {
	Smartctl struct {
		ExitStatus *int `json:"exit_status"`
		Messages   []struct {
			String   string `json:"string"`
			Severity string `json:"severity"`
		} `json:"messages"`
	} `json:"smartctl"`
	Device struct {
		Protocol string `json:"protocol"`
	} `json:"device"`
	ModelName    string `json:"model_name"`
	SerialNumber string `json:"serial_number"`
	SmartStatus  *struct {
		Passed *bool `json:"passed"`
	} `json:"smart_status"`
	PowerOnTime struct {
		Hours int64 `json:"hours"`
	} `json:"power_on_time"`
	PowerCycleCount int64 `json:"power_cycle_count"`
	RotationRate    *int  `json:"rotation_rate"`
	Temperature     struct {
		Current float64 `json:"current"`
	} `json:"temperature"`
	ATAErrorLog struct {
		Summary struct {
			Count int `json:"count"`
		} `json:"summary"`
	} `json:"ata_smart_error_log"`
	NVMeLog *struct {
		MediaErrors int `json:"media_errors"`
	} `json:"nvme_smart_health_information_log"`
}

var (
	errStandby  = errors.New("device is in standby")
	validDevice = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

// smartctl exit status bits (smartctl(8) RETURN VALUES): bit 0 command
// line did not parse, bit 1 device open failed or device in low-power mode
// (with -n), bit 2 a SMART command failed. Higher bits report disk health
// and still come with complete output.
const exitFatalMask = 0x07

// parseSmart decodes smartctl's JSON output. It returns errStandby when
// smartctl refused to wake a sleeping disk (-n standby) and never panics.
func parseSmart(out []byte) (smartInfo, error) {
	var j smartJSON
	if err := json.Unmarshal(out, &j); err != nil {
		return smartInfo{}, fmt.Errorf("decode smartctl JSON: %w", err)
	}
	if j.Smartctl.ExitStatus == nil {
		return smartInfo{}, errors.New("smartctl JSON has no smartctl.exit_status (smartmontools < 7?)")
	}
	code := *j.Smartctl.ExitStatus
	if code&exitFatalMask != 0 {
		msg := ""
		for _, m := range j.Smartctl.Messages {
			if strings.Contains(m.String, "STANDBY") || strings.Contains(m.String, "SLEEP") || strings.Contains(m.String, "IDLE") {
				return smartInfo{}, errStandby
			}
			if msg == "" {
				msg = m.String
			}
		}
		return smartInfo{}, fmt.Errorf("smartctl exit status %d: %s", code, msg)
	}
	info := smartInfo{
		Status:          "UNKNOWN",
		PowerOnHours:    max(j.PowerOnTime.Hours, 0),
		PowerCycleCount: max(j.PowerCycleCount, 0),
		Temperature:     j.Temperature.Current,
		Model:           j.ModelName,
		Serial:          j.SerialNumber,
		Errors:          max(j.ATAErrorLog.Summary.Count, 0),
		RotationRate:    j.RotationRate,
	}
	if j.SmartStatus != nil && j.SmartStatus.Passed != nil {
		info.Status = "FAILED"
		if *j.SmartStatus.Passed {
			info.Status = "PASSED"
		}
	}
	if j.NVMeLog != nil {
		info.Errors = max(j.NVMeLog.MediaErrors, 0)
	}
	return info, nil
}

// runSmart runs `smartctl --json -a -n standby /dev/<dev>` (fixed argv; dev
// is checked against validDevice) with a deadline.
func runSmart(ctx context.Context, smartctl, dev string, timeout time.Duration) (smartInfo, error) {
	if !validDevice.MatchString(dev) {
		return smartInfo{}, fmt.Errorf("device name %q is not valid", dev)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, smartctl, "--json", "-a", "-n", "standby", "/dev/"+dev)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return smartInfo{}, fmt.Errorf("run %s: %w", smartctl, err)
	}
	if ctx.Err() != nil {
		return smartInfo{}, fmt.Errorf("run %s /dev/%s: %w", smartctl, dev, ctx.Err())
	}
	info, perr := parseSmart(stdout.Bytes())
	if perr != nil && !errors.Is(perr, errStandby) {
		return smartInfo{}, fmt.Errorf("smartctl /dev/%s: %w", dev, perr)
	}
	return info, perr
}
