package main

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
}

func readDockerfile(t *testing.T) [][]instruction {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	var pre []instruction // ARGs before the first FROM
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cur = ""
		in := instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			pre = append(pre, in)
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return append([][]instruction{pre}, stages...)
}

// runMounts splits the arguments of a RUN into its --mount options and its command.
func runMounts(args string) (mounts []string, cmd string) {
	words := strings.Fields(args)
	for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
		mounts = append(mounts, strings.TrimPrefix(words[0], "--mount="))
		words = words[1:]
	}
	return mounts, strings.Join(words, " ")
}

func find(stage []instruction, cmd string) []string {
	var out []string
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// envOf reads the ENV instructions of a stage (KEY=VALUE pairs without spaces in values).
func envOf(stage []instruction) map[string]string {
	env := map[string]string{}
	for _, args := range find(stage, "ENV") {
		for _, pair := range strings.Fields(args) {
			k, v, _ := strings.Cut(pair, "=")
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}

// makeBuild returns the Makefile's build command as words, with $(GO) as go.
func makeBuild(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	tags := ""
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "TAGS"); ok && strings.Contains(v, "?=") {
			tags = strings.TrimSpace(strings.SplitN(v, "?=", 2)[1])
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "build:") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			recipe := strings.NewReplacer("$(GO)", "go", "$(VERSION)", "${VERSION}", "$(TAGS)", tags).Replace(lines[i+1])
			return strings.Fields(recipe)
		}
	}
	t.Fatal("no build target with a recipe in the Makefile")
	return nil
}

// outputOf returns the -o value of a go build command and the words with it replaced by OUT.
func outputOf(words []string) (string, []string) {
	out := slices.Clone(words)
	for i := range out {
		if out[i] == "-o" && i+1 < len(out) {
			o := out[i+1]
			out[i+1] = "OUT"
			return o, out
		}
	}
	return "", out
}

var execForm = regexp.MustCompile(`^\[\s*"([^"]+)"(?:\s*,\s*"([^"]*)")*\s*\]$`)

func execWords(t *testing.T, s string) []string {
	t.Helper()
	if !execForm.MatchString(s) {
		t.Fatalf("%q is not in exec form [\"...\", ...] (distroless has no shell)", s)
	}
	var words []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		words = append(words, m[1])
	}
	return words
}

