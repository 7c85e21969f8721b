package mqtt

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// nextParityCheck derives {"next_check": RFC 3339 | null} from the parity
// schedule payload: the next time its check cron line (the line the webGui
// writes into parity-check.cron) fires, in the server's local time. Null
// when the schedule is off or the line cannot be read.
func nextParityCheck(data []byte) []byte {
	var s struct {
		Enabled   bool   `json:"enabled"`
		CheckCron string `json:"check_cron"`
	}
	var next any
	if json.Unmarshal(data, &s) == nil && s.Enabled && s.CheckCron != "" {
		if t, ok := cronNext(s.CheckCron, now()); ok {
			next = t.Format(time.RFC3339)
		}
	}
	b, _ := json.Marshal(map[string]any{"next_check": next})
	return b
}

// now is time.Now, replaceable in tests.
var now = time.Now

// cronNext returns the first minute after from that the five-field cron
// expression spec matches (numbers, *, lists, ranges, /steps; day of month
// and day of week OR-ed when both are restricted, as cron does). It looks
// up to five years ahead.
func cronNext(spec string, from time.Time) (time.Time, bool) {
	f := strings.Fields(spec)
	if len(f) != 5 {
		return time.Time{}, false
	}
	limits := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	var sets [5]map[int]bool
	for i := range f {
		s, ok := cronField(f[i], limits[i][0], limits[i][1])
		if !ok {
			return time.Time{}, false
		}
		sets[i] = s
	}
	if sets[4][7] {
		sets[4][0] = true // 7 is Sunday too
	}
	domAny, dowAny := f[2] == "*", f[4] == "*"
	t := from.Truncate(time.Minute).Add(time.Minute)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	for d := 0; d < 5*366; d++ {
		date := day.AddDate(0, 0, d)
		if !sets[3][int(date.Month())] {
			continue
		}
		dom, dow := sets[2][date.Day()], sets[4][int(date.Weekday())]
		switch {
		case domAny && dowAny:
		case domAny:
			if !dow {
				continue
			}
		case dowAny:
			if !dom {
				continue
			}
		default:
			if !dom && !dow {
				continue
			}
		}
		for h := 0; h < 24; h++ {
			if !sets[1][h] {
				continue
			}
			for m := 0; m < 60; m++ {
				if !sets[0][m] {
					continue
				}
				c := time.Date(date.Year(), date.Month(), date.Day(), h, m, 0, 0, date.Location())
				if !c.Before(t) {
					return c, true
				}
			}
		}
	}
	return time.Time{}, false
}

// cronField parses one cron field into the set of values it allows.
func cronField(s string, lo, hi int) (map[int]bool, bool) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		step := 1
		if i := strings.IndexByte(part, '/'); i >= 0 {
			n, err := strconv.Atoi(part[i+1:])
			if err != nil || n < 1 {
				return nil, false
			}
			step, part = n, part[:i]
		}
		a, b := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			x, y, _ := strings.Cut(part, "-")
			var e1, e2 error
			a, e1 = strconv.Atoi(x)
			b, e2 = strconv.Atoi(y)
			if e1 != nil || e2 != nil {
				return nil, false
			}
		default:
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil, false
			}
			a, b = n, n
			if step > 1 { // "5/15": from 5 to the end
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return nil, false
		}
		for v := a; v <= b; v += step {
			out[v] = true
		}
	}
	return out, true
}
