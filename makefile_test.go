package main

import (
	"os/exec"
	"strings"
	"testing"
)

// On a fresh machine the first `make run` compiles SQLite through cgo for minutes while printing
// only its command: it says so first. GO=echo stands in for the go command.
func TestMakeRunSaysTheFirstBuildIsSlow(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	out, err := exec.Command("make", "--no-print-directory", "-s", "run", "GO=echo").CombinedOutput()
	if err != nil {
		t.Fatalf("make run: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "first build") || !strings.Contains(lines[0], "few minutes") || lines[len(lines)-1] != "run -tags sqlite_fts5 ." {
		t.Fatalf("make run printed %q; want a line saying the first build takes a few minutes, then the run", out)
	}
}
