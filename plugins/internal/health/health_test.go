package health

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHealthLogsOncePerChange(t *testing.T) {
	var buf strings.Builder
	h := Source{Log: hclog.New(&hclog.LoggerOptions{Output: &buf}), Name: "var.ini"}
	steps := []struct {
		err    error
		logged bool
	}{
		{nil, false}, // fine from the start: nothing to say
		{nil, false},
		{errors.New("missing"), true},
		{errors.New("missing"), false},
		{errors.New("missing"), false},
		{errors.New("other"), true},
		{nil, true}, // recovery
		{nil, false},
	}
	for i, s := range steps {
		if got := h.Report(s.err); got != s.logged {
			t.Errorf("step %d: logged = %v, want %v", i, got, s.logged)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Errorf("%d log lines, want 3:\n%s", n, buf.String())
	}
}
