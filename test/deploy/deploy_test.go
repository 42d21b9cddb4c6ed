// Package deploy_test checks the deployment files of deploy/ (issue 22): the
// properties they must keep, statically, everywhere; and, where a Docker
// engine runs, that the image and the cluster compose file work: the hub
// container writes its data directory and answers its health checks, with a
// stand-in for the KurrentDB nodes (test/deploy/standin).
package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// ---- Reading the files ----

// dockerfile is a Dockerfile's instructions, continuation lines joined.
type instruction struct {
	op, args string
}

func readDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// finalStage returns the instructions of the last stage.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.op == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// readYAMLDocs reads every document of a multi-document YAML file.
func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

// at walks a decoded YAML value along keys (strings for maps, ints for
// lists); nil when a step is missing.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// words returns a health check's test or a command as one string.
func words(v any) string {
	if l, ok := v.([]any); ok {
		var s []string
		for _, w := range l {
			s = append(s, str(w))
		}
		return strings.Join(s, " ")
	}
	return str(v)
}

// pinned reports whether an image reference names a fixed release: a digest,
// or a tag that is a version (it holds a digit). distroless publishes no
// version tags, only variants (nonroot): its variant of a Debian release is
// taken as pinned (the Dockerfile says to pin its digest in one's own build).
func pinned(ref string) (bool, string) {
	if strings.Contains(ref, "@sha256:") {
		return true, ""
	}
	name, tag := ref, ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	switch {
	case tag == "" || tag == "latest" || tag == "lts" || tag == "stable":
		return false, "no fixed tag"
	case strings.HasPrefix(name, "gcr.io/distroless/") && regexp.MustCompile(`debian\d+$`).MatchString(name):
		return true, ""
	case !strings.ContainsAny(tag, "0123456789"):
		return false, "the tag " + tag + " is no version"
	}
	return true, ""
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

// flagValue returns the value of --name in a command line ("--name v" or
// "--name=v").
func flagValue(cmd []string, name string) string {
	for i, w := range cmd {
		if v, ok := strings.CutPrefix(w, "--"+name+"="); ok {
			return v
		}
		if w == "--"+name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

// ---- Static checks ----

// TestDockerfile: the data directory is created in the image and owned by
// the user the hub runs as, before it is declared a volume (a volume's mount
// point is created from it); the user is not root; the health check asks
// /readyz on the admin address the hub serves; base images are pinned.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t, filepath.Join(root, "deploy/Dockerfile"))
	for _, in := range ins {
		if in.op == "FROM" {
			ref := strings.Fields(in.args)[0]
			if ok, why := pinned(ref); !ok {
				t.Errorf("FROM %s is not pinned: %s", ref, why)
			}
		}
	}
	final := finalStage(ins)
	var user, chowned, cmd, health string
	volumeAt, copyAt := -1, -1
	for i, in := range final {
		switch in.op {
		case "USER":
			user = in.args
		case "VOLUME":
			if strings.Contains(in.args, "/data") {
				volumeAt = i
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) > 0 && f[len(f)-1] == "/data" {
				copyAt = i
				for _, w := range f {
					if v, ok := strings.CutPrefix(w, "--chown="); ok {
						chowned = v
					}
				}
			}
		case "CMD":
			cmd = in.args
		case "HEALTHCHECK":
			health = in.args
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric, non-root user (Kubernetes' runAsNonRoot checks it)", user)
	}
	owner, _, _ := strings.Cut(chowned, ":")
	switch {
	case copyAt < 0:
		t.Error("the final stage does not create /data (COPY --chown=<user> … /data)")
	case owner != uid:
		t.Errorf("/data is owned by %q, the hub runs as %q", chowned, user)
	case volumeAt >= 0 && volumeAt < copyAt:
		t.Error("VOLUME /data comes before /data is created: the volume's mount point would belong to root")
	}
	var cmdArgs []string
	if err := yaml.Unmarshal([]byte(cmd), &cmdArgs); err != nil {
		t.Fatalf("CMD %s: %v", cmd, err)
	}
	admin := flagValue(cmdArgs, "admin-addr")
	if admin == "" {
		t.Fatal("CMD gives no --admin-addr")
	}
	if !strings.Contains(health, "/liaison") || !strings.Contains(health, "healthcheck") || !strings.Contains(health, "/readyz") {
		t.Errorf("HEALTHCHECK %q: want `liaison healthcheck … --path /readyz`", health)
	}
	if !strings.Contains(health, ":"+portOf(t, admin)) {
		t.Errorf("HEALTHCHECK %q does not ask the admin port of %s", health, admin)
	}
}

// TestClusterCompose: images pinned; each KurrentDB node healthy once its
// gossip names a leader; the hubs wait for every node's health, mount /data
// from a named volume (created from the image, owned by the hub's user), and
// are healthy on /readyz of their admin port; the proxy waits for them and
// checks the same port.
func TestClusterCompose(t *testing.T) {
	doc := readYAML(t, filepath.Join(root, "deploy/cluster/compose.yaml"))
	services, _ := doc["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("no services")
	}
	var nodes, hubs []string
	for name, s := range services {
		if img := str(at(s, "image")); img != "" {
			if ok, why := pinned(img); !ok {
				t.Errorf("service %s: image %s is not pinned: %s", name, img, why)
			}
		}
		switch {
		case strings.HasPrefix(name, "kurrentdb"):
			nodes = append(nodes, name)
		case strings.HasPrefix(name, "hub"):
			hubs = append(hubs, name)
		}
	}
	slices.Sort(nodes)
	slices.Sort(hubs)
	if len(nodes) != 3 || len(hubs) < 2 {
		t.Fatalf("nodes %v, hubs %v", nodes, hubs)
	}
	for _, n := range nodes {
		if test := words(at(services, n, "healthcheck", "test")); !strings.Contains(test, "Leader") {
			t.Errorf("%s: its health check %q does not wait for a leader", n, test)
		}
	}
	for _, h := range hubs {
		s := services[h]
		for _, n := range nodes {
			if c := str(at(s, "depends_on", n, "condition")); c != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy (condition %q)", h, n, c)
			}
		}
		admin := str(at(s, "environment", "LIAISON_ADMIN_ADDR"))
		if admin == "" {
			t.Fatalf("%s: no LIAISON_ADMIN_ADDR", h)
		}
		test := words(at(s, "healthcheck", "test"))
		if !strings.Contains(test, "healthcheck") || !strings.Contains(test, ":"+portOf(t, admin)) || !strings.Contains(test, "/readyz") {
			t.Errorf("%s: health check %q does not ask /readyz on the admin port of %s", h, test, admin)
		}
		if str(at(s, "environment", "LIAISON_CLUSTER_TIMEOUT")) == "" {
			t.Errorf("%s: no LIAISON_CLUSTER_TIMEOUT", h)
		}
		data := ""
		for _, v := range at(s, "volumes").([]any) {
			if src, dst, _ := strings.Cut(str(v), ":"); dst == "/data" {
				data = src
			}
		}
		if _, named := doc["volumes"].(map[string]any)[data]; !named {
			t.Errorf("%s: /data is %q, not a named volume (created from the image's /data, owned by the hub's user)", h, data)
		}
	}
	for _, h := range hubs {
		if c := str(at(services, "proxy", "depends_on", h, "condition")); c != "service_healthy" {
			t.Errorf("the proxy does not wait for %s to be healthy (condition %q)", h, c)
		}
	}
	caddy, err := os.ReadFile(filepath.Join(root, "deploy/cluster/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	admin := str(at(services, hubs[0], "environment", "LIAISON_ADMIN_ADDR"))
	if !regexp.MustCompile(`health_port\s+`+portOf(t, admin)+`\b`).Match(caddy) || !strings.Contains(string(caddy), "health_uri /readyz") {
		t.Errorf("the Caddyfile does not check /readyz on the admin port %s", admin)
	}
}

// TestSingleNodeCompose: the development node is pinned and has a health
// check that waits for its leadership.
func TestSingleNodeCompose(t *testing.T) {
	doc := readYAML(t, filepath.Join(root, "deploy/kurrentdb/compose.yaml"))
	s := at(doc, "services", "kurrentdb")
	if ok, why := pinned(str(at(s, "image"))); !ok {
		t.Errorf("image %s is not pinned: %s", str(at(s, "image")), why)
	}
	if test := words(at(s, "healthcheck", "test")); !strings.Contains(test, "Leader") {
		t.Errorf("health check %q does not wait for a leader", test)
	}
}

// TestKubernetes: the image is pinned; the cluster's URL and credentials come
// from the Secret; the probes ask the admin port the hub serves, readiness on
// /readyz; the start-up budget covers the wait for a leader; the pods run as
// the image's non-root user and own the data volume; a PodDisruptionBudget
// keeps a replica through voluntary disruptions.
func TestKubernetes(t *testing.T) {
	dep := readYAML(t, filepath.Join(root, "deploy/k8s/deployment.yaml"))
	pod := at(dep, "spec", "template", "spec")
	ctr := at(pod, "containers", 0)
	if ok, why := pinned(str(at(ctr, "image"))); !ok {
		t.Errorf("image %s is not pinned: %s", str(at(ctr, "image")), why)
	}
	env := map[string]any{}
	for _, e := range at(ctr, "env").([]any) {
		env[str(at(e, "name"))] = e
	}
	for _, name := range []string{"LIAISON_ESDB_URL", "LIAISON_ESDB_USERNAME", "LIAISON_ESDB_PASSWORD", "LIAISON_MASTER_KEY"} {
		if at(env[name], "valueFrom", "secretKeyRef", "name") == nil {
			t.Errorf("%s does not come from a Secret", name)
		}
	}
	var args []string
	for _, a := range at(ctr, "args").([]any) {
		args = append(args, str(a))
	}
	admin := flagValue(args, "admin-addr")
	if admin == "" {
		t.Fatal("no --admin-addr")
	}
	ports := map[string]string{}
	for _, p := range at(ctr, "ports").([]any) {
		ports[str(at(p, "name"))] = str(at(p, "containerPort"))
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		port := str(at(ctr, probe, "httpGet", "port"))
		if named, ok := ports[port]; ok {
			port = named
		}
		if port != portOf(t, admin) {
			t.Errorf("%s asks port %s, the hub serves /healthz and /readyz on %s", probe, port, admin)
		}
	}
	if p := str(at(ctr, "readinessProbe", "httpGet", "path")); p != "/readyz" {
		t.Errorf("readinessProbe asks %s, want /readyz", p)
	}
	timeout, err := time.ParseDuration(str(at(env["LIAISON_CLUSTER_TIMEOUT"], "value")))
	if err != nil {
		t.Fatalf("LIAISON_CLUSTER_TIMEOUT: %v", err)
	}
	threshold, _ := strconv.Atoi(str(at(ctr, "startupProbe", "failureThreshold")))
	period, _ := strconv.Atoi(str(at(ctr, "startupProbe", "periodSeconds")))
	if budget := time.Duration(threshold*period) * time.Second; budget <= timeout {
		t.Errorf("the startup probe gives up after %s, the hub waits %s for a leader", budget, timeout)
	}
	if at(pod, "securityContext", "runAsNonRoot") != true || str(at(pod, "securityContext", "fsGroup")) != "65532" {
		t.Errorf("pod securityContext %v: want runAsNonRoot and fsGroup 65532 (the image's user)", at(pod, "securityContext"))
	}

	labels := at(dep, "spec", "selector", "matchLabels")
	var pdb map[string]any
	for _, d := range readYAMLDocs(t, filepath.Join(root, "deploy/k8s/pdb.yaml")) {
		if d["kind"] == "PodDisruptionBudget" {
			pdb = d
		}
	}
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget")
	}
	if fmt.Sprint(at(pdb, "spec", "selector", "matchLabels")) != fmt.Sprint(labels) {
		t.Errorf("the PodDisruptionBudget selects %v, the Deployment's pods are %v", at(pdb, "spec", "selector", "matchLabels"), labels)
	}
	replicas, _ := strconv.Atoi(str(at(dep, "spec", "replicas")))
	if min, _ := strconv.Atoi(str(at(pdb, "spec", "minAvailable"))); min < 1 || min >= replicas {
		t.Errorf("minAvailable %d with %d replicas: want at least one kept, and one disruptable", min, replicas)
	}
	kust := readYAML(t, filepath.Join(root, "deploy/k8s/kustomization.yaml"))
	var resources []string
	for _, r := range at(kust, "resources").([]any) {
		resources = append(resources, str(r))
		if _, err := os.Stat(filepath.Join(root, "deploy/k8s", str(r))); err != nil {
			t.Errorf("kustomization resource %s: %v", str(r), err)
		}
	}
	if !slices.Contains(resources, "pdb.yaml") {
		t.Error("the kustomization does not apply pdb.yaml")
	}
}

// ---- With a Docker engine ----

// docker runs docker with args in dir and returns its combined output.
func docker(dir string, args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClusterComposeRuns builds the image and starts the cluster compose file
// with a stand-in for the KurrentDB nodes (no KurrentDB image is pulled):
// the hub containers must become healthy — which needs their data directory
// writable and /readyz answering on the admin port — and answer /healthz.
// It needs a Docker engine with the compose plugin, and network access for
// the base images, and skips, saying so, without them.
func TestClusterComposeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no containers")
	}
	if out, err := docker("", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("no Docker engine (docker info: %s): the deployment is checked statically only", strings.TrimSpace(out))
	}
	if out, err := docker("", "compose", "version"); err != nil {
		t.Skipf("no docker compose plugin (%s): the deployment is checked statically only", strings.TrimSpace(out))
	}
	repo, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml", "Caddyfile"} {
		b, err := os.ReadFile(filepath.Join(repo, "deploy/cluster", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	makeSecrets(t, repo, filepath.Join(dir, "secrets"))
	standin := fmt.Sprintf(`{context: %q, dockerfile: test/deploy/standin/Dockerfile}`, repo)
	node := func(cmd string) string {
		return fmt.Sprintf(`
    image: liaison-standin:deploytest
    build: %s
    command: [%s]
    healthcheck: {test: ["CMD", "/standin", "health"%s], interval: 2s, timeout: 2s, retries: 30, start_period: 1s}`,
			standin, cmd, map[bool]string{true: `, "--idle"`, false: ""}[cmd == `"idle"`])
	}
	hub := fmt.Sprintf(`
    image: liaison-hub:deploytest
    build: {context: %q}
    environment: {LIAISON_ESDB_URL: "esdb://kurrentdb-1:2113?tls=false", LIAISON_DEMO_CASES: "20"}
    healthcheck: {interval: 2s, start_period: 5s}`, repo)
	override := "services:\n  kurrentdb-1:" + node(`"serve", "--advertise", "kurrentdb-1"`) +
		"\n  kurrentdb-2:" + node(`"idle"`) + "\n  kurrentdb-3:" + node(`"idle"`) +
		"\n  hub-1:" + hub + "\n  hub-2:" + hub + "\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.standin.yaml"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	project := "liaison-deploytest-" + strings.ToLower(rand.Text()[:8])
	compose := func(args ...string) (string, error) {
		return docker(dir, append([]string{"compose", "-p", project, "-f", "compose.yaml", "-f", "compose.standin.yaml"}, args...)...)
	}
	t.Cleanup(func() {
		if out, err := compose("down", "-v", "--remove-orphans"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	services := []string{"kurrentdb-1", "kurrentdb-2", "kurrentdb-3", "hub-1", "hub-2"}
	if out, err := compose(append([]string{"up", "-d", "--build", "--wait", "--wait-timeout", "600"}, services...)...); err != nil {
		logs, _ := compose("logs", "--no-color", "hub-1", "hub-2")
		t.Fatalf("compose up: %v\n%s\n%s", err, out, logs)
	}
	for _, h := range []string{"hub-1", "hub-2"} {
		if out, err := compose("exec", "-T", h, "/liaison", "healthcheck", "--admin-addr", "127.0.0.1:9090", "--path", "/healthz"); err != nil {
			t.Errorf("%s /healthz: %v\n%s", h, err, out)
		}
		// The hub wrote its data directory: the local store it opened there.
		if out, err := compose("exec", "-T", h, "/liaison", "keys", "--data", "/data"); err != nil {
			t.Errorf("%s cannot write /data: %v\n%s", h, err, out)
		}
	}
}

// makeSecrets creates what deploy/cluster/make-secrets.sh does, in dir.
func makeSecrets(t *testing.T, repo, dir string) {
	t.Helper()
	cmd := exec.Command("go", "run", "./cmd/liaison", "keys", "--data", dir)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("liaison keys: %v\n%s", err, out)
	}
	master, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		master = make([]byte, 32)
		_, _ = rand.Read(master)
		master = []byte(base64.StdEncoding.EncodeToString(master))
	}
	env := "LIAISON_MASTER_KEY=" + strings.TrimSpace(string(master)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "hub.env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dev-token-key.pem", "checkpoint.key", "checkpoint.pub"} {
		_ = os.Chmod(filepath.Join(dir, f), 0o644) // the containers' user reads them
	}
}
