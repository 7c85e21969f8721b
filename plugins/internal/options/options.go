// Package options is how every built-in plugin checks the options the core
// passes to Configure (the "options" of a collector in the settings file):
// each collector declares the keys it accepts, and any other key is refused
// with the same clear error, naming the collector, the key and the keys it
// knows. A typo in the settings file is then reported (the collector's
// last_error and the log say which key) instead of being silently ignored.
package options

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/towerd/towerd/sdk"
)

// Check returns nil if every key of opts is one of known, else an error
// wrapping sdk.ErrInvalidArgument that names the first unknown key (in
// sorted order, so the message is stable) and the known ones.
func Check(collector string, opts map[string]string, known ...string) error {
	var unknown []string
	for k := range opts {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("collector %s: unknown option %q (%s): %w", collector, unknown[0], knownList(known), sdk.ErrInvalidArgument)
}

func knownList(known []string) string {
	if len(known) == 0 {
		return "it takes no options"
	}
	k := append([]string(nil), known...)
	sort.Strings(k)
	return "known: " + strings.Join(k, ", ")
}
