package main

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

type collector struct {
	log       hclog.Logger
	root      string
	sharesSrc health.Source
}

func newCollector() *collector {
	log := sdk.Logger("shares")
	return &collector{log: log, root: "/", sharesSrc: health.Source{Log: log, Name: unraid.SharesIni}}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "shares",
		Version:         sdk.Version,
		Topic:           schema.TopicShares,
		Description:     "Unraid user shares from shares.ini, the share configs on the flash and statfs",
		DefaultInterval: 60 * time.Second,
		WatchPaths:      []string{unraid.SharesIni, unraid.SharesCfg},
	}
}

func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("shares", cfg.Options); err != nil {
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
	list, err := unraid.ReadShares(c.root)
	c.sharesSrc.Report(err)
	out := []schema.Share{}
	if err != nil {
		return out, nil
	}
	now := time.Now()
	for _, s := range list {
		if !unraid.SafeName(s.Name) {
			c.log.Warn("skipping share with an unusable name", "name", s.Name)
			continue
		}
		out = append(out, c.share(s, now))
	}
	return out, nil
}

func (c *collector) share(s unraid.Share, now time.Time) schema.Share {
	sh := schema.Share{
		Name:       s.Name,
		Path:       "/mnt/user/" + s.Name,
		Comment:    s.Comment,
		UseCache:   s.UseCache,
		CachePool:  s.CachePool,
		CachePool2: s.CachePool2,
		Timestamp:  now,
	}
	// The flash config fills what shares.ini leaves empty.
	if cfg, err := unraid.ReadShareConfig(c.root, s.Name); err == nil {
		if sh.Comment == "" {
			sh.Comment = cfg.Comment
		}
		if sh.UseCache == "" {
			sh.UseCache = cfg.UseCache
		}
		sh.Security = cfg.Security
		if cfg.Export != "" {
			sh.SMBExport = exported(cfg.Export)
		}
		if cfg.ExportNFS != "" {
			sh.NFSExport = exported(cfg.ExportNFS)
		}
	}
	switch sh.UseCache {
	case "yes":
		sh.MoverAction = "cache->array"
	case "prefer":
		sh.MoverAction = "array->cache"
	}
	sh.Storage = storage(sh.UseCache, sh.CachePool)

	// Usage: emhttpd's used/free (KiB) when present; otherwise statfs on
	// /mnt/user/<share>, which is the whole user file system.
	if s.HasSizes {
		sh.UsedBytes = s.UsedKiB * unraid.KiB
		sh.FreeBytes = s.FreeKiB * unraid.KiB
	} else if u, err := unraid.Statfs(unraid.Join(c.root, "mnt/user/"+s.Name)); err == nil {
		sh.UsedBytes, sh.FreeBytes = u.Used, u.Free
	}
	sh.SizeBytes = sh.UsedBytes + sh.FreeBytes
	sh.TotalBytes = sh.SizeBytes
	sh.UsagePercent = unraid.Percent(sh.UsedBytes, sh.SizeBytes)
	return sh
}

// storage says where a share's files live from its cache setting:
// "array", "cache" (the pool only) or "cache+array".
func storage(useCache, pool string) string {
	if pool == "" {
		pool = "cache"
	}
	switch useCache {
	case "only":
		return pool
	case "yes", "prefer":
		return pool + "+array"
	case "no", "":
		return "array"
	}
	return "array"
}

// exported reads shareExport/shareExportNFS: "e" (and "eh", exported but
// hidden) is exported, "-" is not.
func exported(v string) *bool {
	b := strings.HasPrefix(v, "e")
	return &b
}
