package options

import (
	"errors"
	"testing"

	"github.com/towerd/towerd/sdk"
)

func TestCheck(t *testing.T) {
	if err := Check("docker", map[string]string{"host": "x"}, "host", "stats_concurrency"); err != nil {
		t.Errorf("declared key refused: %v", err)
	}
	if err := Check("array", nil); err != nil {
		t.Errorf("no options refused: %v", err)
	}
	for _, tc := range []struct {
		opts  map[string]string
		known []string
		want  string
	}{
		{map[string]string{"zz": "", "hots": "x"}, []string{"stats_concurrency", "host"},
			`collector docker: unknown option "hots" (known: host, stats_concurrency): invalid argument`},
		{map[string]string{"x": "1"}, nil, `collector docker: unknown option "x" (it takes no options): invalid argument`},
	} {
		err := Check("docker", tc.opts, tc.known...)
		if err == nil || err.Error() != tc.want || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Check(%v, %v) = %v, want %q wrapping ErrInvalidArgument", tc.opts, tc.known, err, tc.want)
		}
	}
}
