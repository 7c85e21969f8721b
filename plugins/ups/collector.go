package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// Default ports of the two daemons.
const (
	defaultNUTPort = 3493
	defaultAPCPort = 3551
)

var upsNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// config is the parsed option set.
type config struct {
	driver  string // nut, apcupsd or auto
	host    string
	nutPort int
	apcPort int
	ups     string // NUT UPS name; empty = first of LIST UPS
	user    string
	pass    string
	timeout time.Duration // per daemon attempt
}

func defaultConfig() config {
	return config{driver: "auto", host: "127.0.0.1", nutPort: defaultNUTPort, apcPort: defaultAPCPort, timeout: 3 * time.Second}
}

// parseOptions validates the collector's options.
func parseOptions(opts map[string]string) (config, error) {
	c := defaultConfig()
	bad := func(format string, a ...any) (config, error) {
		return config{}, fmt.Errorf("%w: "+format, append([]any{sdk.ErrInvalidArgument}, a...)...)
	}
	if err := options.Check("ups", opts, "driver", "host", "ups", "username", "password", "timeout", "port", "nut_port", "apcupsd_port"); err != nil {
		return config{}, err
	}
	port := func(key string) (int, bool, error) {
		s, ok := opts[key]
		if !ok || s == "" {
			return 0, false, nil
		}
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return 0, false, fmt.Errorf("%w: %s %q is not a port", sdk.ErrInvalidArgument, key, s)
		}
		return p, true, nil
	}
	for k, v := range opts {
		switch k {
		case "driver":
			switch v {
			case "", "auto":
			case "nut", "apcupsd":
				c.driver = v
			default:
				return bad("driver %q: want nut, apcupsd or auto", v)
			}
		case "host":
			if v != "" {
				if strings.ContainsAny(v, " \t\r\n/") {
					return bad("host %q", v)
				}
				c.host = v
			}
		case "ups":
			if v != "" && !upsNameRE.MatchString(v) {
				return bad("ups name %q", v)
			}
			c.ups = v
		case "username", "password":
			if strings.ContainsAny(v, "\r\n\x00") {
				return bad("%s contains a line break", k)
			}
			if k == "username" {
				c.user = v
			} else {
				c.pass = v
			}
		case "timeout":
			if v != "" {
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 || d > time.Minute {
					return bad("timeout %q", v)
				}
				c.timeout = d
			}
		}
	}
	if p, ok, err := port("nut_port"); err != nil {
		return config{}, err
	} else if ok {
		c.nutPort = p
	}
	if p, ok, err := port("apcupsd_port"); err != nil {
		return config{}, err
	} else if ok {
		c.apcPort = p
	}
	if p, ok, err := port("port"); err != nil {
		return config{}, err
	} else if ok {
		switch c.driver {
		case "nut":
			c.nutPort = p
		case "apcupsd":
			c.apcPort = p
		default:
			return bad("port needs driver nut or apcupsd; in auto mode use nut_port and apcupsd_port")
		}
	}
	return c, nil
}

// collector is the UPS collector. Collect is never called concurrently with
// itself; mu guards against a Configure arriving during a Collect.
type collector struct {
	log hclog.Logger

	mu  sync.Mutex
	cfg config

	last    string // driver that answered last (tried first in auto mode)
	nutName string // UPS name found by LIST UPS, reused while it answers
	state   string // "up:<driver>/<ups>" or "down", for logging changes once
}

func newCollector() *collector {
	return &collector{log: sdk.Logger("ups"), cfg: defaultConfig()}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "ups",
		Version:         sdk.Version,
		Topic:           schema.TopicUPS,
		Description:     "UPS status from NUT upsd or apcupsd (NIS) over TCP",
		DefaultInterval: 10 * time.Second,
	}
}

func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	parsed, err := parseOptions(cfg.Options)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cfg = parsed
	c.nutName = ""
	c.mu.Unlock()
	return nil
}

// order is the list of drivers to try this tick.
func (c *collector) order(cfg config) []string {
	if cfg.driver != "auto" {
		return []string{cfg.driver}
	}
	if c.last == "apcupsd" {
		return []string{"apcupsd", "nut"}
	}
	return []string{"nut", "apcupsd"}
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()

	var reasons []string
	for _, drv := range c.order(cfg) {
		actx, cancel := context.WithTimeout(ctx, cfg.timeout)
		u, who, err := c.query(actx, drv, cfg)
		cancel()
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if !u.Connected {
			reasons = append(reasons, fmt.Sprintf("%s: %s reports %s", drv, who, u.Status))
			continue
		}
		c.last = drv
		if st := "up:" + drv + "/" + who; st != c.state {
			c.log.Info("UPS connected", "driver", drv, "ups", who, "model", u.Model, "status", u.Status)
			c.state = st
		}
		u.Timestamp = time.Now()
		return u, nil
	}
	reason := strings.Join(reasons, "; ")
	if c.state != "down" {
		c.log.Warn("no UPS available; reporting connected=false until one answers", "reason", reason)
		c.state = "down"
	} else {
		c.log.Debug("still no UPS", "reason", reason)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	return schema.UPS{Connected: false, Timestamp: time.Now()}, nil
}

// query asks one daemon. who names the UPS for logs.
func (c *collector) query(ctx context.Context, drv string, cfg config) (u schema.UPS, who string, err error) {
	switch drv {
	case "nut":
		addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.nutPort))
		want := cfg.ups
		if want == "" {
			want = c.nutName // found on an earlier tick: saves a round trip
		}
		name, vars, err := queryNUT(ctx, addr, want, cfg.user, cfg.pass)
		if cfg.ups == "" {
			c.nutName = name
			if err != nil && !nutStale(err) {
				c.nutName = "" // look it up again next time (renamed, restarted, ...)
			}
		}
		if err != nil {
			if nutStale(err) {
				return schema.UPS{Status: "STALE"}, name + "@" + addr, nil
			}
			return u, "", err
		}
		return fromNUT(vars), name + "@" + addr, nil
	case "apcupsd":
		addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.apcPort))
		rec, err := queryAPC(ctx, addr)
		if err != nil {
			return u, "", err
		}
		who = rec["UPSNAME"]
		if who == "" {
			who = "apcupsd"
		}
		return fromAPC(rec), who + "@" + addr, nil
	}
	return u, "", errors.New("unknown driver " + drv)
}
