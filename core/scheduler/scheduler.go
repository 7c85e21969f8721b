// Package scheduler decides when each collector runs: one timer per
// collector at its interval, never more than one collect in flight per
// collector (a slow plugin makes ticks get skipped, not pile up), interval
// changes applied at once, and an immediate collect on demand (Trigger:
// after a plugin restart, a state file change or an action).
//
// Ticks fall on one grid shared by every collector (multiples of the
// interval since the scheduler started), so collectors whose intervals
// divide each other (5, 10, 15, 30, 60 s) run at the same instants: an
// idle agent wakes once per 5 s instead of once per collect.
package scheduler

import (
	"context"
	"sync"
	"time"
)

// CollectFunc runs one collect of the named collector. ctx carries the
// collector's deadline.
type CollectFunc func(ctx context.Context, name string)

// Scheduler runs the jobs.
type Scheduler struct {
	collect CollectFunc
	epoch   time.Time // origin of the tick grid
	mu      sync.Mutex
	jobs    map[string]*job
}

// New returns a scheduler that calls collect.
func New(collect CollectFunc) *Scheduler {
	return &Scheduler{collect: collect, jobs: map[string]*job{}, epoch: time.Now()}
}

type job struct {
	name     string
	settings chan settings // capacity 1; holds the newest unapplied settings
	trigger  chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Timeout returns the deadline for a collect at interval: the interval
// itself, between 2 s and 30 s, unless configured.
func Timeout(interval time.Duration) time.Duration {
	return min(max(interval, 2*time.Second), 30*time.Second)
}

// MinTick is the shortest interval the scheduler runs at, whatever it is
// handed. Callers validate intervals (5 s to a day, core/config); this
// floor only makes sure that a bad value that slips through, zero or
// negative after an overflow, makes a job slow rather than a loop that
// spins a core.
const MinTick = 10 * time.Millisecond

// sane bounds what a job runs with: an interval below MinTick becomes
// MinTick, a deadline that is not positive becomes Timeout(interval).
func sane(v settings) settings {
	v.interval = max(v.interval, MinTick)
	if v.timeout <= 0 {
		v.timeout = Timeout(v.interval)
	}
	return v
}

// Start schedules name every interval with the given collect timeout. The
// first collect happens on the first Trigger (when the plugin is ready),
// so a job never collects from a plugin that has not started yet. Starting
// a scheduled job only updates its interval and timeout.
func (s *Scheduler) Start(name string, interval, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[name]; ok {
		j.set(settings{interval, timeout})
		return
	}
	j := &job{
		name:     name,
		settings: make(chan settings, 1),
		trigger:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.jobs[name] = j
	go s.loop(j, interval, timeout)
}

// Trigger asks for a collect of name now. Triggers coalesce: while a
// collect runs, any number of them leave exactly one collect pending
// behind it, so a storm of requests never piles collects up.
func (s *Scheduler) Trigger(name string) {
	s.mu.Lock()
	j := s.jobs[name]
	s.mu.Unlock()
	if j == nil {
		return
	}
	select {
	case j.trigger <- struct{}{}:
	default:
	}
}

// SetInterval changes name's interval; it applies to the next tick.
func (s *Scheduler) SetInterval(name string, interval, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[name]; ok {
		j.set(settings{interval, timeout})
	}
}

type settings struct{ interval, timeout time.Duration }

// set replaces any pending settings without blocking; callers hold s.mu,
// so there is one writer at a time.
func (j *job) set(v settings) {
	select {
	case <-j.settings:
	default:
	}
	j.settings <- sane(v)
}

// Stop unschedules name and waits for a running collect to finish.
func (s *Scheduler) Stop(name string) {
	s.mu.Lock()
	j := s.jobs[name]
	delete(s.jobs, name)
	s.mu.Unlock()
	if j != nil {
		close(j.stop)
		<-j.done
	}
}

// StopAll unschedules every job.
func (s *Scheduler) StopAll() {
	s.mu.Lock()
	jobs := s.jobs
	s.jobs = map[string]*job{}
	s.mu.Unlock()
	for _, j := range jobs {
		close(j.stop)
	}
	for _, j := range jobs {
		<-j.done
	}
}

func (s *Scheduler) loop(j *job, interval, timeout time.Duration) {
	defer close(j.done)
	first := sane(settings{interval, timeout})
	interval, timeout = first.interval, first.timeout
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-j.stop; cancel() }()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	var last time.Time // when the last collect started
	run := func() {
		last = time.Now()
		cctx, ccancel := context.WithTimeout(ctx, timeout)
		s.collect(cctx, j.name)
		ccancel()
		timer.Reset(time.Until(s.next(last, interval)))
		armed = true
	}
	for {
		select {
		case <-j.stop:
			timer.Stop()
			return
		case v := <-j.settings:
			interval, timeout = v.interval, v.timeout
			if armed {
				timer.Stop()
				timer.Reset(max(time.Until(s.next(last, interval)), 0))
			}
		case <-j.trigger:
			timer.Stop()
			run()
		case <-timer.C:
			run()
		}
	}
}

// next is the tick after a collect that started at last: the first grid
// point at least half an interval after it (so a triggered collect just
// before a tick does not run twice in a row) and not in the past (if the
// collect took longer than the interval, the missed ticks are skipped).
func (s *Scheduler) next(last time.Time, interval time.Duration) time.Time {
	from := last.Add(interval / 2)
	if now := time.Now(); from.Before(now) {
		from = now
	}
	// Rounded up without adding interval-1 first, which overflows for
	// the huge intervals an unchecked caller may hand in.
	tick := s.epoch.Add(from.Sub(s.epoch) / interval * interval)
	if tick.Before(from) {
		tick = tick.Add(interval)
	}
	return tick
}
