package config

import (
	"fmt"
	"time"
)

// Bounds of the numeric settings. This is the one definition: the settings
// file, the command-line flags and the API all check against it, so a
// value one of them refuses can never arrive through another. Zero in the
// file means "default" and is not subject to the bounds.
const (
	MinIntervalSeconds = 5
	MaxIntervalSeconds = 86400
	MinTimeoutSeconds  = 1
	MaxTimeoutSeconds  = 3600
	// MaxMemoryLimitMB is 1 TiB; a larger limit would overflow when turned
	// into bytes and means "no limit" anyway.
	MaxMemoryLimitMB = 1 << 20
	// MaxRateLimit bounds requests per second per client; negative means
	// off, 0 the default.
	MaxRateLimit = 1e6

	MinInterval = MinIntervalSeconds * time.Second
	MaxInterval = MaxIntervalSeconds * time.Second
)

// CheckInterval reports whether secs is an acceptable collect interval.
func CheckInterval(secs int64) error {
	return checkRange(secs, MinIntervalSeconds, MaxIntervalSeconds, "seconds")
}

// CheckTimeout reports whether secs is an acceptable collect deadline.
func CheckTimeout(secs int64) error {
	return checkRange(secs, MinTimeoutSeconds, MaxTimeoutSeconds, "seconds")
}

func checkRange(v, lo, hi int64, unit string) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d is out of range: want %d to %d %s", v, lo, hi, unit)
	}
	return nil
}

// validate checks every numeric setting against the bounds above; the
// error names the key.
func (cfg *Config) validate() error {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return fmt.Errorf("port: %d is out of range: want 0 to 65535", cfg.Port)
	}
	if cfg.RateLimit > MaxRateLimit {
		return fmt.Errorf("rate_limit: %g is out of range: want at most %g per second (negative turns the limit off)", cfg.RateLimit, float64(MaxRateLimit))
	}
	for _, name := range cfg.Names() {
		c := cfg.Collectors[name]
		key := func(k string) string { return fmt.Sprintf("collectors.%s.%s", name, k) }
		if c.IntervalSeconds != 0 {
			if err := CheckInterval(int64(c.IntervalSeconds)); err != nil {
				return fmt.Errorf("%s: %w", key("interval_seconds"), err)
			}
		}
		if c.TimeoutSeconds != 0 {
			if err := CheckTimeout(int64(c.TimeoutSeconds)); err != nil {
				return fmt.Errorf("%s: %w", key("timeout_seconds"), err)
			}
		}
		if c.MemoryLimitMB != 0 {
			if err := checkRange(int64(c.MemoryLimitMB), 1, MaxMemoryLimitMB, "MB"); err != nil {
				return fmt.Errorf("%s: %w", key("memory_limit_mb"), err)
			}
		}
	}
	return nil
}
