package config

import (
	"strings"
	"testing"
)

// The mdns and mcp sections: defaults on (MCP read-only), values read,
// a bad mode refused, and a file without them saved without them.
func TestOutputSections(t *testing.T) {
	c, err := Decode([]byte(`{"collectors":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.MDNS.IsEnabled() || !c.MCP.IsEnabled() || !c.MCP.IsReadOnly() {
		t.Errorf("defaults: %+v %+v", c.MDNS, c.MCP)
	}
	b, _ := encode(c)
	if strings.Contains(string(b), "mdns") || strings.Contains(string(b), "mcp") {
		t.Errorf("unset sections written: %s", b)
	}
	c, err = Decode([]byte(`{"mdns":{"enabled":false,"name":"Tower 2","mode":"builtin"},"mcp":{"read_only":false},"collectors":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MDNS.IsEnabled() || c.MDNS.Name != "Tower 2" || c.MDNS.Mode != "builtin" || !c.MCP.IsEnabled() || c.MCP.IsReadOnly() {
		t.Errorf("read: %+v %+v", c.MDNS, c.MCP)
	}
	cl := c.clone()
	*cl.MCP.ReadOnly = true
	if c.MCP.IsReadOnly() {
		t.Error("clone shares the mcp section")
	}
	if _, err := Decode([]byte(`{"mdns":{"mode":"bonjour"}}`)); err == nil || !strings.Contains(err.Error(), "mdns.mode") {
		t.Errorf("bad mode: %v", err)
	}
}
