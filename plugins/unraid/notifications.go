package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Notifications: the .notify files of Unraid's notification system, in
// <path>/unread and <path>/archive, where path is [notify] path= in
// dynamix.cfg (the webGui's default is /tmp/notifications).
const (
	defaultNotifyPath = "/tmp/notifications"
	maxNotifyFile     = 64 << 10 // a .notify file is a few hundred bytes
	// The payload lists at most this many of each kind, newest first; the
	// overview counts them all. An archive of years would otherwise grow
	// the payload past the core's 8 MiB limit.
	maxListed = 500
)

// NotificationCounts are the counts per importance; info includes normal.
type NotificationCounts struct {
	Info    int `json:"info"`
	Warning int `json:"warning"`
	Alert   int `json:"alert"`
	Total   int `json:"total"`
}

// NotificationOverview counts unread and archived notifications.
type NotificationOverview struct {
	Unread  NotificationCounts `json:"unread"`
	Archive NotificationCounts `json:"archive"`
}

// Notification is one .notify file.
type Notification struct {
	ID                 string `json:"id"`
	Title              string `json:"title"`
	Subject            string `json:"subject"`
	Description        string `json:"description"`
	Importance         string `json:"importance"`
	Link               string `json:"link,omitempty"`
	Timestamp          string `json:"timestamp"`
	FormattedTimestamp string `json:"formatted_timestamp"`
	Type               string `json:"type"` // unread or archive
	time               time.Time
}

// InvalidFile names a file that could not be read, and why.
type InvalidFile struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Error string `json:"error"`
}

// Notifications is the payload of notifications_update.
type Notifications struct {
	Overview      NotificationOverview `json:"overview"`
	Notifications []Notification       `json:"notifications"`
	TotalCount    int                  `json:"total_count"`
	Invalid       []InvalidFile        `json:"invalid,omitempty"`
	Timestamp     time.Time            `json:"timestamp"`
}

func newNotifications() *collector {
	c := newCollector(sdk.Info{
		Name:            "notification",
		Topic:           "notifications_update",
		Description:     "Unraid notifications (.notify files): list, counts per importance; create, archive, unarchive, delete",
		DefaultInterval: 15 * time.Second,
		Actions:         []string{"create", "archive", "archive-all", "unarchive", "delete"},
		// The webGui's default folder; a custom [notify] path is still
		// read at every interval, only without the instant update.
		WatchPaths: []string{"tmp/notifications/unread", "tmp/notifications/archive"},
	}, nil)
	cache := &notifyCache{}
	c.CollectFunc = func(ctx context.Context, c *collector) (any, error) { return collectNotifications(ctx, c, cache) }
	c.ActFunc = actNotifications
	return c
}

// notifyDir is the notification folder under the root.
func notifyDir(c *collector) (string, error) {
	p := defaultNotifyPath
	f, err := readIni(c, unraid.DynamixCfg)
	if err != nil {
		return "", err
	}
	if v := f.Section("notify").String("path"); v != "" {
		p = v
	}
	if !path.IsAbs(p) || strings.Contains(p, "..") {
		return "", fmt.Errorf("%s: [notify] path %q must be an absolute path without ..", unraid.DynamixCfg, p)
	}
	return c.Path(strings.TrimPrefix(p, "/")), nil
}

func collectNotifications(_ context.Context, c *collector, cache *notifyCache) (any, error) {
	out := Notifications{Notifications: []Notification{}, Timestamp: time.Now()}
	dir, err := notifyDir(c)
	if err != nil {
		return nil, err
	}
	for _, kind := range []string{"unread", "archive"} {
		counts := &out.Overview.Unread
		if kind == "archive" {
			counts = &out.Overview.Archive
		}
		list, invalid := cache.readDir(dir+"/"+kind, kind)
		out.Invalid = append(out.Invalid, invalid...)
		for _, n := range list {
			switch strings.ToLower(n.Importance) {
			case "alert":
				counts.Alert++
			case "warning":
				counts.Warning++
			case "info", "normal":
				counts.Info++
			}
		}
		counts.Total = counts.Info + counts.Warning + counts.Alert
		if len(list) > maxListed {
			list = list[:maxListed]
		}
		out.Notifications = append(out.Notifications, list...)
	}
	out.TotalCount = out.Overview.Unread.Total + out.Overview.Archive.Total
	return out, nil
}

// notifyCache keeps each parsed file while its size and mtime stay the
// same: an archive of thousands of notifications is then listed with one
// stat per file per collect instead of a read and a parse.
type notifyCache struct {
	mu sync.Mutex
	m  map[string]cachedNotify // by path
}

