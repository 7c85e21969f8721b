package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk/plugintest"
)

type recorder struct {
	mu       sync.Mutex
	starts   []time.Time
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	work     time.Duration
}

func (r *recorder) collect(ctx context.Context, _ string) {
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	if n > r.maxSeen.Load() {
		r.maxSeen.Store(n)
	}
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	r.mu.Unlock()
	select {
	case <-time.After(r.work):
	case <-ctx.Done():
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts)
}

func TestFirstCollectWaitsForTrigger(t *testing.T) {
	r := &recorder{}
	s := New(r.collect)
	defer s.StopAll()
	s.Start("x", 20*time.Millisecond, time.Second)
	time.Sleep(100 * time.Millisecond) // asserting that nothing happens needs a wait
	if n := r.count(); n != 0 {
		t.Fatalf("collected %d times before the plugin was ready", n)
	}
	s.Trigger("x")
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() >= 3 }, "no ticks after the trigger")
}

// A collect slower than the interval never overlaps the next one; missed
// ticks are skipped.
func TestSlowCollectDoesNotPileUp(t *testing.T) {
	r := &recorder{work: 120 * time.Millisecond}
	s := New(r.collect)
	s.Start("x", 30*time.Millisecond, time.Second)
	s.Trigger("x")
	plugintest.Eventually(t, 5*time.Second, func() bool { return r.count() >= 5 }, "too few collects")
	s.StopAll()
	if m := r.maxSeen.Load(); m != 1 {
		t.Errorf("%d collects ran at once, want 1", m)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i < len(r.starts); i++ {
		if gap := r.starts[i].Sub(r.starts[i-1]); gap < 120*time.Millisecond {
			t.Errorf("collect %d started %v after the previous one, before it could have finished", i, gap)
		}
	}
}

func TestTimeoutCancelsCollect(t *testing.T) {
	r := &recorder{work: time.Hour}
	s := New(r.collect)
	defer s.StopAll()
	s.Start("x", time.Hour, 50*time.Millisecond)
	s.Trigger("x")
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() == 1 && r.inFlight.Load() == 0 }, "collect was not cancelled at its deadline")
}

func TestIntervalChangeAppliesAtOnce(t *testing.T) {
	r := &recorder{}
	s := New(r.collect)
	defer s.StopAll()
	s.Start("x", time.Hour, time.Second)
	s.Trigger("x")
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() == 1 }, "no first collect")
	s.SetInterval("x", 20*time.Millisecond, time.Second)
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() >= 4 }, "new interval not applied")
}

func TestStopEndsTheJob(t *testing.T) {
	r := &recorder{}
	s := New(r.collect)
	s.Start("x", 10*time.Millisecond, time.Second)
	s.Trigger("x")
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() >= 2 }, "no collects")
	s.Stop("x")
	n := r.count()
	time.Sleep(50 * time.Millisecond) // asserting that nothing happens needs a wait
	if r.count() != n {
		t.Errorf("collects continued after Stop")
	}
	s.Trigger("x") // no job: must not panic or block
}

func TestTimeoutBounds(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		time.Second: 2 * time.Second, 5 * time.Second: 5 * time.Second, time.Hour: 30 * time.Second,
	} {
		if got := Timeout(in); got != want {
			t.Errorf("Timeout(%v) = %v, want %v", in, got, want)
		}
	}
}

// Whatever duration it is handed (zero, negative, a nanosecond: what an
// overflowing interval from a settings file used to become), a job never
// spins: collects stay at most one per MinTick, Stop returns at once, and
// a zero deadline is replaced by the default rather than failing every
// collect.
func TestAnyDurationIsSafe(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, time.Duration(-1 << 63), time.Nanosecond, time.Duration(1<<63 - 1)} {
		r := &recorder{work: 15 * time.Millisecond}
		var deadlines []time.Duration
		var mu sync.Mutex
		s := New(func(ctx context.Context, name string) {
			dl, _ := ctx.Deadline()
			mu.Lock()
			deadlines = append(deadlines, time.Until(dl))
			mu.Unlock()
			r.collect(ctx, name)
		})
		s.Start("x", d, 0)
		s.Trigger("x")
		start := time.Now()
		time.Sleep(200 * time.Millisecond) // measuring a rate needs a window
		stopped := make(chan struct{})
		go func() { s.Stop("x"); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			t.Fatalf("interval %v: Stop did not return (the job loop spins)", d)
		}
		elapsed := time.Since(start)
		if n, most := r.count(), int(elapsed/MinTick)+2; n < 1 || n > most {
			t.Errorf("interval %v: %d collects in %v, want 1 to %d", d, n, elapsed, most)
		}
		mu.Lock()
		if len(deadlines) == 0 || deadlines[0] <= 0 {
			t.Errorf("interval %v: collect deadline %v, want a positive default", d, deadlines)
		}
		mu.Unlock()
	}
}

// Settings changed at run time are bounded the same way.
func TestSetIntervalAnyDurationIsSafe(t *testing.T) {
	r := &recorder{}
	s := New(r.collect)
	s.Start("x", time.Hour, time.Second)
	s.Trigger("x")
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() == 1 }, "no first collect")
	s.SetInterval("x", -time.Second, -time.Second)
	plugintest.Eventually(t, 2*time.Second, func() bool { return r.count() >= 3 }, "no ticks at the floor interval")
	stopped := make(chan struct{})
	go func() { s.Stop("x"); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop did not return (the job loop spins)")
	}
}
