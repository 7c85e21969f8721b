package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/towerd/towerd/sdk"
)

// Discover lists the plugin executables in dir: regular files with an
// execute bit, not hidden, not README/SHA256SUMS. The name of a plugin is
// its file name.
func Discover(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !validName(name) {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// validName accepts collector names that are safe in URLs, file names and
// logs (sdk.ValidName).
func validName(s string) bool { return sdk.ValidName(s) }
