package supervisor

import (
	"os"
	"strings"

	"github.com/towerd/towerd/sdk"
)

// envAllowed lists the variables of the core's environment a plugin
// inherits. Everything else — the API token, an MQTT password, whatever
// else the core was started with — stays in the core: plugins, third-party
// ones included, get an explicit, minimal environment. go-plugin adds its
// own handshake variables (magic cookie, protocol versions, socket dir).
var envAllowed = []string{
	"PATH", "HOME", "TZ", "LANG", "TMPDIR",
	"DOCKER_HOST", "DOCKER_API_VERSION", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", // docker plugin
	"LIBVIRT_DEFAULT_URI", // vm plugin (libvirt reads it itself)
	"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOTRACEBACK", "GODEBUG",
	sdk.GCStatsEnv, // towerbench: each process reports its GC cycles
}

// envAllowedPrefixes: locale settings, and gopsutil's host roots (HOST_PROC,
// HOST_SYS, …) that point plugins at another /proc or /sys.
var envAllowedPrefixes = []string{"LC_", "HOST_"}

// DefaultGOMAXPROCS is what plugins run with unless the core's environment
// sets GOMAXPROCS: a collector is one goroutine's work at a time, and each
// extra P costs threads and memory in every plugin process.
const DefaultGOMAXPROCS = "1"

// pluginEnv returns the environment a plugin starts with.
func pluginEnv(logLevel string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if allowedEnv(k) {
			env = append(env, kv)
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS="+DefaultGOMAXPROCS)
	}
	if os.Getenv("PATH") == "" {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return append(env, sdk.LogLevelEnv+"="+logLevel)
}

func allowedEnv(k string) bool {
	for _, a := range envAllowed {
		if k == a {
			return true
		}
	}
	for _, p := range envAllowedPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