type cachedNotify struct {
	size  int64
	mtime time.Time
	n     Notification
	err   string
}

// maxCached bounds the cache; past it files are parsed on every collect.
const maxCached = 5000

// readDir reads every *.notify file of dir, newest first. A missing folder
// is empty; a file that cannot be parsed is reported, not fatal.
func (nc *notifyCache) readDir(dir, kind string) ([]Notification, []InvalidFile) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, []InvalidFile{{ID: "", Type: kind, Error: err.Error()}}
		}
		return nil, nil
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.m == nil {
		nc.m = map[string]cachedNotify{}
	}
	seen := map[string]bool{}
	var list []Notification
	var invalid []InvalidFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".notify") {
			continue
		}
		p := dir + "/" + e.Name()
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		seen[p] = true
		ce, ok := nc.m[p]
		if !ok || ce.size != info.Size() || !ce.mtime.Equal(info.ModTime()) {
			ce = cachedNotify{size: info.Size(), mtime: info.ModTime()}
			ce.n, err = readNotify(p, kind)
			if err != nil {
				ce.err = err.Error()
			}
			if len(nc.m) < maxCached {
				nc.m[p] = ce
			}
		}
		if ce.err != "" {
			invalid = append(invalid, InvalidFile{ID: e.Name(), Type: kind, Error: ce.err})
			continue
		}
		list = append(list, ce.n)
	}
	for p := range nc.m { // forget files of this folder that are gone
		if strings.HasPrefix(p, dir+"/") && !seen[p] {
			delete(nc.m, p)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].time.Equal(list[j].time) {
			return list[i].time.After(list[j].time)
		}
		return list[i].ID > list[j].ID
	})
	return list, invalid
}

// readNotify parses one .notify file: key=value lines (Unraid's ini
// dialect), values possibly quoted with backslash escapes.
func readNotify(p, kind string) (Notification, error) {
	b, err := readSmall(p, maxNotifyFile)
	if err != nil {
		return Notification{}, err
	}
	f, err := unraid.Parse(path.Base(p), bytes.NewReader(b))
	if err != nil {
		return Notification{}, err
	}
	g := f.Global
	n := Notification{
		ID:          path.Base(p),
		Title:       unescape(g.String("event")),
		Subject:     unescape(g.String("subject")),
		Description: unescape(g.String("description")),
		Importance:  unescape(g.String("importance")),
		Link:        unescape(g.String("link")),
		Type:        kind,
	}
	if n.Importance == "" {
		n.Importance = "normal"
	}
	n.time = notifyTime(g.String("timestamp"))
	if n.time.IsZero() {
		if st, err := os.Stat(p); err == nil {
			n.time = st.ModTime()
		}
	}
	n.Timestamp = rfc3339(n.time)
	n.FormattedTimestamp = n.Timestamp
	return n, nil
}

// notifyTime reads timestamp=: epoch seconds (stock) or "2006-01-02
// 15:04:05" (UTC); zero when neither.
func notifyTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	if t, err := time.Parse("2006-01-02 15:04:05", s); err == nil {
		return t
	}
	return time.Time{}
}

