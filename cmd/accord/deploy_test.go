package main

// The files in deploy/ cannot be run here (no Docker engine, no Kubernetes),
// so these tests read them and check that they agree with the binary: each
// node's environment and arguments are fed to the real flag parsing, and the
// ports, probes, seeds and grace periods are compared with the resulting
// Config.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accordchat/accord/rest"
	"github.com/goccy/go-yaml"
)

const deployDir = "../../deploy"

var envInUsage = regexp.MustCompile(`\((ACCORD_[A-Z0-9_]+|DATABASE_URL)\)$`)

// configEnv maps each environment variable the binary reads to its flag, as
// bindConfig declares them (each usage ends with "(VARIABLE)").
func configEnv() (env map[string]string, flags map[string]bool) {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	bindConfig(fs, &cfg)
	env, flags = map[string]string{}, map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		flags[f.Name] = true
		if m := envInUsage.FindStringSubmatch(f.Usage); m != nil {
			env[m[1]] = f.Name
		}
	})
	return env, flags
}

// loadNode returns the Config a node started with env and argv (argv[0] is
// the subcommand) would run with, as the binary itself parses it.
func loadNode(t *testing.T, where string, env map[string]string, argv []string) Config {
	t.Helper()
	known, _ := configEnv()
	if len(known) < 10 {
		t.Fatalf("found only %d environment variables in the flag usages: did their format change?", len(known))
	}
	for name := range known {
		t.Setenv(name, "") // restores the caller's value after the test
		_ = os.Unsetenv(name)
	}
	for k, v := range env {
		if _, ok := known[k]; !ok && (strings.HasPrefix(k, "ACCORD_") || k == "DATABASE_URL") {
			t.Errorf("%s: sets %s, which the binary does not read", where, k)
			continue
		}
		t.Setenv(k, v)
	}
	if len(argv) == 0 || argv[0] != "serve" {
		t.Fatalf("%s: runs accord %q, not accord serve", where, argv)
	}
	cfg, err := parseFlags("serve", argv[1:])
	if err != nil {
		t.Fatalf("%s: the node would not start: %v", where, err)
	}
	return cfg
}

func portOf(t *testing.T, where, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: address %q: %v", where, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 {
		t.Fatalf("%s: address %q has no fixed port", where, addr)
	}
	return n
}

// exposed lists the ports a node listens on, as "port/proto": memberlist
// gossips over both TCP and UDP.
func exposed(t *testing.T, where string, cfg Config) []string {
	ports := []string{
		fmt.Sprintf("%d/tcp", portOf(t, where, cfg.HTTPAddr)),
		fmt.Sprintf("%d/tcp", portOf(t, where, cfg.GossipAddr)),
		fmt.Sprintf("%d/udp", portOf(t, where, cfg.GossipAddr)),
		fmt.Sprintf("%d/tcp", portOf(t, where, cfg.RemoteAddr)),
	}
	slices.Sort(ports)
	return ports
}

// checkContainerNode checks what every containerised node needs: listeners
// on all interfaces, a bare advertised host (the one --advertise-addr serves
// gossip and remoting, which must each keep their own port) and seeds.
func checkContainerNode(t *testing.T, where string, cfg Config) {
	t.Helper()
	for name, addr := range map[string]string{"--http-addr": cfg.HTTPAddr, "--gossip-addr": cfg.GossipAddr, "--remote-addr": cfg.RemoteAddr} {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			t.Errorf("%s: %s is %s; in a container it must bind 0.0.0.0", where, name, addr)
		}
	}
	if _, _, err := net.SplitHostPort(cfg.AdvertiseAddr); err == nil {
		t.Errorf("%s: --advertise-addr %q has a port; gossip and remoting would both advertise it", where, cfg.AdvertiseAddr)
	}
	if len(cfg.Seeds) == 0 {
		t.Errorf("%s: no seeds; the node would never join the others", where)
	}
}

