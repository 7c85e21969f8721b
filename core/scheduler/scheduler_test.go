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

// Ticks fall on one grid for every collector, so collectors with
// intervals that divide each other wake the agent together.
func TestTicksShareOneGrid(t *testing.T) {
	s := New(func(context.Context, string) {})
	e := s.epoch
	for _, c := range []struct {
		last     time.Duration // collect start, from the epoch
		interval time.Duration
		want     time.Duration
	}{
		{0, 10 * time.Second, 10 * time.Second},
		{10*time.Second + 3*time.Millisecond, 10 * time.Second, 20 * time.Second}, // a late tick stays on the grid
		{10*time.Second + 3*time.Millisecond, 5 * time.Second, 15 * time.Second},  // 5 s and 10 s meet at 20 s
		{3200 * time.Millisecond, 10 * time.Second, 10 * time.Second},             // triggered early: next grid point
		{9900 * time.Millisecond, 10 * time.Second, 20 * time.Second},             // triggered just before a tick: that tick is skipped
		{45 * time.Second, 15 * time.Second, 60 * time.Second},                    // 15 s meets 60 s
		{2*time.Minute + 500*time.Millisecond, time.Minute, 3 * time.Minute},      // and 60 s itself
		{7 * time.Second, 7 * time.Second, 14 * time.Second},                      // any interval
	} {
		if got := s.next(e.Add(c.last), c.interval).Sub(e); got != c.want {
			t.Errorf("next after a collect at %v, interval %v = %v, want %v", c.last, c.interval, got, c.want)
		}
	}
	// A collect that overran its interval skips the ticks it missed.
	past := time.Now().Add(-time.Hour)
	if got := s.next(past, 10*time.Second); got.Before(time.Now()) {
		t.Errorf("next tick %v is in the past", got)
	}
}
