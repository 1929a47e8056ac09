package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the bench reads and sets up the PostgreSQL databases

	"golang.org/x/sys/unix"
)

// pgBinGlob is where Debian's postgresql packages put their binaries, one directory per version.
const pgBinGlob = "/usr/lib/postgresql/*/bin"

// findPGBin returns the directory of the newest PostgreSQL's initdb and postgres: under
// pgBinGlob, else beside an initdb on PATH; "" when there is none.
func findPGBin(glob string) string {
	dirs, _ := filepath.Glob(glob)
	best, bestVersion := "", []int(nil)
	for _, d := range dirs {
		if !isFile(filepath.Join(d, "initdb")) || !isFile(filepath.Join(d, "postgres")) {
			continue
		}
		v := pgDirVersion(d)
		if best == "" || versionLess(bestVersion, v) {
			best, bestVersion = d, v
		}
	}
	if best != "" {
		return best
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); isFile(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// pgDirVersion reads the version from a path such as /usr/lib/postgresql/9.6/bin: [9 6].
func pgDirVersion(binDir string) []int {
	var v []int
	for _, part := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

// versionLess compares versions numerically: 9.6 < 15 < 16.
func versionLess(a, b []int) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// pgCluster is a throwaway PostgreSQL cluster in a temporary directory, on a loopback port, its
// postmaster a child of the bench (it dies with it: Pdeathsig).
type pgCluster struct {
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	keep    bool
	Version string
}

// pgSettings are the server settings of the bench's cluster: fsync off, as in CI (.ci/run); the
// bench measures CPU and round trips, not the disk.
var pgSettings = []string{"fsync=off", "max_connections=300"}

// startPGCluster runs initdb and the postmaster from bin, as the user postgres when the bench
// runs as root (initdb refuses root; .ci/run uses runuser for the same reason), and waits until
// it takes connections. logPath receives the server's log. The caller must stop it.
func startPGCluster(ctx context.Context, bin, logPath string, keep bool) (*pgCluster, error) {
	dir, err := os.MkdirTemp("", "checkout-bench-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{dir: dir, logPath: logPath, keep: keep, exited: make(chan struct{})}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("running as root, and initdb refuses root: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			c.stop()
			return nil, err
		}
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	initdb := exec.CommandContext(ictx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(string(out), 5))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data", "PG_VERSION")); err == nil {
		c.Version = strings.TrimSpace(string(b))
	}
	logf, err := os.Create(logPath)
	if err != nil {
		c.stop()
		return nil, err
	}
	defer logf.Close()
	if c.port, err = freePort(); err != nil {
		c.stop()
		return nil, err
	}
	args := []string{"-D", filepath.Join(dir, "data"), "-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(c.port), "-k", dir}
	for _, s := range pgSettings {
		args = append(args, "-c", s)
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	// SIGINT is PostgreSQL's fast shutdown: if the bench dies, so does the cluster.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	if err := c.cmd.Start(); err != nil {
		c.cmd = nil
		c.stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("pgx", c.dsn("postgres"))
		if err == nil {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			err = db.PingContext(pctx)
			pcancel()
			db.Close()
		}
		if err == nil {
			return c, nil
		}
		select {
		case <-c.exited:
			c.stop()
			return nil, fmt.Errorf("postgres exited before it took connections; its log: %s", tail(logPath))
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("postgres took no connections within 60s; its log: %s", tail(logPath))
		}
	}
}

// dsn is the URL of database name in the cluster.
func (c *pgCluster) dsn(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// pid is the postmaster's process id.
func (c *pgCluster) pid() int { return c.cmd.Process.Pid }

// stop shuts the cluster down (fast shutdown, then a kill after 15s) and removes its directory.
// It is safe to call more than once.
func (c *pgCluster) stop() {
	if c.cmd != nil {
		select {
		case <-c.exited:
		default:
			c.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-c.exited:
			case <-time.After(15 * time.Second):
				c.cmd.Process.Kill()
				<-c.exited
			}
		}
	}
	if !c.keep && c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// pin restricts the postmaster and every process it has started to cpus; backends started later
// are forked from the postmaster and inherit its mask.
func (c *pgCluster) pin(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	var set unix.CPUSet
	set.Zero()
	for _, cpu := range cpus {
		set.Set(cpu)
	}
	for _, pid := range append([]int{c.pid()}, childPIDs(c.pid())...) {
		if err := unix.SchedSetaffinity(pid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin postgres process %d to CPUs %v: %w", pid, cpus, err)
		}
	}
	return nil
}

// cpuTime is the CPU time the cluster has used so far: the postmaster's, that of the processes
// it has reaped (backends of closed connections), and that of the ones still running.
func (c *pgCluster) cpuTime() time.Duration {
	st, err := readProcStat(c.pid())
	if err != nil {
		return 0
	}
	total := st.cpu + st.childrenCPU
	for _, pid := range childPIDs(c.pid()) {
		if s, err := readProcStat(pid); err == nil {
			total += s.cpu
		}
	}
	return total
}

// procStat is what the bench reads of /proc/<pid>/stat.
type procStat struct {
	ppid        int
	cpu         time.Duration // utime + stime
	childrenCPU time.Duration // cutime + cstime: children waited for
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads a /proc/<pid>/stat line. The command name, in parentheses, may hold spaces
// and parentheses itself, so the fields are counted from the last ')'.
func parseProcStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("proc stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("proc stat %q: %d fields", s, len(f))
	}
	var n [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("proc stat field %d: %w", idx+3, err)
		}
		n[k] = v
	}
	tick := time.Second / 100 // USER_HZ
	return procStat{ppid: int(n[0]), cpu: time.Duration(n[1]+n[2]) * tick, childrenCPU: time.Duration(n[3]+n[4]) * tick}, nil
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(p); err == nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// processCPU is a process's own CPU time so far (0 once it is gone).
func processCPU(pid int) time.Duration {
	st, err := readProcStat(pid)
	if err != nil {
		return 0
	}
	return st.cpu
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// PostgreSQL does; the start then fails with that in the log.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
