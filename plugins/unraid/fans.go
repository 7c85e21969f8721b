package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/sdk"
)

// Fan is one hwmon fan channel.
type Fan struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	RPM          int64  `json:"rpm"`
	PWMValue     int64  `json:"pwm_value"`
	PWMPercent   int64  `json:"pwm_percent"`
	Mode         string `json:"mode"`
	Controllable bool   `json:"controllable"`
	HwmonPath    string `json:"hwmon_path"`
	HwmonIndex   int    `json:"hwmon_index"`
	hwmonDir     string
}

// FanSafety are the bounds every PWM write is held to.
type FanSafety struct {
	MinSpeedPercent     float64 `json:"min_speed_percent"`
	CriticalTempCelsius float64 `json:"critical_temp_celsius"`
	FailureRPMThreshold int64   `json:"failure_rpm_threshold"`
}

// FanConfig is how fan control is set up (options of the fans collector).
type FanConfig struct {
	Enabled             bool      `json:"enabled"`
	ControlEnabled      bool      `json:"control_enabled"`
	ControlMethod       string    `json:"control_method"`
	PollIntervalSeconds int       `json:"poll_interval_seconds"`
	Safety              FanSafety `json:"safety"`
}

// FanSummary counts the fans; failed_fans are ids spinning below the
// failure threshold.
type FanSummary struct {
	TotalFans        int      `json:"total_fans"`
	ControllableFans int      `json:"controllable_fans"`
	FailedFans       []string `json:"failed_fans"`
}

// Fans is the payload of fan_control_update.
type Fans struct {
	Fans      []Fan      `json:"fans"`
	Profiles  []struct{} `json:"profiles"`
	Config    FanConfig  `json:"config"`
	Summary   FanSummary `json:"summary"`
	Timestamp time.Time  `json:"timestamp"`
}

func newFans() *collector {
	c := newCollector(sdk.Info{
		Name:            "fans",
		Topic:           "fan_control_update",
		Description:     "hwmon fans (RPM, PWM, mode); set a fan's speed within safe bounds",
		DefaultInterval: 15 * time.Second,
		Actions:         []string{"speed"},
	}, map[string]string{"control": "true", "min_speed_percent": "20", "failure_rpm": "100"})
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		fans := discoverFans(c)
		cfg := fanConfig(c)
		out := Fans{Fans: fans, Profiles: []struct{}{}, Config: cfg, Timestamp: time.Now(),
			Summary: FanSummary{TotalFans: len(fans), FailedFans: []string{}}}
		for _, f := range fans {
			if f.Controllable {
				out.Summary.ControllableFans++
			}
			// A fan driven (PWM > 0 or automatic) that reports almost no
			// RPM has stopped or failed.
			if f.RPM < cfg.Safety.FailureRPMThreshold && (f.PWMValue > 0 || !f.Controllable) && f.Mode != "off" {
				out.Summary.FailedFans = append(out.Summary.FailedFans, f.ID)
			}
		}
		return out, nil
	}
	c.ActFunc = actFans
	return c
}

func fanConfig(c *collector) FanConfig {
	minPct, err := strconv.ParseFloat(c.Opt("min_speed_percent"), 64)
	if err != nil || minPct < 1 || minPct > 100 {
		minPct = 20
	}
	fail, err := strconv.ParseInt(c.Opt("failure_rpm"), 10, 64)
	if err != nil || fail < 0 {
		fail = 100
	}
	return FanConfig{Enabled: true, ControlEnabled: c.Opt("control") == "true", ControlMethod: "hwmon",
		PollIntervalSeconds: int(c.Info.DefaultInterval / time.Second),
		Safety:              FanSafety{MinSpeedPercent: minPct, CriticalTempCelsius: 80, FailureRPMThreshold: fail}}
}

// discoverFans reads sys/class/hwmon/hwmon0..9, channels fan1..19.
func discoverFans(c *collector) []Fan {
	out := []Fan{}
	for i := 0; i < 10; i++ {
		dir := c.Path(fmt.Sprintf("sys/class/hwmon/hwmon%d", i))
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		for j := 1; j < 20; j++ {
			rpm, ok := hostfs.Int(fmt.Sprintf("%s/fan%d_input", dir, j))
			if !ok {
				continue
			}
			if rpm > 25000 || rpm < 0 { // a reading no fan makes
				rpm = 0
			}
			f := Fan{ID: fmt.Sprintf("hwmon%d_fan%d", i, j), Name: hostfs.String(fmt.Sprintf("%s/fan%d_label", dir, j)),
				RPM: rpm, Mode: "automatic", HwmonPath: fmt.Sprintf("/sys/class/hwmon/hwmon%d", i), HwmonIndex: j, hwmonDir: dir}
			if f.Name == "" {
				f.Name = fmt.Sprintf("Fan %d", j)
			}
			if pwm, ok := hostfs.Int(fmt.Sprintf("%s/pwm%d", dir, j)); ok {
				f.Controllable = true
				f.PWMValue = min(max(pwm, 0), 255)
				f.PWMPercent = f.PWMValue * 100 / 255
				if en, ok := hostfs.Int(fmt.Sprintf("%s/pwm%d_enable", dir, j)); ok {
					switch en {
					case 0:
						f.Mode = "off"
					case 1:
						f.Mode = "manual"
					}
				}
			}
			out = append(out, f)
		}
	}
	return out
}

var fanID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// actFans sets a fan's PWM: speed_percent (HA) or pwm_percent (the
// reference agent's key), 1-100, raised to the safety minimum. 0 would
// stop the fan and is refused.
func actFans(_ context.Context, c *collector, a sdk.Action) (string, error) {
	id := a.Target
	if id == "" {
		id = a.Params["fan_id"]
	}
	if !fanID.MatchString(id) {
		return "", fmt.Errorf("invalid fan id %q: %w", clip(id), sdk.ErrInvalidArgument)
	}
	raw, ok := a.Params["speed_percent"]
	if !ok {
		raw, ok = a.Params["pwm_percent"]
	}
	if !ok {
		return "", fmt.Errorf("speed_percent (1-100) is required: %w", sdk.ErrInvalidArgument)
	}
	pct, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || pct < 0 || pct > 100 {
		return "", fmt.Errorf("speed_percent %q: a number from 1 to 100: %w", clip(raw), sdk.ErrInvalidArgument)
	}
	if pct == 0 {
		return "", fmt.Errorf("speed_percent 0 would stop the fan; towerd never stops a fan: %w", sdk.ErrInvalidArgument)
	}
	cfg := fanConfig(c)
	if !cfg.ControlEnabled {
		return "", fmt.Errorf("fan control is off (option control of the fans collector): %w", sdk.ErrConflict)
	}
	var fan *Fan
	for _, f := range discoverFans(c) {
		if f.ID == id {
			fan = &f
			break
		}
	}
	if fan == nil {
		return "", fmt.Errorf("no fan %q: %w", id, sdk.ErrNotFound)
	}
	if !fan.Controllable {
		return "", fmt.Errorf("fan %s has no PWM control: %w", id, sdk.ErrConflict)
	}
	pct = max(pct, cfg.Safety.MinSpeedPercent)
	pwm := int(pct*255/100 + 0.5)
	p := fmt.Sprintf("%s/pwm%d", fan.hwmonDir, fan.HwmonIndex)
	// O_WRONLY without O_CREATE: only an existing sysfs attribute is written.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	_, werr := f.WriteString(strconv.Itoa(pwm))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("write %s: %w", p, werr)
	}
	return fmt.Sprintf("Fan %s set to %.0f%% (PWM %d)", id, pct, pwm), nil
}