// TestDockerfile checks what can be checked of the Dockerfile without a container engine.
func TestDockerfile(t *testing.T) {
	all := readDockerfile(t)
	pre, stages := all[0], all[1:]
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, runtime := stages[0], stages[len(stages)-1]

	// The Go version is go.mod's.
	gomod, _ := os.ReadFile("go.mod")
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	if args := find(pre, "ARG"); !slices.Contains(args, "GO_VERSION="+string(goVersion[1])) {
		t.Errorf("ARGs before FROM: %v, want GO_VERSION=%s as in go.mod", args, goVersion[1])
	}
	from := find(build, "FROM")[0]
	if !regexp.MustCompile(`^golang:\$\{GO_VERSION\}-\S+ AS build$`).MatchString(from) {
		t.Errorf("first stage FROM %q, want golang:${GO_VERSION}-<debian> AS build", from)
	}

	// The build compiles as `make build` does, with cgo.
	want := makeBuild(t)
	wantOut, want := outputOf(want)
	var got []string
	for _, run := range find(build, "RUN") {
		mounts, cmd := runMounts(run)
		for _, part := range strings.Split(cmd, "&&") {
			if words := strings.Fields(part); slices.Contains(words, "build") && slices.Contains(words, "go") {
				got = words
			}
		}
		// Go's module and build caches persist between builds (BuildKit cache mounts), so that a
		// change to the code does not download every module and rebuild sqlite3.
		var targets []string
		if strings.Contains(cmd, "go ") {
			targets = append(targets, "/go/pkg/mod")
		}
		if strings.Contains(cmd, "go build") || strings.Contains(cmd, "go test") {
			targets = append(targets, "/root/.cache/go-build")
		}
		for _, target := range targets {
			if !slices.Contains(mounts, "type=cache,target="+target) {
				t.Errorf("RUN %q: no cache mount on %s", cmd, target)
			}
		}
	}
	binOut, got := outputOf(got)
	if !slices.Equal(got, want) || wantOut == "" || binOut == "" {
		t.Errorf("build command %q, want the Makefile's %q (output aside)", got, want)
	}
	if !slices.Contains(want, "CGO_ENABLED=1") {
		t.Errorf("the Makefile's build %q does not enable cgo (go-sqlite3 needs it)", want)
	}
	// The version is stamped into the binary (checkout version prints it): the build context
	// has no .git for Go to read a revision from.
	if !strings.Contains(strings.Join(want, " "), "-X main.version=${VERSION}") {
		t.Errorf("the build %q does not stamp main.version with VERSION", want)
	}
	if !slices.ContainsFunc(find(build, "ARG"), func(a string) bool { return a == "VERSION" || strings.HasPrefix(a, "VERSION=") }) {
		t.Errorf("the build stage has no VERSION build arg")
	}

	// Base images are pinned by digest: a rebuild gets the same bytes, whatever the tags say now.
	raw, _ := os.ReadFile("Dockerfile")
	if !strings.HasPrefix(string(raw), "# syntax=docker/dockerfile:1") {
		t.Errorf("the Dockerfile does not start with a syntax line asking for BuildKit's Dockerfile 1.x (cache mounts)")
	}
	for _, stage := range stages {
		image := strings.Fields(find(stage, "FROM")[0])[0]
		if !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(image) {
			t.Errorf("FROM %s is not pinned by digest (@sha256:...)", image)
		}
	}

	// SQLite's full-text search (the merchant list's search) is compiled in only with this tag.
	if !slices.Contains(want, "-tags") || !slices.Contains(want, "sqlite_fts5") {
		t.Errorf("the Makefile's build %q does not build with -tags sqlite_fts5", want)
	}

	// The tests can run in the build, built as the binary is.
	if !slices.ContainsFunc(find(build, "ARG"), func(a string) bool { return strings.HasPrefix(a, "RUN_TESTS") }) ||
		!slices.ContainsFunc(find(build, "RUN"), func(r string) bool {
			return strings.Contains(r, "RUN_TESTS") && strings.Contains(r, "go test -tags sqlite_fts5 ")
		}) {
		t.Errorf("the build stage has no RUN_TESTS build arg running go test -tags sqlite_fts5")
	}

	// The runtime is small, and runs the binary built, as a non-root user.
	rfrom := find(runtime, "FROM")[0]
	if strings.Contains(rfrom, "golang") {
		t.Errorf("runtime stage FROM %q: want a small image, not the Go toolchain", rfrom)
	}
	var bin string
	for _, c := range find(runtime, "COPY") {
		if f := strings.Fields(c); len(f) == 3 && f[0] == "--from=build" && f[1] == binOut {
			bin = f[2]
		}
	}
	if bin == "" {
		t.Fatalf("the runtime stage does not COPY --from=build %s", binOut)
	}
	if ep := find(runtime, "ENTRYPOINT"); len(ep) != 1 || !slices.Equal(execWords(t, ep[0]), []string{bin}) {
		t.Errorf("ENTRYPOINT %v, want [%q]", ep, bin)
	}
	users := find(runtime, "USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	uid, _, _ := strings.Cut(users[len(users)-1], ":")
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %q, want a numeric non-root uid (Kubernetes' runAsNonRoot can check only numbers)", users[len(users)-1])
	}

	// The configuration it sets is valid, and the database is on the volume.
	env := envOf(runtime)
	cfg, err := app.ParseConfig(nil, func(k string) string { return env[k] }, os.Stderr)
	if err != nil {
		t.Fatalf("the image's ENV: %v", err)
	}
	if !strings.HasPrefix(cfg.DB, "/data/") {
		t.Errorf("CHECKOUT_DB %q, want a file under /data", cfg.DB)
	}
	if vols := find(runtime, "VOLUME"); !slices.ContainsFunc(vols, func(v string) bool { return v == "/data" || v == `["/data"]` }) {
		t.Errorf("VOLUME %v, want /data", vols)
	}
	for _, c := range find(runtime, "COPY") {
		if strings.HasSuffix(c, " /data") && !strings.Contains(c, "--chown="+uid) {
			t.Errorf("COPY %q: /data must belong to the user %s, or the database cannot be written", c, uid)
		}
	}
	var exposed []string
	for _, e := range find(runtime, "EXPOSE") {
		exposed = append(exposed, strings.Fields(e)...)
	}
	for name, addr := range map[string]string{"CHECKOUT_ADDR": cfg.Addr, "CHECKOUT_METRICS_ADDR": cfg.MetricsAddr} {
		if addr == "" && name == "CHECKOUT_METRICS_ADDR" {
			continue // off
		}
		_, port, _ := strings.Cut(addr, ":")
		if port == "" || !slices.Contains(exposed, port) && !slices.Contains(exposed, port+"/tcp") {
			t.Errorf("%s=%q: its port is not EXPOSEd (%v)", name, addr, exposed)
		}
	}

	// Metrics are not open to the network without a token: off, or on loopback only. (A token
	// is a secret, which has no place in an image.)
	if _, ok := env["CHECKOUT_METRICS_TOKEN"]; ok {
		t.Error("the image sets CHECKOUT_METRICS_TOKEN: a secret baked into an image")
	}
	if cfg.MetricsAddr != "" {
		host, _, _ := strings.Cut(cfg.MetricsAddr, ":")
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Errorf("CHECKOUT_METRICS_ADDR=%q: /metrics open to the network without a token", cfg.MetricsAddr)
		}
	}

	// The health check runs the binary's own healthcheck subcommand: no curl in the image.
	hc := find(runtime, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("got %d HEALTHCHECKs, want 1", len(hc))
	}
	_, cmd, ok := strings.Cut(hc[0], "CMD ")
	if !ok || !slices.Equal(execWords(t, cmd), []string{bin, "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q, want CMD [%q, \"healthcheck\"]", hc[0], bin)
	}

	ignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "data"} {
		if !slices.Contains(strings.Fields(string(ignore)), p) {
			t.Errorf(".dockerignore does not leave out %s", p)
		}
	}
}
