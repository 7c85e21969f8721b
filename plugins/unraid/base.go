package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/bundle"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// collector is the bundle's collector type.
type collector = bundle.Collector

func newCollector(info sdk.Info, options map[string]string) *collector {
	return bundle.New(info, options)
}

// readSmall reads a small file; see bundle.ReadSmall.
var readSmall = bundle.ReadSmall

// log is shared by every collector of the bundle: the core logs the
// process's lines under the bundle's name.
var log hclog.Logger = sdk.Logger("unraid")

// readIni reads an ini file under the root; a missing file is an empty one.
func readIni(c *collector, rel string) (*unraid.File, error) {
	f, err := unraid.ReadFile(c.Path(rel))
	if unraid.IsNotExist(err) {
		return &unraid.File{Global: &unraid.Section{}}, nil
	}
	return f, err
}

// varIniCollector makes a collector whose payload build makes from the
// global section of var.ini (emhttpd's state), read fresh each collect.
func varIniCollector(info sdk.Info, build func(c *collector, g *unraid.Section) any) *collector {
	c := newCollector(info, nil)
	c.CollectFunc = func(_ context.Context, c *collector) (any, error) {
		v, err := readIni(c, unraid.VarIni)
		if err != nil {
			return nil, err
		}
		return build(c, v.Global), nil
	}
	return c
}

// yes reports Unraid's spellings of true.
func yes(s string) bool {
	switch s {
	case "yes", "Yes", "YES", "true", "True", "1", "on", "enable", "enabled":
		return true
	}
	return false
}

// rfc3339 formats t in UTC, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
