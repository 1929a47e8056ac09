package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Half the orders' webhooks go to the instance their streams are not on, and each instance
// holds half the streams and receives half the webhooks, so neither instance does the other's
// share and the cross-instance figures have as many samples as the others.
func TestFanoutSpreadsOverTwoInstances(t *testing.T) {
	const orders = 200
	cross, streams, webhooks := 0, [2]int{}, [2]int{}
	for i := range orders {
		s, w := streamInstance(i, 2), webhookInstance(i, 2)
		streams[s]++
		webhooks[w]++
		if s != w {
			cross++
		}
	}
	if cross != orders/2 || streams != [2]int{orders / 2, orders / 2} || webhooks != [2]int{orders / 2, orders / 2} {
		t.Errorf("cross %d, streams per instance %v, webhooks per instance %v; want %d and halves", cross, streams, webhooks, orders/2)
	}
	for i := range orders {
		if streamInstance(i, 1) != 0 || webhookInstance(i, 1) != 0 {
			t.Fatalf("one instance: order %d on instance %d/%d, want 0", i, streamInstance(i, 1), webhookInstance(i, 1))
		}
	}
}

func TestPGInstanceCPUs(t *testing.T) {
	for _, tt := range []struct {
		list string
		n    int
		want string
	}{
		{"0,1", 1, "0"},
		{"0,1", 2, "0|1"},
		{"0-1", 2, "0-1|0-1"},
		{"", 2, "|"},
	} {
		if got := strings.Join(pgInstanceCPUs(tt.list, tt.n), "|"); got != tt.want {
			t.Errorf("pgInstanceCPUs(%q, %d) = %q, want %q", tt.list, tt.n, got, tt.want)
		}
	}
}

// The command name is in parentheses and may hold spaces and parentheses of its own.
func TestParseProcStat(t *testing.T) {
	line := "4242 (postgres: bench (x) idle) S 4200 4200 4200 0 -1 4194560 512 0 0 0 150 25 7 3 20 0 1 0 100 1000 200\n"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 4200 || st.cpu != 1750*time.Millisecond || st.childrenCPU != 100*time.Millisecond {
		t.Errorf("got ppid %d cpu %v children %v, want 4200 1.75s 100ms", st.ppid, st.cpu, st.childrenCPU)
	}
	if _, err := parseProcStat("4242 (short) S 1 2"); err == nil {
		t.Error("a truncated line parsed")
	}
}

func TestMetricValue(t *testing.T) {
	page := `# HELP checkout_webhook_processing_seconds Time the worker took.
# TYPE checkout_webhook_processing_seconds histogram
checkout_webhook_processing_seconds_bucket{result="applied",le="0.005"} 10
checkout_webhook_processing_seconds_count{result="applied"} 1234
checkout_webhook_processing_seconds_count{result="applied_late"} 7
checkout_webhook_processing_seconds_count{result="retry"} 3 1700000000000
`
	for series, want := range map[string]float64{
		appliedSeries: 1234,
		`checkout_webhook_processing_seconds_count{result="retry"}`:  3,
		`checkout_webhook_processing_seconds_count{result="failed"}`: 0,
	} {
		got, err := metricValue(strings.NewReader(page), series)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", series, got, err, want)
		}
	}
}

// The newest version wins, numerically (16 after 9.6), and a directory without both binaries
// is not a PostgreSQL.
func TestFindPGBin(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "16", "17"} {
		bin := filepath.Join(root, v, "bin")
		os.MkdirAll(bin, 0o755)
		os.WriteFile(filepath.Join(bin, "initdb"), nil, 0o755)
		if v != "17" {
			os.WriteFile(filepath.Join(bin, "postgres"), nil, 0o755)
		}
	}
	if got, want := findPGBin(filepath.Join(root, "*", "bin")), filepath.Join(root, "16", "bin"); got != want {
		t.Errorf("findPGBin = %q, want %q", got, want)
	}
}

// The two-instance target is met only at 1.6 × one instance, with both inboxes drained; lost
// events, webhooks not applied and webhooks applied twice each fail their line.
func TestPGFigures(t *testing.T) {
	run := func(perS float64, applied, twice, lost int) *pgRun {
		return &pgRun{ProcessedPerS: perS, Processed: applied, AppliedTwice: twice, Drained: true, Fanout: &pgFanout{Sent: 10, Lost: lost,
			All: latencies{N: 10, P99: 5}, Cross: latencies{N: 5, P99: 5}, Same: latencies{N: 5, P99: 5}}}
	}
	met := func(r *results, name string) bool {
		for _, f := range pgFigures(r) {
			if f.Name == "PostgreSQL: "+name {
				return f.Met != nil && *f.Met
			}
		}
		t.Fatalf("no figure %q", name)
		return false
	}
	h := &loadResult{Latency: latencies{P99: 1}}
	r := &results{Postgres: &pgResult{Healthz: h, One: run(100, 50, 0, 0), Two: run(160, 50, 0, 0)}}
	for _, name := range []string{"webhooks processed/s, 2 instances", "webhook → SSE p99 across instances",
		"events lost (both runs)", "webhooks not applied (both runs)", "webhooks processed twice (both runs)"} {
		if !met(r, name) {
			t.Errorf("%s: not met, want met", name)
		}
	}
	r.Postgres.Two = run(159, 50, 1, 1)
	r.Postgres.Two.Fanout.Cross.P99 = 11 // over 10 × healthz p99
	for _, name := range []string{"webhooks processed/s, 2 instances", "webhook → SSE p99 across instances",
		"events lost (both runs)", "webhooks processed twice (both runs)"} {
		if met(r, name) {
			t.Errorf("%s: met, want missed", name)
		}
	}
	// One answered and never applied.
	r.Postgres.Two.NotApplied = 1
	if met(r, "webhooks not applied (both runs)") {
		t.Error("webhooks not applied: met with one missing")
	}
}

