package e2e

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/core/diag"
	"github.com/towerd/towerd/sdk/schema"
)

// Chaos: with ten WebSocket clients connected, plugins are killed with
// SIGKILL at random, TOWERD_CHAOS_KILLS times (default 15) spread over
// TOWERD_CHAOS_SECONDS (default 10); `make chaos` runs 100 over 60 s.
// Every plugin comes back, every topic resumes for every client, no client
// is disconnected, the core's memory stays bounded, its goroutines return
// to where they were, and no zombie is left.
func TestChaosKillPlugins(t *testing.T) {
	t.Parallel()
	kills := envInt("TOWERD_CHAOS_KILLS", 15)
	span := time.Duration(envInt("TOWERD_CHAOS_SECONDS", 10)) * time.Second
	const rssBound = 96 << 20 // the core, not its plugins

	names := []string{"system", "network", "echo1", "echo2", "echo3"}
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system", "network"), coretest.TestPlugins(t, "echo1", "echo2", "echo3")),
		Args:    []string{"--debug-runtime", "--interval-network", "5"},
	})
	topics := map[string]bool{schema.TopicSystem: true, schema.TopicNetwork: true,
		"echo1_update": true, "echo2_update": true, "echo3_update": true}
	for _, n := range names {
		a.WaitCollector(t, n, 20*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	}
	var clients []*coretest.WS
	for i := 0; i < 10; i++ {
		ws := a.Dial(t)
		seen := map[string]bool{}
		for len(seen) < len(names) { // the snapshot on connect
			if ev := ws.Next(t, 20*time.Second); topics[ev.Topic] {
				seen[ev.Topic] = true
			}
		}
		clients = append(clients, ws)
	}
	var before diag.Runtime
	a.GetJSON(t, "/api/v1/debug/runtime", &before)

	pace := time.NewTicker(span / time.Duration(kills))
	defer pace.Stop()
	started := time.Now()
	done, maxRSS, rounds := 0, before.RSSBytes, 0
	var lastKill time.Time
	killed := map[int]bool{}
	for done < kills {
		<-pace.C
		rounds++
		if rounds > kills*20 {
			t.Fatalf("only %d of %d kills in %d rounds: plugins are not coming back\n%s", done, kills, rounds, a)
		}
		if st, ok := readProc(a.PID()); ok {
			maxRSS = max(maxRSS, st.RSS)
		}
		// Pick a running plugin whose reported PID is a live process of
		// this agent (never signal a PID that may have been reused).
		live := a.PluginProcesses()
		var pids []int
		for _, n := range names {
			if c := a.Collector(t, n); c.Status == "running" && slices.Contains(live, c.PID) {
				pids = append(pids, c.PID)
			}
		}
		if len(pids) == 0 {
			continue
		}
		pid := pids[rand.IntN(len(pids))]
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed[pid] = true
			done++
			lastKill = time.Now()
		}
	}
	t.Logf("%d kills in %v", done, time.Since(started).Round(time.Millisecond))

	restarts := 0
	for _, n := range names {
		// A killed process may still show as running for the moment before
		// its exit is noticed: wait for a PID that was never killed.
		c := a.WaitCollector(t, n, 20*time.Second, func(c coretest.Collector) bool {
			return c.Status == "running" && c.PID > 0 && !killed[c.PID]
		})
		restarts += c.Restarts
	}
	if restarts != done {
		t.Errorf("restarts counted %d, kills %d", restarts, done)
	}
	disconnects := 0
	for i, ws := range clients {
		resumed := map[string]bool{}
		deadline := time.Now().Add(20 * time.Second)
		for len(resumed) < len(names) {
			ev := ws.Next(t, time.Until(deadline))
			if ev.Timestamp.After(lastKill) && topics[ev.Topic] {
				resumed[ev.Topic] = true
			}
		}
		if closed, err := ws.Closed(); closed {
			disconnects++
			t.Errorf("client %d disconnected: %v", i, err)
		}
	}
	var after diag.Runtime
	deadline := time.Now().Add(15 * time.Second)
	for {
		a.GetJSON(t, "/api/v1/debug/runtime", &after)
		if after.Goroutines <= before.Goroutines+3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after.Goroutines > before.Goroutines+3 {
		t.Errorf("goroutines %d before, %d after: a leak", before.Goroutines, after.Goroutines)
	}
	if z := zombies(a.PID()); len(z) > 0 {
		t.Errorf("zombie plugin processes: %v", z)
	}
	if n := len(a.PluginProcesses()); n != len(names) {
		t.Errorf("%d plugin processes, want %d", n, len(names))
	}
	maxRSS = max(maxRSS, after.RSSBytes)
	if maxRSS > rssBound {
		t.Errorf("core RSS reached %d MiB, bound %d MiB", maxRSS>>20, rssBound>>20)
	}
	t.Logf("CHAOS kills=%d restarts=%d disconnects=%d/%d core_rss_start=%.1fMiB core_rss_max=%.1fMiB goroutines_before=%d after=%d",
		done, restarts, disconnects, len(clients), float64(before.RSSBytes)/(1<<20), float64(maxRSS)/(1<<20), before.Goroutines, after.Goroutines)
}
