package mqtt

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/towerd/towerd/core/client"
)

// Commands. A message on <base>/cmd/<path> is the REST request
// POST /api/v1/<path> with the payload as its body, served by the REST
// API's own handlers, so it is validated exactly as REST validates (same
// checks, same messages) and reaches the agent through the same Control.
// Only these paths are accepted (anything else is refused without
// reaching the API):
//
//	cmd/docker/<id|name>/<action>         start stop restart pause unpause
//	cmd/vm/<name>/<action>                start stop restart pause resume hibernate force-stop reset
//	cmd/disks/<id>/<spinup|spindown>
//	cmd/array/parity-check/<action>       start stop pause resume; payload {"correcting":true} for a correcting check
//	cmd/collectors/<name>/<enable|disable>
//	cmd/collectors/<name>/interval        payload {"interval":seconds} (PATCH)
//	cmd/collectors/<name>/actions/<action>
//	cmd/user-scripts/<name>/execute       payload {"background":bool,"wait":bool} (empty: background)
//	cmd/notifications/archive/all         archive every unread notification
//	cmd/notifications/<id>/<archive|unarchive>
//	cmd/fans/speed                        payload {"fan_id":"hwmon2_fan1","speed_percent":1-100}
//
// and, for Home Assistant switches, cmd/docker/<name>, cmd/vm/<name> and
// cmd/collectors/<name> with the action as the whole payload ("start",
// "stop", "enable", "disable").
//
// The outcome is published (not retained) to <base>/result as the REST
// body plus "command" (the path after cmd/) and "status" (the HTTP status
// REST would have answered).
//
// Anyone who may publish to <base>/cmd/# can act on the server: the
// broker's credentials and ACLs are the only guard (read_only turns
// commands off).

// maxCommandPayload matches the REST body limit.
const maxCommandPayload = 64 << 10

// route maps a command path to the REST method, path and body; ok false
// for a path that is not a command.
func route(levels []string, payload []byte) (method, path string, body []byte, ok bool) {
	esc := func(ls []string) string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = url.PathEscape(l)
		}
		return "/" + strings.Join(out, "/")
	}
	for _, l := range levels {
		if l == "" || l == "." || l == ".." { // the router would clean them into another path
			return "", "", nil, false
		}
	}
	word := strings.TrimSpace(string(payload))
	if word == "." || word == ".." {
		word = "" // an action word, never a path element
	}
	switch {
	case len(levels) == 3 && (levels[0] == "docker" || levels[0] == "vm" || levels[0] == "disks"):
		return http.MethodPost, esc(levels), payload, true
	case len(levels) == 2 && (levels[0] == "docker" || levels[0] == "vm"):
		return http.MethodPost, esc(append(levels, word)), nil, word != ""
	case len(levels) == 3 && levels[0] == "array" && levels[1] == "parity-check":
		p := esc(levels)
		var opt struct {
			Correcting *bool `json:"correcting"`
		}
		if levels[2] == "start" && json.Unmarshal(payload, &opt) == nil && opt.Correcting != nil {
			if *opt.Correcting {
				p += "?correcting=true"
			} else {
				p += "?correcting=false"
			}
			return http.MethodPost, p, nil, true
		}
		return http.MethodPost, p, payload, true
	case len(levels) == 3 && levels[0] == "collectors" && (levels[2] == "enable" || levels[2] == "disable"):
		return http.MethodPost, esc(levels), nil, true
	case len(levels) == 2 && levels[0] == "collectors" && (word == "enable" || word == "disable"):
		return http.MethodPost, esc(append(levels, word)), nil, true
	case len(levels) == 3 && levels[0] == "collectors" && levels[2] == "interval":
		return http.MethodPatch, esc(levels), payload, true
	case len(levels) == 4 && levels[0] == "collectors" && levels[2] == "actions":
		return http.MethodPost, esc(levels), payload, true
	case len(levels) == 3 && levels[0] == "user-scripts" && levels[2] == "execute":
		return http.MethodPost, esc(levels), payload, true
	case len(levels) == 3 && levels[0] == "notifications" &&
		(levels[1] == "archive" && levels[2] == "all" || levels[2] == "archive" || levels[2] == "unarchive"):
		return http.MethodPost, esc(levels), nil, true
	case len(levels) == 2 && levels[0] == "fans" && levels[1] == "speed":
		return http.MethodPost, esc(levels), payload, true
	}
	return "", "", nil, false
}

// onCommand runs in the client's goroutine: it hands the command to a
// goroutine of its own (at most four at once; beyond that the command is
// refused as busy), because an action may take up to a minute.
func (o *Output) onCommand(_ paho.Client, m paho.Message) {
	cmd := strings.TrimPrefix(m.Topic(), o.topic("cmd/"))
	payload := append([]byte(nil), m.Payload()...)
	select {
	case o.cmdSem <- struct{}{}:
	default:
		o.publishResult(cmd, http.StatusServiceUnavailable, false, "busy: too many commands running; try again")
		return
	}
	o.cmdMu.Lock()
	if o.cmdClosed {
		o.cmdMu.Unlock()
		<-o.cmdSem
		return
	}
	o.cmdWG.Add(1)
	o.cmdMu.Unlock()
	go func() {
		defer func() { <-o.cmdSem; o.cmdWG.Done() }()
		o.execute(cmd, payload)
	}()
}

func (o *Output) execute(cmd string, payload []byte) {
	if len(payload) > maxCommandPayload {
		o.publishResult(cmd, http.StatusRequestEntityTooLarge, false, "payload too large")
		return
	}
	method, path, body, ok := route(strings.Split(cmd, "/"), payload)
	if !ok {
		o.publishResult(cmd, http.StatusNotFound, false, "unknown command "+quote(cmd)+"; see the README for the command topics")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	status, answer, err := client.Serve(ctx, o.opts.Commands, method, path, body)
	if err != nil {
		o.publishResult(cmd, http.StatusBadRequest, false, "invalid command "+quote(cmd))
		return
	}
	var res map[string]any
	if json.Unmarshal(answer, &res) != nil {
		res = map[string]any{"success": false, "message": strings.TrimSpace(string(answer))}
	}
	res["command"], res["status"] = cmd, status
	if _, ok := res["success"]; !ok {
		res["success"] = status < 300
	}
	o.log.Info("mqtt command", "command", cmd, "status", status)
	b, _ := json.Marshal(res)
	o.client.Publish(o.topic("result"), 1, false, b)
	o.signal() // a collector disabled: the worker clears its topics now, not at the next event
}

func (o *Output) publishResult(cmd string, status int, success bool, msg string) {
	b, _ := json.Marshal(map[string]any{"command": cmd, "status": status, "success": success, "message": msg,
		"timestamp": time.Now().Format(time.RFC3339)})
	o.client.Publish(o.topic("result"), 1, false, b)
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