// unescape drops each backslash that precedes a character, as PHP's
// notify script escapes quotes and backslashes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// notifyID is a .notify file name: one path element, no "..".
var notifyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.,@()+-]{0,250}\.notify$`)

func validNotifyID(id string) error {
	if !notifyID.MatchString(id) || strings.Contains(id, "..") {
		return fmt.Errorf("invalid notification id %q: a .notify file name (letters, digits, space, _ . , @ ( ) + -; no ..): %w", clip(id), sdk.ErrInvalidArgument)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func actNotifications(_ context.Context, c *collector, a sdk.Action) (string, error) {
	dir, err := notifyDir(c)
	if err != nil {
		return "", err
	}
	if a.Name == "create" {
		return createNotification(dir, a.Params)
	}
	if a.Name == "archive-all" {
		return archiveAll(dir)
	}
	if err := validNotifyID(a.Target); err != nil {
		return "", err
	}
	// os.Root keeps every operation inside the notification folder, even
	// through a symlink planted there.
	r, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("notification %s: %w", a.Target, sdk.ErrNotFound)
		}
		return "", fmt.Errorf("open %s: %w", dir, err)
	}
	defer r.Close()
	unread, archive := "unread/"+a.Target, "archive/"+a.Target
	switch a.Name {
	case "archive":
		if !exists(r, unread) {
			return "", fmt.Errorf("no unread notification %s: %w", a.Target, sdk.ErrNotFound)
		}
		if err := move(r, unread, archive); err != nil {
			return "", err
		}
		return "Notification " + a.Target + " archived", nil
	case "unarchive":
		if !exists(r, archive) {
			return "", fmt.Errorf("no archived notification %s: %w", a.Target, sdk.ErrNotFound)
		}
		if err := move(r, archive, unread); err != nil {
			return "", err
		}
		return "Notification " + a.Target + " moved back to unread", nil
	case "delete":
		found := false
		for _, p := range []string{unread, archive} {
			if exists(r, p) {
				found = true
				if err := r.Remove(p); err != nil {
					return "", fmt.Errorf("delete %s: %w", p, err)
				}
			}
		}
		if !found {
			return "", fmt.Errorf("notification %s: %w", a.Target, sdk.ErrNotFound)
		}
		return "Notification " + a.Target + " deleted", nil
	}
	return "", fmt.Errorf("action %q: %w", a.Name, sdk.ErrUnsupported)
}

func exists(r *os.Root, name string) bool {
	st, err := r.Lstat(name)
	return err == nil && st.Mode().IsRegular()
}

// move renames from to, creating the target folder. When the target
// already exists (the stock notify script writes an archive copy at
// creation) the source is only removed.
func move(r *os.Root, from, to string) error {
	if err := r.MkdirAll(path.Dir(to), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", path.Dir(to), err)
	}
	if exists(r, to) {
		return r.Remove(from)
	}
	if err := r.Rename(from, to); err != nil {
		return fmt.Errorf("move %s to %s: %w", from, to, err)
	}
	return nil
}

func archiveAll(dir string) (string, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "No unread notifications", nil
		}
		return "", fmt.Errorf("open %s: %w", dir, err)
	}
	defer r.Close()
	entries, err := fs.ReadDir(r.FS(), "unread")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "No unread notifications", nil
		}
		return "", fmt.Errorf("read %s/unread: %w", dir, err)
	}
	moved, failed := 0, 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".notify") {
			continue
		}
		if err := move(r, "unread/"+e.Name(), "archive/"+e.Name()); err != nil {
			failed++
			log.Warn("archive notification failed", "file", e.Name(), "error", err)
			continue
		}
		moved++
	}
	msg := fmt.Sprintf("All notifications archived (%d)", moved)
	if failed > 0 {
		msg += fmt.Sprintf("; %d could not be moved", failed)
	}
	return msg, nil
}

var importanceOK = map[string]bool{"normal": true, "info": true, "warning": true, "alert": true}

// createNotification writes a new unread .notify file in the stock format.
func createNotification(dir string, p map[string]string) (string, error) {
	title, subject, desc := p["title"], p["subject"], p["description"]
	imp := p["importance"]
	if imp == "" {
		imp = "normal"
	}
	if title == "" && subject == "" {
		return "", fmt.Errorf("a notification needs a title or a subject: %w", sdk.ErrInvalidArgument)
	}
	if !importanceOK[imp] {
		return "", fmt.Errorf("importance %q: one of normal, info, warning, alert: %w", clip(imp), sdk.ErrInvalidArgument)
	}
	for k, v := range map[string]string{"title": title, "subject": subject, "description": desc, "link": p["link"]} {
		if len(v) > 4096 || strings.ContainsAny(v, "\x00\r\n") {
			return "", fmt.Errorf("%s: at most 4096 characters, one line: %w", k, sdk.ErrInvalidArgument)
		}
	}
	if title == "" {
		title = subject
	}
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "timestamp=%d\n", now.Unix())
	for _, kv := range [][2]string{{"event", title}, {"subject", subject}, {"description", desc}, {"importance", imp}, {"link", p["link"]}} {
		if kv[0] == "link" && kv[1] == "" {
			continue
		}
		fmt.Fprintf(&b, "%s=\"%s\"\n", kv[0], escape(kv[1]))
	}
	if err := os.MkdirAll(dir+"/unread", 0o755); err != nil {
		return "", fmt.Errorf("create %s/unread: %w", dir, err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer r.Close()
	base := safeEvent(title)
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("%s_%d.notify", base, now.Unix()+int64(i))
		f, err := r.OpenFile("unread/"+name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create notification: %w", err)
		}
		_, werr := f.WriteString(b.String())
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = r.Remove("unread/" + name)
			return "", fmt.Errorf("write %s: %w", name, werr)
		}
		return "Notification created: " + name, nil
	}
	return "", fmt.Errorf("no free file name for the notification: %w", sdk.ErrConflict)
}

// safeEvent makes the event a file name part, as the stock script does.
func safeEvent(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == ' ' || r == '_':
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if b.Len() == 0 || b.String()[0] == '-' || b.String()[0] == '_' {
		return "towerd" + b.String()
	}
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