// The instance that applied a webhook is the one whose log says so; other lines and other
// runs' webhooks are not counted.
func TestAppliedOn(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	os.WriteFile(a, []byte(`{"level":"INFO","msg":"webhook applied","webhook_id":"bench-pg2-fanout-r-0","order_id":1}
{"level":"INFO","msg":"request","path":"/webhooks/banq","webhook_id":"bench-pg2-fanout-r-1"}
{"level":"INFO","msg":"webhook applied","webhook_id":"bench-pg1-fanout-r-1"}
`), 0o644)
	os.WriteFile(b, []byte(`not json bench-pg2-fanout-r-2
{"level":"INFO","msg":"webhook applied","webhook_id":"bench-pg2-fanout-r-1","order_id":2}
`), 0o644)
	got := appliedOn([]string{a, b}, "bench-pg2-fanout-r-")
	want := map[string]int{"bench-pg2-fanout-r-0": 0, "bench-pg2-fanout-r-1": 1}
	if len(got) != len(want) || got["bench-pg2-fanout-r-0"] != 0 || got["bench-pg2-fanout-r-1"] != 1 {
		t.Errorf("appliedOn = %v, want %v", got, want)
	}
}

// The bench's cluster takes connections, pins its processes, reports its CPU time, and leaves
// neither a process nor its directory behind once stopped.
func TestPGClusterStartsAndStops(t *testing.T) {
	bin := findPGBin(pgBinGlob)
	if bin == "" || testing.Short() {
		t.Skip("no PostgreSQL binaries (or -short)")
	}
	cl, err := startPGCluster(t.Context(), bin, filepath.Join(t.TempDir(), "postgres.log"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.stop()
	db, err := sql.Open("pgx", cl.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fsync string
	if err := db.QueryRow(`SHOW fsync`).Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync: %q, %v; want off", fsync, err)
	}
	if cl.Version == "" {
		t.Error("no version read")
	}
	if err := cl.pin([]int{0}); err != nil {
		t.Fatal(err)
	}
	for _, pid := range append([]int{cl.pid()}, childPIDs(cl.pid())...) {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &set); err == nil && (set.Count() != 1 || !set.IsSet(0)) {
			t.Errorf("postgres process %d may run on %d CPUs, want CPU 0 only", pid, set.Count())
		}
	}
	if cl.cpuTime() <= 0 {
		t.Error("no CPU time read for the cluster")
	}
	db.Close()
	pid, dir := cl.pid(), cl.dir
	cl.stop()
	if err := unix.Kill(pid, 0); err == nil {
		t.Errorf("the postmaster %d still runs after stop", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after stop (%v)", dir, err)
	}
}

// The PostgreSQL part says why it is skipped, and refuses to run without binaries when asked for.
func TestPostgresOptions(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		on       bool
		skip     string
		wantsErr bool
	}{
		{args: []string{"-postgres=false"}, skip: "-postgres=false"},
		{args: []string{"-postgres=false", "-postgres-bin", ""}, skip: "no PostgreSQL binaries"},
		{args: []string{"-postgres", "-postgres-bin", ""}, wantsErr: true},
		{args: []string{"-postgres", "-postgres-bin", "/x", "-list-only"}, skip: "-list-only"},
		{args: []string{"-postgres", "-postgres-bin", "/x"}, on: true},
		{args: []string{"-postgres-only", "-postgres=false"}, wantsErr: true},
	} {
		o, err := parseOptions(tt.args)
		if (err != nil) != tt.wantsErr {
			t.Errorf("%q: error %v, want error %v", tt.args, err, tt.wantsErr)
			continue
		}
		if err == nil && (o.postgres != tt.on || !strings.HasPrefix(o.pgSkip, tt.skip)) {
			t.Errorf("%q: postgres %v, skipped %q; want %v, %q", tt.args, o.postgres, o.pgSkip, tt.on, tt.skip)
		}
	}
	on, _ := parseOptions([]string{"-postgres", "-postgres-bin", "/x", "-list-orders=0"})
	off, _ := parseOptions([]string{"-postgres=false", "-list-orders=0"})
	if on.timeout-off.timeout != 3*time.Minute {
		t.Errorf("-timeout with PostgreSQL %v, without %v: want 3 minutes more", on.timeout, off.timeout)
	}
}
