package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childInfo is what a server child prints as its first line on stdout once it listens.
type childInfo struct {
	PID        int      `json:"pid"`
	URL        string   `json:"url"`
	Login      string   `json:"login,omitempty"`
	Password   string   `json:"password,omitempty"`
	DebugURL   string   `json:"debug_url,omitempty"`
	DB         string   `json:"db,omitempty"`
	Metrics    string   `json:"metrics,omitempty"`
	Payers     []string `json:"payers,omitempty"`
	GOMAXPROCS int      `json:"gomaxprocs"`
	CPUs       []int    `json:"cpus,omitempty"`
}

// child is a server under test running as a separate process (so that its RSS is its own).
type child struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	info    childInfo
	logPath string
	exited  chan struct{}
	waitErr error
}

// children tracks every child started, so that each is stopped on any exit path.
var children struct {
	sync.Mutex
	list []*child
}

// startChild runs this same binary with a hidden subcommand and waits for its first stdout line.
// Its stderr (the server's logs) goes to logPath. The child dies with us: Pdeathsig, and it also
// stops when its stdin (a pipe from us) closes.
func startChild(ctx context.Context, name, logPath string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, logPath: logPath, exited: make(chan struct{})}
	children.Lock()
	children.list = append(children.list, c)
	children.Unlock()
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()

	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout) // keep the pipe drained
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case l, ok := <-line:
		if !ok {
			<-c.exited
			return nil, fmt.Errorf("%s exited before it was ready (%v); its log: %s", name, c.waitErr, tail(logPath))
		}
		if err := json.Unmarshal([]byte(l), &c.info); err != nil {
			c.stop(5 * time.Second)
			return nil, fmt.Errorf("%s printed %q, want its JSON info line", name, l)
		}
	case <-c.exited:
		return nil, fmt.Errorf("%s exited before it was ready (%v); its log: %s", name, c.waitErr, tail(logPath))
	case <-timer.C:
		c.stop(5 * time.Second)
		return nil, fmt.Errorf("%s was not ready within 60s; its log: %s", name, tail(logPath))
	case <-ctx.Done():
		c.stop(5 * time.Second)
		return nil, ctx.Err()
	}
	return c, nil
}

// stop asks the child to shut down (SIGTERM, stdin closed) and kills it after timeout.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.stdin.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.exited:
		return nil
	case <-t.C:
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within %v and was killed", c.name, timeout)
	}
}

// stopAllChildren stops every child still running. It is safe to call more than once.
func stopAllChildren() {
	children.Lock()
	list := children.list
	children.list = nil
	children.Unlock()
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(10 * time.Second) }()
	}
	wg.Wait()
}

// rssBytes reads VmRSS of a process from /proc.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// pinSelf restricts every thread of this process to cpus and sets GOMAXPROCS to match. Threads
// made later are cloned from pinned ones and inherit the mask. It returns the CPUs in force.
func pinSelf(cpus []int) ([]int, error) {
	if len(cpus) == 0 {
		return nil, nil
	}
	var set unix.CPUSet
	set.Zero()
	for _, c := range cpus {
		set.Set(c)
	}
	// Twice: a thread started while the first pass ran may have escaped it.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return nil, fmt.Errorf("pin thread %d to CPUs %v: %w", tid, cpus, err)
			}
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return cpus, nil
}

// raiseNoFile lifts the soft open-file limit to the hard one (5,000 streams need as many sockets).
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return path + "\n  " + strings.Join(lines, "\n  ")
}

// parseCPUs reads "0", "0-1" or "0,2".
func parseCPUs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// childStart is how every child begins: its flags parsed (fs with a -cpus flag added), pinned to
// those CPUs (none: unpinned), the open-file limit lifted, and a context that ends on SIGINT or
// SIGTERM, or when stdin closes (the bench is gone or wants the child to stop).
func childStart(fs *flag.FlagSet, args []string) (context.Context, context.CancelFunc, []int, error) {
	cpus := fs.String("cpus", "", "CPUs to run on, e.g. 0")
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	list, err := parseCPUs(*cpus)
	if err != nil {
		return nil, nil, nil, err
	}
	pinned, err := pinSelf(list)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := raiseNoFile(); err != nil {
		return nil, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	return ctx, stop, pinned, nil
}
