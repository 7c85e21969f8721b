// Package httpguard is the security and limits layer in front of the REST
// API and the WebSocket: bearer-token authentication (constant-time
// compare; /api/v1/health stays open; the WebSocket may also carry the
// token in a query parameter or a Sec-WebSocket-Protocol entry, since
// browsers cannot set headers there), CORS, defences against browser-borne
// requests (DNS rebinding: the Host must be a name of this server when no
// token is set; cross-site requests: state-changing requests from a
// foreign Origin and bodies that are not JSON are refused), a request-body
// limit, a per-client-address rate limit, and panic recovery, all
// answering with JSON errors.
package httpguard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// Defaults from docs/rest-api.md.
const (
	DefaultRate    = 50  // requests per second per client address
	DefaultBurst   = 100 // must cover the HA client's ~32 concurrent GETs
	DefaultMaxBody = 64 << 10
	// wsTokenPrefix marks the Sec-WebSocket-Protocol entry carrying the token.
	wsTokenPrefix = "bearer."
)

// Options configure a Guard. The zero value authenticates nothing, sends
// no CORS headers, rate-limits at the defaults with loopback exempt.
type Options struct {
	// Token, when not empty, is required as "Authorization: Bearer <token>"
	// on every route under Prefix except OpenPaths.
	Token string
	// Prefix is the protected path prefix (default "/api/v1").
	Prefix string
	// OpenPaths need no token (default /api/v1/health).
	OpenPaths []string
	// AlsoProtected are paths outside Prefix that need the token too
	// (default /metrics, which serves the same data as the API).
	AlsoProtected []string
	// WSPath is the WebSocket route, which also takes the token from the
	// query parameter "token" (or "access_token") or a Sec-WebSocket-Protocol
	// entry "bearer.<token>" (default /api/v1/ws).
	WSPath string
	// CORSOrigins are the browser origins allowed to call the API: "*" for
	// any, else exact origins such as "http://tower.local:8080". Empty sends
	// no CORS headers (same-origin only).
	CORSOrigins []string
	// MaxBody bounds request bodies (default 64 KiB); larger ones get 413.
	MaxBody int64
	// Rate and Burst bound requests per client address (defaults 50/s and
	// 100). Rate < 0 disables the limit.
	Rate  float64
	Burst int
	// LimitLoopback applies the rate limit to loopback clients too; by
	// default they are exempt (local tools and the benchmark).
	LimitLoopback bool
	// AllowedHosts are extra names (besides IP literals, localhost and the
	// machine's host name, plain or .local) that requests may carry in
	// their Host header when no token is set; "*" allows any. A page on
	// another site that rebinds its own DNS name to this server's address
	// is refused (421), since without a token it could otherwise read and
	// drive the API.
	AllowedHosts []string
	// Hostname is the machine's host name (default os.Hostname()).
	Hostname string
	Logger   hclog.Logger
}

// Guard wraps a handler with the checks in Options.
type Guard struct {
	opts      Options
	tokenHash [sha256.Size]byte
	log       hclog.Logger
	limits    *limiters
	hosts     map[string]bool // names allowed in Host besides IP literals
	anyHost   bool
}

// New returns a guard; see Options for the zero values.
func New(opts Options) *Guard {
	if opts.Prefix == "" {
		opts.Prefix = "/api/v1"
	}
	if opts.OpenPaths == nil {
		opts.OpenPaths = []string{opts.Prefix + "/health"}
	}
	if opts.AlsoProtected == nil {
		opts.AlsoProtected = []string{"/metrics"}
	}
	if opts.WSPath == "" {
		opts.WSPath = opts.Prefix + "/ws"
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst == 0 {
		opts.Burst = max(DefaultBurst, int(2*opts.Rate))
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	g := &Guard{opts: opts, log: opts.Logger}
	g.tokenHash = sha256.Sum256([]byte(opts.Token))
	g.hosts, g.anyHost = hostNames(opts.Hostname, opts.AllowedHosts)
	if opts.Rate > 0 {
		g.limits = newLimiters(rate.Limit(opts.Rate), opts.Burst)
	}
	return g
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				g.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeJSON(w, http.StatusInternalServerError, map[string]any{"success": false, "message": "internal error"})
			}
		}()
		if wait, ok := g.allow(r); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"success": false,
				"message": "too many requests: the limit is " + strconv.FormatFloat(g.opts.Rate, 'f', -1, 64) + " per second per client address"})
			return
		}
		if !g.hostAllowed(r) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]any{"success": false,
				"message": "host " + quote(r.Host) + " is not a name of this server; add it with --allowed-host (\"allowed_hosts\" in the settings file) or set a token"})
			return
		}
		if g.cors(w, r) {
			return // preflight answered
		}
		if !g.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="towerd"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
			return
		}
		if changesState(r.Method) {
			if origin := r.Header.Get("Origin"); origin != "" && !g.sameOrAllowedOrigin(r, origin) {
				writeJSON(w, http.StatusForbidden, map[string]any{"success": false,
					"message": "origin " + quote(origin) + " is not allowed to change anything here; list it with --cors-origin"})
				return
			}
			if r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"success": false,
					"message": "request body must be JSON (Content-Type: application/json), not " + quote(r.Header.Get("Content-Type"))})
				return
			}
		}
		if r.ContentLength > g.opts.MaxBody {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"success": false,
				"message": "request body of " + strconv.FormatInt(r.ContentLength, 10) + " bytes exceeds the limit of " + strconv.FormatInt(g.opts.MaxBody, 10)})
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, g.opts.MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r may pass: no token configured, an open
// path, or the right token.
func (g *Guard) authorized(r *http.Request) bool {
	if g.opts.Token == "" || !strings.HasPrefix(r.URL.Path, g.opts.Prefix) && !slices.Contains(g.opts.AlsoProtected, r.URL.Path) {
		return true
	}
	for _, p := range g.opts.OpenPaths {
		if r.URL.Path == p {
			return true
		}
	}
	if tok, ok := BearerToken(r.Header.Get("Authorization")); ok && g.equal(tok) {
		return true
	}
	if r.URL.Path != g.opts.WSPath {
		return false
	}
	q := r.URL.Query()
	for _, k := range []string{"token", "access_token"} {
		if v := q.Get(k); v != "" && g.equal(v) {
			return true
		}
	}
	if tok, ok := ProtocolToken(r.Header.Values("Sec-WebSocket-Protocol")); ok && g.equal(tok) {
		return true
	}
	return false
}

