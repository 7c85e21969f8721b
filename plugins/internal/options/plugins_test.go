package options_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// Every built-in plugin, run as towerd runs it, refuses an undeclared
// option with the same message and accepts a declared one. Bundles are
// checked collector by collector.
func TestEveryPluginRefusesUnknownOptions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the eleven plugins")
	}
	// As make build: vm loads libvirt at run time, no headers needed.
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags=libvirt_dlopen"))
	for _, tc := range []struct {
		plugin string
		valid  map[string]string // a declared option, accepted
	}{
		{"system", nil},
		{"array", nil},
		{"disk", map[string]string{"smart": "false"}},
		{"docker", map[string]string{"stats_concurrency": "2"}},
		{"vm", map[string]string{"uri": "qemu:///system"}},
		{"ups", map[string]string{"driver": "nut"}},
		{"gpu", map[string]string{"exec_timeout": "5s"}},
		{"network", map[string]string{"exclude": "lo"}},
		{"shares", nil},
		{"unraid", nil},
		{"zfs", nil},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			p := plugintest.Start(t, plugintest.Build(t, "github.com/towerd/towerd/plugins/"+tc.plugin))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := p.DescribeBundle(ctx)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			for _, info := range b.Collectors {
				wire := ""
				if len(b.Collectors) > 1 {
					wire = info.Name
				}
				err := p.Configure(ctx, sdk.Config{Collector: wire, Root: root, Options: map[string]string{"no_such_option": "1"}})
				want := "collector " + info.Name + `: unknown option "no_such_option" (`
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: Configure with an unknown option: %v, want an error containing %q", info.Name, err, want)
				}
				if tc.valid != nil {
					if err := p.Configure(ctx, sdk.Config{Collector: wire, Root: root, Options: tc.valid}); err != nil {
						t.Errorf("%s: Configure %v: %v", info.Name, tc.valid, err)
					}
				}
			}
		})
	}
}