// probeKind asks the real REST handler what path answers: "readiness" for a
// path that fails while the node is not ready, "liveness" for one that
// succeeds anyway, "" for a path that is no probe (404, ...).
func probeKind(path string) string {
	code := func(ready error) int {
		h := rest.New(rest.Config{Ready: func(context.Context) error { return ready }}).Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	switch up, down := code(nil), code(errors.New("cluster not joined")); {
	case up == http.StatusOK && down == http.StatusServiceUnavailable:
		return "readiness"
	case up == http.StatusOK && down == http.StatusOK:
		return "liveness"
	default:
		return ""
	}
}

var urlInCommand = regexp.MustCompile(`https?://[^\s"',\]]+`)

// checkHealthcheck checks that a health check command fetches the node's
// readiness path on its HTTP port.
func checkHealthcheck(t *testing.T, where, command string, cfg Config) {
	t.Helper()
	m := urlInCommand.FindString(command)
	if m == "" {
		t.Errorf("%s: health check %q fetches no URL", where, command)
		return
	}
	u, err := url.Parse(m)
	if err != nil {
		t.Errorf("%s: health check URL %q: %v", where, m, err)
		return
	}
	if got, want := u.Port(), strconv.Itoa(portOf(t, where, cfg.HTTPAddr)); got != want {
		t.Errorf("%s: health check on port %s, but the node serves HTTP on %s", where, got, want)
	}
	if kind := probeKind(u.Path); kind != "readiness" {
		t.Errorf("%s: health check on %s, which is no readiness route (%q)", where, u.Path, kind)
	}
}

func TestDeployProbeRoutes(t *testing.T) {
	if got := probeKind("/readyz"); got != "readiness" {
		t.Errorf("/readyz is %q, want readiness", got)
	}
	if got := probeKind("/livez"); got != "liveness" {
		t.Errorf("/livez is %q, want liveness", got)
	}
	if got := probeKind("/healthz"); got != "" {
		t.Errorf("/healthz is %q, want no probe route", got)
	}
}

// foreignFlags are the flags of other tools (docker, kubectl, go) that the
// deploy files mention.
var foreignFlags = map[string]bool{
	"from": true, "interval": true, "timeout": true, "start-period": true, "retries": true,
	"from-literal": true, "build": true, "now": true,
}

var (
	accordVar  = regexp.MustCompile(`\bACCORD_[A-Z0-9_]+`)
	flagInText = regexp.MustCompile(`(?:^|[\s"'(\[])--([a-z][a-z0-9-]*)`)
)

// TestDeployNamesExist checks every ACCORD_* variable and every flag that a
// deploy file names, comments included, against the binary's (and the
// README's ACCORD_* variables too).
func TestDeployNamesExist(t *testing.T) {
	env, flags := configEnv()
	err := filepath.WalkDir(deployDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, name := range accordVar.FindAllString(string(b), -1) {
			if _, ok := env[name]; !ok {
				t.Errorf("%s names %s, which the binary does not read", path, name)
			}
		}
		for _, m := range flagInText.FindAllStringSubmatch(string(b), -1) {
			if !flags[m[1]] && !foreignFlags[m[1]] {
				t.Errorf("%s names --%s, which accord serve does not have", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range accordVar.FindAllString(string(readme), -1) {
		if _, ok := env[name]; !ok && !readmeOnlyVars[name] {
			t.Errorf("README.md names %s, which the binary does not read", name)
		}
	}
}

// readmeOnlyVars are variables the README names that `accord serve` does
// not read: `accord cluster members` reads ACCORD_URL, and the gateway
// benchmark reads ACCORD_GWBENCH_PROFILE_DIR and ACCORD_GWBENCH_LATENCY_RATE.
var readmeOnlyVars = map[string]bool{"ACCORD_URL": true, "ACCORD_GWBENCH_PROFILE_DIR": true,
	"ACCORD_GWBENCH_LATENCY_RATE": true}

// dockerImage is what the test needs of deploy/Dockerfile's final stage.
type dockerImage struct {
	env map[string]string
	cmd []string // ENTRYPOINT + CMD
}

// readDockerfile parses path into its stages' instructions (keyword, rest),
// joining continuation lines.
func readDockerfile(t *testing.T, path string) [][][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][][2]string
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line += cont + " "
			continue
		}
		line += text
		kw, rest, _ := strings.Cut(line, " ")
		line = ""
		kw = strings.ToUpper(kw)
		if kw == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, kw)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], [2]string{kw, strings.TrimSpace(rest)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func TestDeployDockerfile(t *testing.T) { checkDockerfile(t) }

func checkDockerfile(t *testing.T) dockerImage {
	t.Helper()
	path := filepath.Join(deployDir, "Dockerfile")
	stages := readDockerfile(t, path)
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages, want a build stage and a runtime stage", path, len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	from := strings.Fields(build[0][1])
	if len(from) != 3 || !strings.HasPrefix(from[0], "golang:1.26") || !strings.EqualFold(from[1], "AS") {
		t.Fatalf("%s: build stage is FROM %s, want golang:1.26 AS <name>", path, build[0][1])
	}
	builds := false
	for _, in := range build {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			builds = strings.Contains(in[1], "CGO_ENABLED=0") && strings.Contains(in[1], "./cmd/accord")
		}
	}
	if !builds {
		t.Errorf("%s: no RUN builds ./cmd/accord with CGO_ENABLED=0", path)
	}

	img := dockerImage{env: map[string]string{}}
	var entrypoint, cmd, expose []string
	var user, healthcheck string
	binary := false
	for _, in := range final {
		kw, arg := in[0], in[1]
		switch kw {
		case "ENV":
			if first, _, _ := strings.Cut(arg, " "); strings.Contains(first, "=") {
				for _, kv := range strings.Fields(arg) { // K=V K2=V2 (no quoted spaces here)
					k, v, _ := strings.Cut(kv, "=")
					img.env[k] = strings.Trim(v, `"`)
				}
			} else {
				k, v, _ := strings.Cut(arg, " ")
				img.env[k] = strings.TrimSpace(v)
			}
		case "COPY":
			f := strings.Fields(arg)
			if len(f) == 3 && f[0] == "--from="+from[2] && slices.Contains([]string{"/usr/local/bin/accord", "/usr/bin/accord", "/bin/accord"}, f[2]) {
				binary = true
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(arg), &v); err != nil {
				t.Errorf("%s: %s %s is not in exec (JSON) form: %v", path, kw, arg, err)
			}
			if kw == "CMD" {
				cmd = v
			} else {
				entrypoint = v
			}
		case "USER":
			user = arg
		case "EXPOSE":
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				expose = append(expose, strings.ToLower(p))
			}
		case "HEALTHCHECK":
			healthcheck = arg
		case "STOPSIGNAL":
			if arg != "SIGTERM" {
				t.Errorf("%s: STOPSIGNAL %s; accord drains on SIGTERM", path, arg)
			}
		}
	}
	if !binary {
		t.Errorf("%s: the runtime stage does not COPY --from=%s the binary to a bin directory as accord", path, from[2])
	}
	if !slices.Equal(entrypoint, []string{"accord"}) || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf(`%s: ENTRYPOINT %q CMD %q, want ["accord"] ["serve"]`, path, entrypoint, cmd)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("%s: USER %q, want a non-root user", path, user)
	}
	img.cmd = append(entrypoint, cmd...)
	cfg := loadNode(t, path, img.env, cmd)
	for name, addr := range map[string]string{"--http-addr": cfg.HTTPAddr, "--gossip-addr": cfg.GossipAddr, "--remote-addr": cfg.RemoteAddr} {
		if host, _, _ := net.SplitHostPort(addr); host != "0.0.0.0" && host != "" {
			t.Errorf("%s: %s is %s; in a container it must bind 0.0.0.0", path, name, addr)
		}
	}
	slices.Sort(expose)
	if want := exposed(t, path, cfg); !slices.Equal(expose, want) {
		t.Errorf("%s: EXPOSE %v, but the node listens on %v", path, expose, want)
	}
	if _, command, ok := strings.Cut(healthcheck, "CMD "); !ok {
		t.Errorf("%s: no HEALTHCHECK ... CMD", path)
	} else {
		checkHealthcheck(t, path+" HEALTHCHECK", command, cfg)
	}
	return img
}