// equal compares in constant time; hashing first makes the time
// independent of the lengths too.
func (g *Guard) equal(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], g.tokenHash[:]) == 1
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value; the scheme is case-insensitive.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// ProtocolToken finds the "bearer.<token>" entry among Sec-WebSocket-Protocol
// header values (each a comma-separated list).
func ProtocolToken(values []string) (string, bool) {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if len(p) > len(wsTokenPrefix) && strings.EqualFold(p[:len(wsTokenPrefix)], wsTokenPrefix) {
				return p[len(wsTokenPrefix):], true
			}
		}
	}
	return "", false
}

// cors sets the CORS headers for an allowed origin and answers preflight
// requests; it returns true when the request has been answered.
func (g *Guard) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(g.opts.CORSOrigins) == 0 {
		return false
	}
	allowed := g.originAllowed(origin)
	if allowed {
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if !allowed {
			writeJSON(w, http.StatusForbidden, map[string]any{"success": false, "message": "origin " + strconv.Quote(origin) + " is not allowed"})
			return true
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func (g *Guard) originAllowed(origin string) bool {
	for _, o := range g.opts.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// CheckOrigin is the WebSocket upgrader's origin check, the same as for
// state-changing requests: requests without an Origin (non-browser
// clients), same-host origins (the status page) and the CORS origins
// pass; any other site's page may not open the stream.
func (g *Guard) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || g.sameOrAllowedOrigin(r, origin)
}

// sameOrAllowedOrigin reports whether a browser origin is this server
// itself (its host and port are the request's Host) or a CORS origin.
func (g *Guard) sameOrAllowedOrigin(r *http.Request, origin string) bool {
	if g.originAllowed(origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return false // includes "null", sent by sandboxed frames and file: pages
	}
	return strings.EqualFold(u.Host, r.Host)
}

// changesState reports whether a method may change something.
func changesState(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// isJSON reports whether a Content-Type is application/json (parameters
// such as charset allowed). A browser can send text/plain,
// multipart/form-data and application/x-www-form-urlencoded cross-site
// without asking first; JSON needs a CORS preflight, which only the CORS
// origins pass.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// hostNames builds the set of names accepted in Host besides IP literals.
func hostNames(hostname string, extra []string) (map[string]bool, bool) {
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	set := map[string]bool{"localhost": true}
	if h := normalHost(hostname); h != "" {
		short, _, _ := strings.Cut(h, ".")
		for _, n := range []string{h, short, short + ".local"} {
			set[n] = true
		}
	}
	all := false
	for _, n := range extra {
		n = strings.TrimSpace(n)
		if n == "*" {
			all = true
		}
		if n = normalHost(n); n != "" {
			set[n] = true
		}
	}
	return set, all
}

// normalHost lowers a name and drops a port, IPv6 brackets and a trailing
// dot.
func normalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostAllowed is the DNS-rebinding check. With a token set, any Host
// passes: a page that rebinds a name to this server has no token. Without
// one, the Host must be an IP literal, localhost, this machine's name or
// a configured name. Requests without a Host (HTTP/1.0) pass: browsers
// always send one.
func (g *Guard) hostAllowed(r *http.Request) bool {
	if g.opts.Token != "" || g.anyHost || r.Host == "" {
		return true
	}
	h := normalHost(r.Host)
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return g.hosts[h]
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.QuoteToGraphic(s)
}

// allow applies the rate limit to r's client address.
func (g *Guard) allow(r *http.Request) (time.Duration, bool) {
	if g.limits == nil {
		return 0, true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() && !g.opts.LimitLoopback {
		return 0, true
	}
	return g.limits.allow(host, time.Now())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// limiters holds one token bucket per client address; buckets idle for
// longer than idleAfter are swept, and their number is capped so a flood
// of addresses cannot grow memory without bound.
type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*entry
	swept time.Time
}

type entry struct {
	l    *rate.Limiter
	seen time.Time
}

const (
	idleAfter  = time.Minute
	maxClients = 8192
)

func newLimiters(l rate.Limit, burst int) *limiters {
	return &limiters{limit: l, burst: burst, m: map[string]*entry{}}
}

func (ls *limiters) allow(addr string, now time.Time) (time.Duration, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.swept) > idleAfter || len(ls.m) >= maxClients {
		for k, e := range ls.m {
			if now.Sub(e.seen) > idleAfter {
				delete(ls.m, k)
			}
		}
		ls.swept = now
		if len(ls.m) >= maxClients { // still full: a flood; start over
			clear(ls.m)
		}
	}
	e := ls.m[addr]
	if e == nil {
		e = &entry{l: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[addr] = e
	}
	e.seen = now
	res := e.l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
