package hostfs

import (
	"strings"
	"testing"
)

func FuzzUnescapeMount(f *testing.F) {
	for _, s := range []string{`/mnt/disks/My\040Disk`, `\`, `\04`, `\777x`, "/var/log"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := UnescapeMount(s)
		if !strings.Contains(s, `\`) && out != s {
			t.Fatalf("%q changed to %q without an escape", s, out)
		}
		if len(out) > len(s) {
			t.Fatalf("%q grew to %q", s, out)
		}
	})
}

func TestUnescapeMount(t *testing.T) {
	if got := UnescapeMount(`/mnt/remotes/My\040Share`); got != "/mnt/remotes/My Share" {
		t.Errorf("UnescapeMount = %q", got)
	}
	if got := UnescapeMount(`a\04`); got != `a\04` {
		t.Errorf("short escape = %q", got)
	}
}
