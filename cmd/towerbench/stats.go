package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Latency summarises publish→receive times in milliseconds.
type Latency struct {
	Samples int     `json:"samples"`
	Events  int     `json:"events"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

// latencies measures every event (of topics, if not nil) as seen by every
// client: receive time minus the envelope's publish timestamp.
func latencies(evs []event, topics map[string]bool) Latency {
	var ms []float64
	distinct := map[string]bool{}
	for _, e := range evs {
		if topics != nil && !topics[e.Topic] {
			continue
		}
		ms = append(ms, float64(e.Recv.Sub(e.Stamp).Microseconds())/1000)
		distinct[e.Topic+e.Stamp.String()] = true
	}
	sort.Float64s(ms)
	l := Latency{Samples: len(ms), Events: len(distinct)}
	if len(ms) > 0 {
		l.P50, l.P99, l.Max = percentile(ms, 50), percentile(ms, 99), ms[len(ms)-1]
	}
	return l
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// IntervalStat is how regular one topic's events were.
type IntervalStat struct {
	Topic    string  `json:"topic"`
	Expected float64 `json:"expected_s"`
	Count    int     `json:"intervals"`
	Mean     float64 `json:"mean_s"`
	Min      float64 `json:"min_s"`
	Max      float64 `json:"max_s"`
	SpreadMS float64 `json:"spread_ms"` // max - min
}

func intervalStats(evs []event, topics map[string]string, expected map[string]time.Duration) []IntervalStat {
	by := map[string][]time.Time{}
	for _, e := range evs {
		by[e.Topic] = append(by[e.Topic], e.Stamp)
	}
	var out []IntervalStat
	for _, name := range sortedNames(topics) {
		topic := topics[name]
		ts := by[topic]
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		st := IntervalStat{Topic: topic, Expected: expected[topic].Seconds(), Min: math.Inf(1)}
		var sum float64
		for i := 1; i < len(ts); i++ {
			d := ts[i].Sub(ts[i-1]).Seconds()
			sum += d
			st.Min, st.Max = min(st.Min, d), max(st.Max, d)
			st.Count++
		}
		if st.Count == 0 {
			st.Min = 0
		} else {
			st.Mean = sum / float64(st.Count)
			st.SpreadMS = (st.Max - st.Min) * 1000
		}
		out = append(out, st)
	}
	return out
}

// RESTResult is the outcome of the REST load.
type RESTResult struct {
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	PerSecond  float64 `json:"requests_per_second"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// restLoad runs n keep-alive clients in a closed loop against url for d.
func restLoad(ctx context.Context, url string, n int, d time.Duration) RESTResult {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		all      []float64
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]float64, 0, 1<<16)
			var nerr int
			var ferr string
			for ctx.Err() == nil {
				t := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					nerr++
					if ferr == "" {
						ferr = err.Error()
					}
					continue
				}
				lat = append(lat, float64(time.Since(t).Microseconds())/1000)
			}
			mu.Lock()
			all = append(all, lat...)
			errs += nerr
			if firstErr == "" {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	sort.Float64s(all)
	return RESTResult{
		Clients: n, Seconds: took, Requests: len(all), Errors: errs, FirstError: firstErr,
		PerSecond: float64(len(all)) / took, P50: percentile(all, 50), P99: percentile(all, 99),
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\ntowerbench %s — %d CPUs, load %.2f → %.2f, machine busy %.0f%% during the CPU window\n",
		r.Time.Format(time.RFC3339), r.Host.CPUs, r.Host.LoadStart, r.Host.LoadEnd, r.Host.BusyPercent)
	fmt.Fprintf(w, "plugins: %s\n", strings.Join(r.Plugins, " "))
	printIdle(w, r.Idle)
	fmt.Fprintln(w, "\nsteady run with the WebSocket clients connected:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "process\tRSS MiB\tPSS MiB\tanon MiB\tfile MiB\tbinary MiB\tthreads\tCPU s/%.0fs\tticks s\tCPU %%\t\n", r.CPUWindowSecs)
	rows := append(append([]ProcStat{}, r.Processes...), r.Total)
	for _, p := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.3f\t%.2f\t%.3f\t\n", p.Name, mib(p.RSSKiB), mib(p.PSSKiB), mib(p.AnonKiB),
			mib(p.FileKiB), mib(p.BinaryKiB), p.Threads, p.CPUSeconds, p.CPUTickSeconds, p.CPUPercent)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "fan-out\tevents\tsamples\tp50 ms\tp99 ms\tmax ms\t\n")
	for _, k := range []string{"steady", "burst"} {
		if l, ok := r.FanOut[k]; ok {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t\n", k, l.Events, l.Samples, l.P50, l.P99, l.Max)
		}
	}
	tw.Flush()

	printFresh(w, r.Freshness)

	fmt.Fprintf(w, "\nREST GET /api/v1/system: %d clients, %.0f req/s, p50 %.3f ms, p99 %.3f ms, %d requests, %d errors\n",
		r.REST.Clients, r.REST.PerSecond, r.REST.P50, r.REST.P99, r.REST.Requests, r.REST.Errors)

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "restart (kill -9)\tkill→event ms\t\n")
	for _, x := range r.Restarts {
		v := fmt.Sprintf("%.0f", x.ToEventMillis)
		if x.Error != "" {
			v = "FAIL: " + x.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", x.Plugin, v)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "interval\texpected s\tn\tmean s\tmin s\tmax s\tspread ms\t\n")
	for _, s := range r.Intervals {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.3f\t%.3f\t%.3f\t%.1f\t\n", s.Topic, s.Expected, s.Count, s.Mean, s.Min, s.Max, s.SpreadMS)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nwebsocket disconnects: %d\n", r.Disconnects)
	for _, f := range r.Failures {
		fmt.Fprintln(w, "FAIL:", f)
	}
}
