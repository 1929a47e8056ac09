package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	Date      string `json:"date"`
	// LoadBefore is the 1-minute load average when the run began.
	LoadBefore float64 `json:"load_before"`
	// OtherCPU is the share of the machine's CPU time (all cores) that processes other than the
	// bench and its servers used during the run: above a few percent, the figures are disturbed.
	OtherCPU float64 `json:"other_cpu_percent"`
	Seconds  float64 `json:"run_seconds"`
}

// cpuClock samples the machine's busy CPU time and this process tree's, to tell how much of the
// machine other processes took during the run.
type cpuClock struct {
	at         time.Time
	busy, ours time.Duration
}

func readCPUClock() cpuClock {
	c := cpuClock{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		var ticks [10]int64
		for i := 1; i < len(f) && i <= 10; i++ {
			ticks[i-1], _ = strconv.ParseInt(f[i], 10, 64)
		}
		busy := ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7] // user nice system irq softirq steal
		c.busy = time.Duration(busy) * time.Second / 100                        // USER_HZ
	}
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	for _, r := range []syscall.Rusage{self, kids} {
		c.ours += time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return c
}

// otherCPUPercent is the share of all cores' time between a and b used by other processes.
func otherCPUPercent(a, b cpuClock) float64 {
	wall := b.at.Sub(a.at) * time.Duration(runtime.NumCPU())
	if wall <= 0 {
		return 0
	}
	other := (b.busy - a.busy) - (b.ours - a.ours)
	return math.Round(max(float64(other)/float64(wall)*100, 0)*10) / 10
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func machineFacts() machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format(time.RFC3339), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// figure is one line of the table: a measured value, its baseline and target.
type figure struct {
	Name     string   `json:"name"`
	Value    float64  `json:"value"`
	Unit     string   `json:"unit"`
	Baseline *float64 `json:"baseline,omitempty"`
	BaseName string   `json:"baseline_name,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"`
	Target   string   `json:"target,omitempty"`
	Met      *bool    `json:"met,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// figures derives the table from the raw results: each value, its ratio to its baseline, and
// whether its targets are met.
//
// Every target is a ratio to a baseline of the same run (issue 17, item 6): absolute figures
// drift from one machine to the next (healthz ran 50,000 req/s on one 2-core machine and 17,000
// on another). Where a target began as an absolute figure, it is shown beside the ratio as the
// figure it meant on the reference machine, healthz 50,000 req/s with p99 1.1 ms.
func figures(r *results) []figure {
	var out []figure
	h := r.Healthz
	add := func(f figure) { out = append(out, f) }
	ratio := func(v, base float64) *float64 {
		if base == 0 {
			return nil
		}
		return ptr(math.Round(v/base*1000) / 1000)
	}
	with := func(name string, v float64, unit string, base float64, baseName string, target string, met *bool) figure {
		f := figure{Name: name, Value: v, Unit: unit, Target: target, Met: met}
		if baseName != "" {
			f.Baseline, f.BaseName, f.Ratio = ptr(base), baseName, ratio(v, base)
		}
		return f
	}
	add(with("healthz requests/s", h.PerSec, "req/s", 0, "", "", nil))
	add(with("healthz p50", h.Latency.P50, "ms", 0, "", "", nil))
	add(with("healthz p99", h.Latency.P99, "ms", 0, "", "", nil))

	if in := r.Ingest; in != nil {
		a := in.Accepted
		rate := a.PerSec
		add(with("webhooks accepted/s", rate, "req/s", h.PerSec, "healthz req/s", "≥ 0.25 × healthz (≈ 12,600)",
			ptr(h.PerSec > 0 && rate >= 0.25*h.PerSec && a.Failed == 0)))
		add(with("webhook answer p50", a.Latency.P50, "ms", h.Latency.P50, "healthz p50", "", nil))
		add(with("webhook answer p99", a.Latency.P99, "ms", h.Latency.P99, "healthz p99", "≤ 18 × healthz p99 (≈ < 20 ms)",
			ptr(a.Latency.P99 > 0 && h.Latency.P99 > 0 && a.Latency.P99 <= 18*h.Latency.P99)))
		add(with("webhooks processed/s", in.ProcessedPerS, "/s", h.PerSec, "healthz req/s", "≥ 0.1 × healthz (≈ 5,000)",
			ptr(h.PerSec > 0 && in.ProcessedPerS >= 0.1*h.PerSec)))
	}
	if af := r.AppFanout; af != nil {
		var bp50, bp99, bmax, bmem float64
		if bf := r.Bare; bf != nil {
			bp50, bp99, bmax, bmem = bf.Latency.P50, bf.Latency.P99, bf.Latency.Max, bf.PerStreamBytes/1024
		}
		// The whole pipeline (store, claim, two fetches from Banq, commit, render) against the
		// same run's healthz; the bare broadcaster, which fetches nothing, stays beside it for scale.
		met := af.Latency.P99 > 0 && af.Latency.P99 < 100 && h.Latency.P99 > 0 && af.Latency.P99 <= 10*h.Latency.P99
		add(with("webhook → SSE p50", af.Latency.P50, "ms", bp50, "bare p50", "", nil))
		add(with("webhook → SSE p99", af.Latency.P99, "ms", h.Latency.P99, "healthz p99", "< 100 ms and ≤ 10 × healthz p99", ptr(met)))
		add(with("webhook → SSE p99, bare broadcaster", bp99, "ms", 0, "", "", nil))
		add(with("webhook → SSE max", af.Latency.Max, "ms", bmax, "bare max", "", nil))
		lost := float64(af.Lost + af.Wrong)
		add(with("events lost", lost, "", 0, "", "0", ptr(af.Lost == 0 && af.Wrong == 0 && af.Sent > 0 && af.SendFailed == 0)))
		kib := math.Round(af.PerStreamBytes/1024*10) / 10
		add(with("memory per idle stream", kib, "KiB", math.Round(bmem*10)/10, "bare KiB", "≤ 1.1 × bare (≈ 24 KiB)",
			ptr(af.PerStreamBytes > 0 && bmem > 0 && af.PerStreamBytes/1024 <= 1.1*bmem)))
	}
	if n := r.Notify; n != nil {
		add(with("notifications delivered/s", n.DeliveredPerS, "/s", h.PerSec, "healthz req/s", "≥ 0.02 × healthz (≈ 1000)",
			ptr(h.PerSec > 0 && n.DeliveredPerS >= 0.02*h.PerSec && n.Lost == 0 && n.BadSignature == 0)))
		add(with("change → shop p50", n.Steady.P50, "ms", h.Latency.P50, "healthz p50", "", nil))
		add(with("change → shop p99", n.Steady.P99, "ms", h.Latency.P99, "healthz p99", "≤ 45 × healthz p99 (≈ < 50 ms)",
			ptr(n.Steady.P99 > 0 && h.Latency.P99 > 0 && n.Steady.P99 <= 45*h.Latency.P99)))
	}
	if o := r.Orders; o != nil {
		add(with("orders created/s", o.PerSec, "req/s", h.PerSec, "healthz req/s", "≥ 0.016 × healthz (≈ 800)",
			ptr(h.PerSec > 0 && o.PerSec >= 0.016*h.PerSec && o.Failed == 0)))
		add(with("order p50", o.Latency.P50, "ms", h.Latency.P50, "healthz p50", "", nil))
		add(with("order p99", o.Latency.P99, "ms", h.Latency.P99, "healthz p99", "≤ 45 × healthz p99 (≈ < 50 ms)",
			ptr(o.Latency.P99 > 0 && h.Latency.P99 > 0 && o.Latency.P99 <= 45*h.Latency.P99)))
		if ao := r.APIOrders; ao != nil {
			add(with("API orders created/s", ao.PerSec, "req/s", o.PerSec, "form orders/s", "≥ the form's",
				ptr(ao.PerSec >= o.PerSec && ao.Failed == 0)))
			add(with("API order p50", ao.Latency.P50, "ms", o.Latency.P50, "form p50", "", nil))
			add(with("API order p99", ao.Latency.P99, "ms", h.Latency.P99, "healthz p99", "≤ 45 × healthz p99 (≈ < 50 ms)",
				ptr(ao.Latency.P99 > 0 && h.Latency.P99 > 0 && ao.Latency.P99 <= 45*h.Latency.P99)))
		}
	}
	for _, kind := range []string{"webhooks", "orders"} {
		for _, share := range openShares {
			name := fmt.Sprintf("%s %.0f%%", kind, share*100)
			o, ok := r.OpenLoop[name]
			if !ok {
				continue
			}
			label := fmt.Sprintf("%s at %.0f/s (%.0f%%, open loop)", kind, o.Rate, share*100)
			add(with(label+" p50", o.Latency.P50, "ms", h.Latency.P50, "healthz p50", "", nil))
			if kind == "webhooks" && share == 0.8 {
				// 20 ms on the machine where healthz p99 was 1.1 ms: about 18 × healthz p99.
				add(with(label+" p99", o.Latency.P99, "ms", h.Latency.P99, "healthz p99", "≤ 18 × healthz p99 (≈ < 20 ms)",
					ptr(o.Failed == 0 && o.OK > 0 && h.Latency.P99 > 0 && o.Latency.P99 <= 18*h.Latency.P99)))
			} else {
				add(with(label+" p99", o.Latency.P99, "ms", h.Latency.P99, "healthz p99", "", nil))
			}
			add(with(label+" max", o.Latency.Max, "ms", 0, "", "", nil))
		}
	}
	if p := r.Phone; p != nil {
		kb := math.Round(float64(p.Bytes)/1000*10) / 10
		add(with("pay page over the wire (phone)", kb, "KB", math.Round(float64(p.BytesPlain)/1000*10)/10, "uncompressed KB",
			"≤ 12 KB", ptr(p.Bytes > 0 && kb <= 12)))
		add(with("pay page first contentful paint (phone)", p.FCPms, "ms", p.FCPPlainms, "uncompressed ms",
			"< 1000 ms", ptr(p.FCPms > 0 && p.FCPms < 1000)))
	}
	if l := r.List; l != nil {
		names := make([]string, 0, len(l.Pages))
		for name := range l.Pages {
			names = append(names, name)
		}
		sort.Strings(names)
		// 50 ms on the machine where healthz p99 was 1.1 ms: about 45 × healthz p99.
		for _, name := range names {
			p := l.Pages[name]
			ok := p.Failed == 0 && p.OK > 0 && h.Latency.P99 > 0 && p.Latency.P99 <= 45*h.Latency.P99
			add(with("list p99, "+name, p.Latency.P99, "ms", h.Latency.P99, "healthz p99", "≤ 45 × healthz p99 (≈ < 50 ms)", ptr(ok)))
		}
		e := l.Export
		// 200,000 rows/s on the machine where healthz ran 50,000 req/s: 4 × healthz req/s.
		add(with("export rows/s", e.RowsPerSec, "rows/s", h.PerSec, "healthz req/s", "≥ 4 × healthz req/s (≈ ≥ 200,000)",
			ptr(e.Error == "" && e.Rows == l.Orders && h.PerSec > 0 && e.RowsPerSec >= 4*h.PerSec)))
		growth := math.Round(float64(e.RSSMaxByte-e.RSSBeforeByte)/(1<<20)*10) / 10
		add(with("export RSS growth", growth, "MiB", math.Round(float64(e.RSSBeforeByte)/(1<<20)*10)/10, "RSS before (MiB)",
			"≤ 32 MiB, whatever the rows", ptr(e.Error == "" && e.RSSBeforeByte > 0 && growth <= 32)))
	}
	return append(out, pgFigures(r)...)
}

func printTable(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "\n%s, %d cores, %s, %s\n", m.CPU, m.Cores, m.GoVersion, m.Date)
	if pinned, _ := r.Settings["pinned"].(bool); pinned {
		fmt.Fprintf(w, "server on CPU %v, load generator on CPU %v\n", r.Settings["server_cpus"], r.Settings["load_cpus"])
	}
	fmt.Fprintf(w, "other processes used %.1f%% of the machine during the run (load average %.2f before)\n", m.OtherCPU, m.LoadBefore)
	if m.OtherCPU > 5 {
		fmt.Fprintln(w, "WARNING: the machine was busy with other work; absolute figures are disturbed, ratios less so")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "figure\tvalue\tbaseline\tratio\ttarget\tmet\t")
	for _, f := range r.Figures {
		base, ratio, met := "", "", ""
		if f.Baseline != nil {
			base = num(*f.Baseline)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t\n", f.Name, num(f.Value), f.Unit, base, ratio, f.Target, met)
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintln(w, "error:", e)
	}
}

// printMarkdown writes the table as Markdown, for the README.
func printMarkdown(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "\n%s, %d cores, %s, %s; server on CPU %v, load generator on CPU %v; other processes used %.1f%% of the machine during the run.\n\n",
		m.CPU, m.Cores, m.GoVersion, m.Date[:10], r.Settings["server_cpus"], r.Settings["load_cpus"], m.OtherCPU)
	fmt.Fprintln(w, "| figure | value | baseline | ratio | target | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, f := range r.Figures {
		base, ratio, met := "", "", ""
		if f.Baseline != nil {
			base = num(*f.Baseline) + " (" + f.BaseName + ")"
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", f.Name, strings.TrimSpace(num(f.Value)+" "+f.Unit), base, ratio, f.Target, met)
	}
}

func num(v float64) string {
	switch {
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func writeResults(path string, r *results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
