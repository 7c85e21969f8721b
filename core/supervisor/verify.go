package supervisor

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SumsFile is the optional checksum list in the plugins directory, in the
// format sha256sum writes ("<hex>  <name>" per line). When it exists, only
// plugins listed in it with a matching SHA-256 are started.
const SumsFile = "SHA256SUMS"

// errRefused marks a plugin the supervisor will not run as it is (wrong
// owner or mode, checksum); retrying soon cannot help, so it is marked
// failed at once and retried only at the longest backoff or on enable.
var errRefused = errors.New("refused")

// checkFile refuses files an unprivileged user could have replaced: the
// owner must be root or the user towerd runs as, and neither group nor
// others may write to it.
func checkFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: cannot read the owner of %s", errRefused, path)
	}
	if uid := int(sys.Uid); uid != 0 && uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by root (chown root %s)", errRefused, path, uid, path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o; chmod go-w %s)", errRefused, path, st.Mode().Perm(), path)
	}
	return nil
}

// verify checks a plugin before it is started: the directory and the file
// pass checkFile, and, when a SHA256SUMS file is present, it too, and the
// plugin is listed there. It returns the expected checksum (nil without a
// SHA256SUMS file) for go-plugin's SecureConfig, which checks it.
func verify(dir, name string) ([]byte, error) {
	if err := checkFile(dir); err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	if err := checkFile(filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	sumsPath := filepath.Join(dir, SumsFile)
	b, err := os.ReadFile(sumsPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errRefused, sumsPath, err)
	}
	if err := checkFile(sumsPath); err != nil {
		return nil, err
	}
	sums, err := ParseSums(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errRefused, sumsPath, err)
	}
	sum, ok := sums[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not listed in %s", errRefused, name, sumsPath)
	}
	return sum, nil
}

// ParseSums reads sha256sum output: "<64 hex>  <name>" or "<64 hex> *<name>"
// per line; blank lines and # comments are skipped. Names are base names.
func ParseSums(b []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sumHex, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimLeft(name, " "), "*")
		sum, err := hex.DecodeString(sumHex)
		if name != "" {
			name = filepath.Base(name)
		}
		if !ok || err != nil || len(sum) != 32 || name == "" || name == "/" || name == "." {
			return nil, fmt.Errorf("line %d: want \"<sha256 hex>  <plugin name>\"", n)
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	rss, ok := ParseVmRSS(b)
	if !ok {
		return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
	}
	return rss, nil
}

// ParseVmRSS finds "VmRSS:  <n> kB" in the text of /proc/<pid>/status and
// returns it in bytes.
func ParseVmRSS(status []byte) (int64, bool) {
	for _, line := range bytes.Split(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