var composeVar = regexp.MustCompile(`\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|[A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands ${VAR}, ${VAR:-default}, ${VAR:?error}, $VAR and $$
// as docker compose does, from vars only. A variable neither given nor
// defaulted is an error: compose would substitute "" with a mere warning.
func interpolate(text string, vars map[string]string) (string, error) {
	var errs []error
	out := composeVar.ReplaceAllStringFunc(text, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if sub[1] == "$" {
			return "$"
		}
		name := sub[2]
		if name == "" {
			name = sub[1]
		}
		v, ok := vars[name]
		switch op := sub[3]; {
		case op == ":-" && v == "", op == "-" && !ok:
			return sub[4]
		case (op == ":?" && v == "") || (op == "?" && !ok):
			errs = append(errs, fmt.Errorf("compose would stop: %s", sub[4]))
		case !ok:
			errs = append(errs, fmt.Errorf("%s is unset and has no default", name))
		}
		return v
	})
	return out, errors.Join(errs...)
}

type composeService struct {
	Image           string         `yaml:"image"`
	Build           map[string]any `yaml:"build"`
	Hostname        string         `yaml:"hostname"`
	Command         any            `yaml:"command"`
	Entrypoint      any            `yaml:"entrypoint"`
	Environment     any            `yaml:"environment"`
	Ports           []any          `yaml:"ports"`
	DependsOn       any            `yaml:"depends_on"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	Healthcheck     *struct {
		Test any `yaml:"test"`
	} `yaml:"healthcheck"`
}

