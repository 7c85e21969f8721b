package main

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

// fixtureShares is share_list_update for testdata/unraid less timestamps,
// except isos: shares.ini has no used/free for it, so its sizes come from
// statfs on testdata/unraid/mnt/user/isos (the host's file system) and are
// checked against Statfs separately.
func fixtureShares(t *testing.T) []schema.Share {
	t.Helper()
	yes, no := true, false
	movers := map[string]string{"yes": "cache->array", "prefer": "array->cache"}
	share := func(name, comment, use, pool, storage string, usedKiB, freeKiB uint64, pct float64) schema.Share {
		total := (usedKiB + freeKiB) * 1024
		return schema.Share{Name: name, Path: "/mnt/user/" + name, SizeBytes: total, TotalBytes: total,
			UsedBytes: usedKiB * 1024, FreeBytes: freeKiB * 1024, UsagePercent: pct,
			Comment: comment, UseCache: use, CachePool: pool, Storage: storage,
			Security: "public", SMBExport: &yes, NFSExport: &no, MoverAction: movers[use]}
	}
	u, err := unraid.Statfs(filepath.Join(unraidtest.FixtureRoot(t), "mnt/user/isos"))
	if err != nil {
		t.Fatal(err)
	}
	isos := schema.Share{Name: "isos", Path: "/mnt/user/isos", SizeBytes: u.Total, TotalBytes: u.Total,
		UsedBytes: u.Used, FreeBytes: u.Free, UsagePercent: u.Percent(),
		Comment: "ISO images", UseCache: "yes", CachePool: "cache", Storage: "cache+array",
		Security: "public", SMBExport: &yes, NFSExport: &no, MoverAction: "cache->array"}
	media := share("media", "Movies, TV and music", "no", "", "array", 8002396416, 4970812252, 61.68)
	media.Security, media.NFSExport = "secure", &yes
	system := share("system", "System data", "prefer", "cache", "cache+array", 31457280, 664352508, 4.52)
	system.Security, system.SMBExport = "private", &no
	return []schema.Share{
		share("appdata", "Application data", "only", "cache", "cache", 239009792, 664352508, 26.46),
		share("domains", "Saved VM instances", "prefer", "cache", "cache+array", 41943040, 664352508, 5.94),
		isos,
		media,
		system,
	}
}

func compare(t *testing.T, got, want []schema.Share) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d shares, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if g.Timestamp.IsZero() {
			t.Errorf("%s: no timestamp", g.Name)
		}
		g.Timestamp = time.Time{}
		if g.Name == "isos" {
			// The host file system may change between two statfs calls.
			g.UsedBytes, g.FreeBytes, g.SizeBytes, g.TotalBytes, g.UsagePercent = want[i].UsedBytes, want[i].FreeBytes, want[i].SizeBytes, want[i].TotalBytes, want[i].UsagePercent
			if got[i].SizeBytes == 0 || got[i].SizeBytes != got[i].UsedBytes+got[i].FreeBytes || got[i].TotalBytes != got[i].SizeBytes {
				t.Errorf("isos statfs sizes inconsistent: %+v", got[i])
			}
		}
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("share %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}

func TestCollectFixture(t *testing.T) {
	c := newCollector()
	if err := c.Configure(context.Background(), sdk.Config{Root: unraidtest.FixtureRoot(t)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	compare(t, out.([]schema.Share), fixtureShares(t))
}

func TestPluginProcess(t *testing.T) {
	bin := plugintest.Build(t, "github.com/towerd/towerd/plugins/shares")
	t.Run("fixture", func(t *testing.T) {
		p := plugintest.Start(t, bin)
		info, err := p.Describe(context.Background())
		if err != nil || info.Name != "shares" || info.Topic != schema.TopicShares || info.DefaultInterval != time.Minute {
			t.Fatalf("Describe = %+v, %v", info, err)
		}
		unraidtest.Configure(t, p, sdk.Config{Root: unraidtest.FixtureRoot(t)})
		for i := 0; i < 3; i++ {
			var shares []schema.Share
			raw := p.CollectJSON(t, &shares)
			compare(t, shares, fixtureShares(t))
			for _, key := range []string{`"name"`, `"path"`, `"size_bytes"`, `"usage_percent"`, `"use_cache"`} {
				if !strings.Contains(string(raw), key) {
					t.Errorf("payload lacks %s", key)
				}
			}
		}
	})
	t.Run("not unraid", func(t *testing.T) {
		p := plugintest.Start(t, bin)
		unraidtest.Configure(t, p, sdk.Config{Root: t.TempDir()})
		if raw := p.CollectJSON(t, nil); string(raw) != "[]" {
			t.Errorf("payload %s, want []", raw)
		}
	})
}

func TestEdgeCases(t *testing.T) {
	root := t.TempDir()
	unraidtest.WriteFile(t, root, unraid.SharesIni, strings.Join([]string{
		`["ok"]`, `name="ok"`, `useCache=""`, `free="100"`, `used="300"`,
		`["../escape"]`, `name="../escape"`, `free="1"`,
		`["cfgonly"]`, `name="cfgonly"`, `comment=""`, `free="0"`, `used="1"`,
		`["pooled"]`, `name="pooled"`, `useCache="only"`, `cachePool="fast"`, `free="1"`, `used="1"`,
	}, "\r\n"))
	unraidtest.WriteFile(t, root, unraid.SharesCfg+"/cfgonly.cfg", "shareComment=\"from the flash\"\r\nshareUseCache=\"prefer\"\r\n")
	c := newCollector()
	if err := c.Configure(context.Background(), sdk.Config{Root: root}); err != nil {
		t.Fatal(err)
	}
	out, _ := c.Collect(context.Background())
	shares := out.([]schema.Share)
	if len(shares) != 3 {
		t.Fatalf("got %+v, want the share with a path in its name skipped", shares)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"KiB to bytes", shares[0].UsedBytes, uint64(300 * 1024)},
		{"size = used + free", shares[0].SizeBytes, uint64(400 * 1024)},
		{"usage percent", shares[0].UsagePercent, 75.0},
		{"empty useCache is array", shares[0].Storage, "array"},
		{"comment from the flash cfg", shares[1].Comment, "from the flash"},
		{"useCache from the flash cfg", shares[1].UseCache, "prefer"},
		{"named pool", shares[2].Storage, "fast"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	unraidtest.WriteFile(t, root, unraid.SharesIni, "[\"broken\"\n")
	out, err := c.Collect(context.Background())
	if err != nil || len(out.([]schema.Share)) != 0 {
		t.Fatalf("malformed shares.ini: %v, %v; want [] and no error", out, err)
	}
	if !strings.Contains(c.sharesSrc.Last(), "shares.ini:1:") {
		t.Errorf("reported %q, want file:line", c.sharesSrc.Last())
	}
}