// words turns a compose command (string or list) into words.
func words(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, w := range v {
			out = append(out, fmt.Sprint(w))
		}
		return out
	}
	return nil
}

// keyValues turns a compose map or KEY=VALUE list into a map.
func keyValues(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out[k] = fmt.Sprint(x)
		}
	case []any:
		for _, kv := range v {
			k, x, _ := strings.Cut(fmt.Sprint(kv), "=")
			out[k] = x
		}
	}
	return out
}

func TestDeployCompose(t *testing.T) {
	img := checkDockerfile(t)
	path := filepath.Join(deployDir, "docker-compose.yml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	text, err := interpolate(string(raw), map[string]string{"ACCORD_GOSSIP_KEY": base64.StdEncoding.EncodeToString(key)})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var file struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(text), &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	type node struct {
		names []string // service name and hostname: how the others reach it
		cfg   Config
		db    string
	}
	nodes := map[string]node{}
	var published []string
	var postgres string
	for name, svc := range file.Services {
		if strings.HasPrefix(svc.Image, "postgres:") {
			postgres = name
			if !strings.HasPrefix(svc.Image, "postgres:15") {
				t.Errorf("%s %s: image %s, want PostgreSQL 15", path, name, svc.Image)
			}
		}
	}
	if postgres == "" {
		t.Fatalf("%s: no postgres service", path)
	}
	for name, svc := range file.Services {
		where := path + " " + name
		if df, _ := svc.Build["dockerfile"].(string); df != "deploy/Dockerfile" {
			continue // not a node
		}
		argv := img.cmd
		if svc.Entrypoint != nil {
			argv = words(svc.Entrypoint)
		}
		if svc.Command != nil {
			argv = append(argv[:1:1], words(svc.Command)...)
		}
		if len(argv) == 0 || argv[0] != "accord" {
			t.Fatalf("%s: runs %q, not accord", where, argv)
		}
		env := maps.Clone(img.env)
		maps.Copy(env, keyValues(svc.Environment))
		cfg := loadNode(t, where, env, argv[1:])
		checkContainerNode(t, where, cfg)
		nodes[name] = node{names: []string{name, svc.Hostname}, cfg: cfg, db: env["DATABASE_URL"]}
		if !slices.Contains(nodes[name].names, cfg.AdvertiseAddr) {
			t.Errorf("%s: advertises %q, not its own name", where, cfg.AdvertiseAddr)
		}

		httpPort := strconv.Itoa(portOf(t, where, cfg.HTTPAddr))
		for _, p := range svc.Ports {
			spec, _, _ := strings.Cut(fmt.Sprint(p), "/")
			parts := strings.Split(spec, ":")
			if len(parts) < 2 {
				t.Errorf("%s: port %q publishes no fixed host port", where, p)
				continue
			}
			if target := parts[len(parts)-1]; target != httpPort {
				t.Errorf("%s: publishes container port %s; only HTTP (%s) may leave the compose network", where, target, httpPort)
			}
			published = append(published, parts[len(parts)-2])
		}
		if svc.Healthcheck == nil {
			t.Errorf("%s: no healthcheck", where)
		} else {
			checkHealthcheck(t, where+" healthcheck", strings.Join(words(svc.Healthcheck.Test), " "), cfg)
		}
		if grace, err := time.ParseDuration(svc.StopGracePeriod); err != nil || grace < cfg.ShutdownTimeout {
			t.Errorf("%s: stop_grace_period %q is shorter than the node's shutdown timeout %v", where, svc.StopGracePeriod, cfg.ShutdownTimeout)
		}
		deps := words(svc.DependsOn)
		if m, ok := svc.DependsOn.(map[string]any); ok {
			deps = slices.Collect(maps.Keys(m))
		}
		if !slices.Contains(deps, postgres) {
			t.Errorf("%s: does not depend on %s", where, postgres)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("%s: %d nodes built from deploy/Dockerfile, want 3", path, len(nodes))
	}
	slices.Sort(published)
	if len(published) != len(nodes) || len(slices.Compact(slices.Clone(published))) != len(published) {
		t.Errorf("%s: published HTTP ports %v, want one distinct port per node", path, published)
	}

	var db string
	var gossipKey []byte
	for name, n := range nodes {
		where := path + " " + name
		if u, err := url.Parse(n.db); err != nil || u.Hostname() != postgres {
			t.Errorf("%s: DATABASE_URL %q does not point at the %s service", where, n.db, postgres)
		}
		if db == "" {
			db, gossipKey = n.db, n.cfg.GossipKey
		}
		if n.db != db {
			t.Errorf("%s: DATABASE_URL differs from the other nodes'", where)
		}
		if len(n.cfg.GossipKey) == 0 || string(n.cfg.GossipKey) != string(gossipKey) {
			t.Errorf("%s: no gossip key, or not the others'", where)
		}
		// Seeds: every node's gossip address, by a name that reaches it.
		seeded := map[string]bool{}
		for _, seed := range n.cfg.Seeds {
			host, port, err := net.SplitHostPort(seed)
			if err != nil {
				t.Errorf("%s: seed %q: %v", where, seed, err)
				continue
			}
			for other, o := range nodes {
				if slices.Contains(o.names, host) {
					seeded[other] = true
					if want := strconv.Itoa(portOf(t, where, o.cfg.GossipAddr)); port != want {
						t.Errorf("%s: seed %s is not %s's gossip port %s", where, seed, other, want)
					}
				}
			}
		}
		if len(seeded) != len(nodes) {
			t.Errorf("%s: seeds %v do not list every node", where, n.cfg.Seeds)
		}
	}
}

// The parts of Kubernetes objects the test reads.
type (
	k8sMeta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	k8sSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	k8sContainer struct {
		Name    string   `yaml:"name"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Env []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				FieldRef *struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
				SecretKeyRef *struct {
					Name string `yaml:"name"`
					Key  string `yaml:"key"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
			Protocol      string `yaml:"protocol"`
		} `yaml:"ports"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		Lifecycle      struct {
			PreStop *struct {
				Exec *struct {
					Command []string `yaml:"command"`
				} `yaml:"exec"`
				Sleep *struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
	}
	k8sWorkload struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     struct {
			Replicas int         `yaml:"replicas"`
			Selector k8sSelector `yaml:"selector"`
			Template struct {
				Metadata k8sMeta `yaml:"metadata"`
				Spec     struct {
					TerminationGracePeriodSeconds *int           `yaml:"terminationGracePeriodSeconds"`
					Containers                    []k8sContainer `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sService struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     struct {
			ClusterIP                string            `yaml:"clusterIP"`
			PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
			Selector                 map[string]string `yaml:"selector"`
			Ports                    []struct {
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
				Protocol   string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	k8sPDB struct {
		Spec struct {
			MinAvailable   any         `yaml:"minAvailable"`
			MaxUnavailable any         `yaml:"maxUnavailable"`
			Selector       k8sSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	k8sNetworkPolicy struct {
		Spec struct {
			PodSelector k8sSelector `yaml:"podSelector"`
			Ingress     []struct {
				From []struct {
					PodSelector       *k8sSelector `yaml:"podSelector"`
					NamespaceSelector any          `yaml:"namespaceSelector"`
					IPBlock           any          `yaml:"ipBlock"`
				} `yaml:"from"`
				Ports []struct {
					Port     any    `yaml:"port"`
					Protocol string `yaml:"protocol"`
				} `yaml:"ports"`
			} `yaml:"ingress"`
		} `yaml:"spec"`
	}
	k8sData struct {
		Metadata   k8sMeta           `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
)

// k8sDocs reads every YAML document of a file, by kind, each re-encoded so
// it can be decoded into the struct of its kind.
func k8sDocs(t *testing.T, path string) map[string][][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]byte{}
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc == nil {
			continue
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		kind, _ := doc["kind"].(string)
		out[kind] = append(out[kind], b)
	}
}

func decodeAll[T any](t *testing.T, docs [][]byte) []T {
	t.Helper()
	out := make([]T, len(docs))
	for i, b := range docs {
		if err := yaml.Unmarshal(b, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// matches reports whether a selector selects pods labelled labels.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func TestDeployKubernetes(t *testing.T) {
	dir := filepath.Join(deployDir, "kubernetes")
	docs := map[string][][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var kustomization struct {
		Resources []string `yaml:"resources"`
	}
	for _, path := range files {
		base := filepath.Base(path)
		switch {
		case base == "kustomization.yaml":
			b, _ := os.ReadFile(path)
			if err := yaml.Unmarshal(b, &kustomization); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		case strings.HasSuffix(base, ".example.yaml"):
			for kind, d := range k8sDocs(t, path) {
				docs["example "+kind] = append(docs["example "+kind], d...)
			}
		default:
			for kind, d := range k8sDocs(t, path) {
				docs[kind] = append(docs[kind], d...)
			}
		}
	}
	for _, path := range files {
		base := filepath.Base(path)
		if base != "kustomization.yaml" && !strings.HasSuffix(base, ".example.yaml") && !slices.Contains(kustomization.Resources, base) {
			t.Errorf("%s: not listed in kustomization.yaml", path)
		}
	}
	for _, r := range kustomization.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization.yaml: %v", err)
		}
	}

	workloads := append(decodeAll[k8sWorkload](t, docs["Deployment"]), decodeAll[k8sWorkload](t, docs["StatefulSet"])...)
	if len(workloads) != 1 {
		t.Fatalf("%s: %d Deployments/StatefulSets, want 1", dir, len(workloads))
	}
	w := workloads[0]
	pod := w.Spec.Template
	where := dir + " " + w.Metadata.Name
	if !matches(w.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("%s: selector %v does not select its pods %v", where, w.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", where, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	argv := c.Args
	if c.Command != nil {
		if c.Command[0] != "accord" {
			t.Fatalf("%s: runs %q, not accord", where, c.Command)
		}
		argv = append(c.Command[1:], c.Args...)
	}

	// The node's environment: the ConfigMaps it loads, then env, with the
	// downward API's pod IP and the Secret's values stood in for.
	configMaps := map[string]map[string]string{}
	for _, cm := range decodeAll[k8sData](t, docs["ConfigMap"]) {
		configMaps[cm.Metadata.Name] = cm.Data
	}
	secrets := map[string]map[string]string{}
	for _, s := range decodeAll[k8sData](t, docs["example Secret"]) {
		secrets[s.Metadata.Name] = s.StringData
	}
	const podIP = "10.244.1.7"
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || configMaps[from.ConfigMapRef.Name] == nil {
			t.Fatalf("%s: envFrom must name a ConfigMap defined here", where)
		}
		maps.Copy(env, configMaps[from.ConfigMapRef.Name])
	}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		switch vf := e.ValueFrom; {
		case vf == nil:
			env[e.Name] = regexp.MustCompile(`\$\(([A-Za-z_0-9]+)\)`).ReplaceAllStringFunc(e.Value, func(m string) string {
				return env[m[2:len(m)-1]]
			})
		case vf.FieldRef != nil && vf.FieldRef.FieldPath == "status.podIP":
			env[e.Name] = podIP
		case vf.SecretKeyRef != nil:
			if _, ok := secrets[vf.SecretKeyRef.Name][vf.SecretKeyRef.Key]; !ok {
				t.Errorf("%s: %s reads key %q of Secret %q, which secret.example.yaml does not show", where, e.Name, vf.SecretKeyRef.Key, vf.SecretKeyRef.Name)
			}
			fromSecret[e.Name] = true
			env[e.Name] = "postgres://accord@db/accord"
			if e.Name == "ACCORD_GOSSIP_KEY" {
				env[e.Name] = base64.StdEncoding.EncodeToString(key)
			}
		default:
			t.Errorf("%s: %s comes from an unsupported source", where, e.Name)
		}
	}
	for _, name := range []string{"DATABASE_URL", "ACCORD_GOSSIP_KEY"} {
		if !fromSecret[name] {
			t.Errorf("%s: %s must come from a Secret", where, name)
		}
	}
	cfg := loadNode(t, where, env, argv)
	checkContainerNode(t, where, cfg)
	if cfg.AdvertiseAddr != podIP {
		t.Errorf("%s: advertises %q, not the pod IP", where, cfg.AdvertiseAddr)
	}

	// Ports, by name and number.
	var ports []string
	named := map[string]int{}
	for _, p := range c.Ports {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		ports = append(ports, fmt.Sprintf("%d/%s", p.ContainerPort, proto))
		named[p.Name] = p.ContainerPort
	}
	slices.Sort(ports)
	if want := exposed(t, where, cfg); !slices.Equal(ports, want) {
		t.Errorf("%s: containerPorts %v, but the node listens on %v", where, ports, want)
	}
	resolve := func(port any) int {
		switch p := port.(type) {
		case string:
			if n, ok := named[p]; ok {
				return n
			}
			n, _ := strconv.Atoi(p)
			return n
		case uint64:
			return int(p)
		case int64:
			return int(p)
		case int:
			return p
		}
		return 0
	}
	httpPort, gossipPort, remotePort := portOf(t, where, cfg.HTTPAddr), portOf(t, where, cfg.GossipAddr), portOf(t, where, cfg.RemoteAddr)

	// Probes.
	for kind, p := range map[string]*k8sProbe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no httpGet %sProbe", where, kind)
			continue
		}
		if got := probeKind(p.HTTPGet.Path); got != kind {
			t.Errorf("%s: %sProbe on %s, which is a %q route", where, kind, p.HTTPGet.Path, got)
		}
		if got := resolve(p.HTTPGet.Port); got != httpPort {
			t.Errorf("%s: %sProbe on port %v (%d), but HTTP is on %d", where, kind, p.HTTPGet.Port, got, httpPort)
		}
	}

	// Termination: the preStop sleep, then the node's own drain.
	var sleep int
	if ps := c.Lifecycle.PreStop; ps != nil && ps.Sleep != nil {
		sleep = ps.Sleep.Seconds
	} else if ps != nil && ps.Exec != nil && len(ps.Exec.Command) == 2 && ps.Exec.Command[0] == "sleep" {
		sleep, _ = strconv.Atoi(ps.Exec.Command[1])
	}
	if sleep <= 0 {
		t.Errorf("%s: no preStop sleep to let endpoints drop the pod before SIGTERM", where)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < cfg.ShutdownTimeout+time.Duration(sleep)*time.Second {
		t.Errorf("%s: terminationGracePeriodSeconds must cover the preStop sleep (%d s) and the shutdown timeout (%v)", where, sleep, cfg.ShutdownTimeout)
	}

	// Services: a headless one for the seeds, a client one for HTTP, and
	// neither exposes remoting; only the headless one carries gossip.
	var headless, client []string
	for _, s := range decodeAll[k8sService](t, docs["Service"]) {
		where := dir + " Service " + s.Metadata.Name
		if !matches(s.Spec.Selector, pod.Metadata.Labels) {
			t.Errorf("%s: selector %v does not select the nodes", where, s.Spec.Selector)
			continue
		}
		targets := map[string]int{} // "port/proto" → container port
		for _, p := range s.Spec.Ports {
			target := p.Port
			if p.TargetPort != nil {
				target = resolve(p.TargetPort)
			}
			proto := strings.ToLower(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			targets[fmt.Sprintf("%d/%s", p.Port, proto)] = target
			if target == remotePort || (target == gossipPort && s.Spec.ClusterIP != "None") {
				t.Errorf("%s: exposes port %d, which is cluster-internal", where, target)
			}
		}
		switch {
		case s.Spec.ClusterIP == "None":
			if !s.Spec.PublishNotReadyAddresses {
				t.Errorf("%s: headless without publishNotReadyAddresses: nodes that start together find no peers and serve as separate clusters", where)
				continue
			}
			headless = append(headless, s.Metadata.Name)
			// memberlist joins over TCP and probes over UDP.
			for _, seed := range cfg.Seeds {
				host, port, _ := net.SplitHostPort(seed)
				if name, _, _ := strings.Cut(host, "."); name != s.Metadata.Name {
					continue
				}
				for _, proto := range []string{"tcp", "udp"} {
					if got := targets[port+"/"+proto]; got != gossipPort {
						t.Errorf("%s: seed %s reaches %s port %d, not gossip (%d)", where, seed, proto, got, gossipPort)
					}
				}
			}
		case slices.Contains(slices.Collect(maps.Values(targets)), httpPort):
			client = append(client, s.Metadata.Name)
		}
	}
	if len(headless) != 1 || len(client) != 1 {
		t.Errorf("%s: headless Services %v and client Services %v, want one each", dir, headless, client)
	}
	for _, seed := range cfg.Seeds {
		host, _, _ := net.SplitHostPort(seed)
		if name, _, _ := strings.Cut(host, "."); !slices.Contains(headless, name) {
			t.Errorf("%s: seed %s is not the headless Service %v", where, seed, headless)
		}
	}

	pdbs := decodeAll[k8sPDB](t, docs["PodDisruptionBudget"])
	if len(pdbs) != 1 || !matches(pdbs[0].Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("%s: want one PodDisruptionBudget selecting the nodes", dir)
	} else if most := pdbs[0].Spec.MaxUnavailable; most == nil && pdbs[0].Spec.MinAvailable == nil {
		t.Errorf("%s: the PodDisruptionBudget sets neither maxUnavailable nor minAvailable", dir)
	} else if most != nil && (fmt.Sprint(most) == "0" || resolve(most) >= w.Spec.Replicas) {
		t.Errorf("%s: the PodDisruptionBudget's maxUnavailable %v blocks drains or protects nothing", dir, most)
	}

	// A NetworkPolicy, when there is one, admits gossip and remoting only
	// from the nodes themselves.
	for _, np := range decodeAll[k8sNetworkPolicy](t, docs["NetworkPolicy"]) {
		if !matches(np.Spec.PodSelector.MatchLabels, pod.Metadata.Labels) {
			continue
		}
		for _, rule := range np.Spec.Ingress {
			internal := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				if n := resolve(p.Port); n == gossipPort || n == remotePort {
					internal = true
				}
			}
			if !internal {
				continue
			}
			for _, from := range rule.From {
				if from.PodSelector == nil || from.NamespaceSelector != nil || from.IPBlock != nil || !matches(from.PodSelector.MatchLabels, pod.Metadata.Labels) {
					t.Errorf("%s: the NetworkPolicy admits gossip or remoting from outside the nodes", dir)
				}
			}
			if len(rule.From) == 0 {
				t.Errorf("%s: the NetworkPolicy admits gossip or remoting from anywhere", dir)
			}
		}
	}
}

// readEnvFile reads KEY=VALUE lines, skipping comments and blank lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is no KEY=VALUE", path, line)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env
}

func TestDeploySystemd(t *testing.T) {
	path := filepath.Join(deployDir, "accord.service")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	service := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			service[k] = append(service[k], v)
		}
	}
	env := map[string]string{}
	for _, assignment := range service["Environment"] {
		for _, kv := range strings.Fields(assignment) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			env[k] = v
		}
	}
	// EnvironmentFile= overrides Environment=; the example stands in for it.
	maps.Copy(env, readEnvFile(t, filepath.Join(deployDir, "accord.env.example")))

	exec := strings.Fields(strings.Join(service["ExecStart"], " "))
	if len(service["ExecStart"]) != 1 || len(exec) < 2 || !filepath.IsAbs(exec[0]) || filepath.Base(exec[0]) != "accord" {
		t.Fatalf("%s: ExecStart %q, want /path/to/accord serve [flags]", path, service["ExecStart"])
	}
	cfg := loadNode(t, path+" with accord.env.example", env, exec[1:])
	for _, seed := range cfg.Seeds {
		if _, port, _ := net.SplitHostPort(seed); port != strconv.Itoa(portOf(t, path, cfg.GossipAddr)) {
			t.Errorf("accord.env.example: seed %s is not on the gossip port of %s", seed, cfg.GossipAddr)
		}
	}
	if _, _, err := net.SplitHostPort(cfg.AdvertiseAddr); err == nil {
		t.Errorf("accord.env.example: ACCORD_ADVERTISE_ADDR %q has a port", cfg.AdvertiseAddr)
	}
	if got := service["KillSignal"]; len(got) > 0 && got[0] != "SIGTERM" {
		t.Errorf("%s: KillSignal %s; accord drains on SIGTERM", path, got[0])
	}
	stop := strings.Join(service["TimeoutStopSec"], "")
	d, err := time.ParseDuration(stop)
	if n, err2 := strconv.Atoi(stop); err2 == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < cfg.ShutdownTimeout {
		t.Errorf("%s: TimeoutStopSec %q is shorter than the node's shutdown timeout %v", path, stop, cfg.ShutdownTimeout)
	}
}
