// Package reliability runs the product as operators run it — redis-server
// with append-only persistence, the SHEP bus, the labour-market system and
// the portal, each its own process built from this module — so that tests
// and the soak can kill, restart and cut off any of them and then prove that
// nothing accepted was lost.
package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"egov/internal/childproc"
	"egov/internal/loadgen"
	"egov/internal/loopback"
	"egov/shep/gbdfl"
	"egov/signing"
	"egov/signing/pki"
)

// Component names one process of the stack.
type Component string

const (
	Redis  Component = "redis"
	Bus    Component = "shep"
	Labour Component = "labourmarket"
	Portal Component = "gateway"
	// Desk is АРМ РШЭП (cmd/regionaldesk), started only with Options.Desk
	// (the soak's requests are all of Almaty).
	Desk Component = "regionaldesk"
)

// Components in the order they are started.
var Components = []Component{Redis, Bus, Labour, Portal}

// Second is the second instance of a program: "shep#2". Its portal and its
// providers' systems talk to the bus of the same instance; every instance
// shares the one Redis and key space.
func Second(c Component) Component { return c + "#2" }

// Kind is the program a component runs: Bus for "shep#2".
func (c Component) Kind() Component {
	for i := range len(c) {
		if c[i] == '#' {
			return c[:i]
		}
	}
	return c
}

// peer is the component of kind k of c's instance (the bus c talks to).
func (c Component) peer(k Component) Component {
	if c != c.Kind() {
		return Second(k)
	}
	return k
}

// Binaries are the stack's programs, built by Build.
type Binaries map[Component]string

// Build compiles the bus, the portal and the providers' systems from the
// module at root into dir.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/shep", "./cmd/gateway", "./cmd/labourmarket", "./cmd/regionaldesk")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH (Debian: apt-get install redis-server): %w", err)
	}
	return Binaries{Redis: redis, Bus: filepath.Join(dir, "shep"), Labour: filepath.Join(dir, "labourmarket"),
		Portal: filepath.Join(dir, "gateway"), Desk: filepath.Join(dir, "regionaldesk")}, nil
}

// Options configure a stack.
type Options struct {
	Root string // the module's root: fixtures are read from there
	Dir  string // working directory: Redis's files, the test PKI, the logs
	// Fsync is Redis's appendfsync policy: "always" (every write on disk
	// before Redis answers) or "everysec" (up to a second may be lost).
	Fsync string
	// Visibility is the bus's lease: how long a killed consumer's messages
	// stay invisible before they are handed out again.
	Visibility time.Duration
	// Desk starts АРМ РШЭП too, after the labour-market system.
	Desk bool
	// RedisURL, when set, is a Redis (a cluster, say) the stack uses
	// instead of a redis-server of its own: no Redis component runs.
	RedisURL string
	// KeyPrefix is put before every key (to share a Redis).
	KeyPrefix string
	// Two runs a second instance of the bus, the labour-market system
	// and the portal (Second), on the same Redis.
	Two bool
}

// Stack is a running stack. Its methods are safe for concurrent use.
type Stack struct {
	// Authority is a writable copy of the committed test PKI that every
	// process trusts; issue synthetic citizens from it.
	Authority *pki.Authority
	RedisURL  string
	BusURL    string
	PortalURL string
	// PortalURLs are every portal instance's (PortalURL first).
	PortalURLs []string

	bin   Binaries
	opt   Options
	ports map[Component]int

	mu    sync.Mutex
	procs map[Component]*exec.Cmd
	exits map[Component]chan struct{}
}

// Start clones the test PKI into opt.Dir and starts every component.
func Start(ctx context.Context, bin Binaries, opt Options) (*Stack, error) {
	if opt.Fsync == "" {
		opt.Fsync = "always"
	}
	if opt.Visibility == 0 {
		opt.Visibility = 10 * time.Second
	}
	for _, d := range []string{"redis", "logs"} {
		if err := os.MkdirAll(filepath.Join(opt.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	authority, err := pki.Clone(filepath.Join(opt.Root, "fixtures", "pki"), filepath.Join(opt.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	if err := writePersons(filepath.Join(opt.Root, "fixtures", "gbdfl", "persons.json"), filepath.Join(opt.Dir, "persons.json")); err != nil {
		return nil, err
	}
	s := &Stack{Authority: authority, bin: bin, opt: opt, ports: map[Component]int{},
		procs: map[Component]*exec.Cmd{}, exits: map[Component]chan struct{}{}}
	for _, c := range []Component{Redis, Bus, Portal, Second(Bus), Second(Portal)} {
		if s.ports[c], err = freePort(); err != nil {
			return nil, err
		}
	}
	s.RedisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", s.ports[Redis])
	if opt.RedisURL != "" {
		s.RedisURL = opt.RedisURL
	}
	s.BusURL = s.url(Bus)
	s.PortalURL = s.url(Portal)
	s.PortalURLs = []string{s.PortalURL}
	if opt.Two {
		s.PortalURLs = append(s.PortalURLs, s.url(Second(Portal)))
	}
	for _, c := range s.components() {
		if err := s.Start(ctx, c); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// url is the HTTP address of a bus or portal component.
func (s *Stack) url(c Component) string { return fmt.Sprintf("http://127.0.0.1:%d", s.ports[c]) }

func (s *Stack) args(c Component) []string {
	args := s.programArgs(c)
	if c.Kind() != Redis && s.opt.KeyPrefix != "" {
		args = append(args, "-key-prefix", s.opt.KeyPrefix)
	}
	return args
}

func (s *Stack) programArgs(c Component) []string {
	root, pkiDir := s.opt.Root, filepath.Join(s.opt.Dir, "pki")
	trust, crl := filepath.Join(pkiDir, "trust"), filepath.Join(pkiDir, "crl.pem")
	busURL := s.url(c.peer(Bus))
	// The logs keep what a failed test needs, not an access line for each of
	// the soak's millions of requests.
	const logLevel = "warn"
	switch c.Kind() {
	case Redis:
		return []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(s.ports[Redis]), "--dir", filepath.Join(s.opt.Dir, "redis"),
			"--appendonly", "yes", "--appendfsync", s.opt.Fsync, "--save", ""}
	case Bus:
		return []string{"-listen", fmt.Sprintf("127.0.0.1:%d", s.ports[c]), "-redis", s.RedisURL,
			"-routing", filepath.Join(root, "fixtures", "shep", "routing.json"), "-persons", filepath.Join(s.opt.Dir, "persons.json"),
			"-trust", trust, "-crl", crl, "-visibility", s.opt.Visibility.String(), "-metrics-listen", "", "-log-level", logLevel}
	case Labour:
		return []string{"-redis", s.RedisURL, "-bus", busURL, "-sender-password", "labour-secret",
			"-key", filepath.Join(pkiDir, "keys", "provider.p12"), "-trust", trust, "-crl", crl, "-ops-listen", "", "-log-level", logLevel}
	case Desk:
		return []string{"-redis", s.RedisURL, "-bus", busURL, "-sender-password", "rshep-secret",
			"-key", filepath.Join(pkiDir, "keys", "regionaldesk.p12"), "-trust", trust, "-crl", crl, "-ops-listen", "", "-log-level", logLevel}
	case Portal:
		return []string{"-listen", fmt.Sprintf("127.0.0.1:%d", s.ports[c]), "-redis", s.RedisURL, "-bus", busURL,
			"-sender-password", "portal-secret", "-trust", trust, "-crl", crl, "-attempts-per-minute", "100000",
			"-http-header-timeout", "2s", "-metrics-listen", "", "-log-level", logLevel}
	}
	return nil
}

// Start starts component c (again) on its port and waits until it answers.
func (s *Stack) Start(ctx context.Context, c Component) error {
	s.mu.Lock()
	if s.procs[c] != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s is already running", c)
	}
	logf, err := os.OpenFile(s.LogPath(c), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd := exec.Command(s.bin[c.Kind()], s.args(c)...)
	cmd.Dir = s.opt.Root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childproc.DieWithParent()
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", c, err)
	}
	exited := make(chan struct{})
	s.procs[c], s.exits[c] = cmd, exited
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	return s.waitReady(ctx, c, exited)
}

func (s *Stack) waitReady(ctx context.Context, c Component, exited <-chan struct{}) error {
	ready := func() bool {
		switch c.Kind() {
		case Redis:
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.ports[Redis]), 200*time.Millisecond)
			if err != nil {
				return false
			}
			// Answering PING means the append-only file has been loaded.
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write([]byte("PING\r\n")); err != nil {
				return false
			}
			buf := make([]byte, 16)
			n, _ := conn.Read(buf)
			return string(buf[:n]) == "+PONG\r\n"
		case Bus, Portal:
			resp, err := http.Get(s.url(c) + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		default:
			return true // the providers' systems serve nothing here; they are up once started
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting; see %s", c, s.LogPath(c))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if ready() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready in 30 s; see %s", c, s.LogPath(c))
}

// Kill ends component c with SIGKILL, as a crash or the OOM killer would:
// no shutdown code runs.
func (s *Stack) Kill(c Component) error { return s.signal(c, syscall.SIGKILL) }

// Stop ends component c with SIGTERM and waits for its graceful shutdown.
func (s *Stack) Stop(c Component) error { return s.signal(c, syscall.SIGTERM) }

func (s *Stack) signal(c Component, sig syscall.Signal) error {
	s.mu.Lock()
	cmd, exited := s.procs[c], s.exits[c]
	s.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s is not running", c)
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	delete(s.procs, c)
	s.mu.Unlock()
	return nil
}

// Pause freezes component c (SIGSTOP): its connections stay open and
// nothing answers, as when a network partition cuts it off.
func (s *Stack) Pause(c Component) error { return s.send(c, syscall.SIGSTOP) }

// Resume lets a paused component run again (SIGCONT).
func (s *Stack) Resume(c Component) error { return s.send(c, syscall.SIGCONT) }

func (s *Stack) send(c Component, sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.procs[c] == nil {
		return fmt.Errorf("%s is not running", c)
	}
	return s.procs[c].Process.Signal(sig)
}

// Restart kills component c and starts it again.
func (s *Stack) Restart(ctx context.Context, c Component) error {
	if err := s.Kill(c); err != nil {
		return err
	}
	return s.Start(ctx, c)
}

// LogPath is the file that collects component c's output over restarts.
func (s *Stack) LogPath(c Component) string {
	return filepath.Join(s.opt.Dir, "logs", string(c)+".log")
}

// Tail returns the last n bytes of component c's log, for failure reports.
func (s *Stack) Tail(c Component, n int64) string {
	f, err := os.Open(s.LogPath(c))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// components are the processes this stack runs, in the order they start.
func (s *Stack) components() []Component {
	var cs []Component
	if s.opt.RedisURL == "" {
		cs = append(cs, Redis)
	}
	cs = append(cs, Bus, Labour)
	if s.opt.Desk {
		cs = append(cs, Desk)
	}
	cs = append(cs, Portal)
	if s.opt.Two {
		cs = append(cs, Second(Bus), Second(Labour), Second(Portal))
	}
	return cs
}

// Programs are the running stack's program instances (not Redis).
func (s *Stack) Programs() []Component {
	var out []Component
	for _, c := range s.components() {
		if c != Redis {
			out = append(out, c)
		}
	}
	return out
}

// Close stops every component, the portal first.
func (s *Stack) Close() {
	cs := s.components()
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		_ = s.Resume(c)
		_ = s.Stop(c)
	}
}

// syntheticPersons is how many of loadgen's synthetic citizens the persons
// register knows, so that their requests are decided on the merits (the
// first registers the citizen, later ones are refused as already
// registered) rather than all refused for want of data.
const syntheticPersons = 200

// writePersons writes the committed persons register with the synthetic
// citizens added.
func writePersons(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var reg struct {
		Persons []gbdfl.Person `json:"persons"`
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		return err
	}
	for i, iin := range loadgen.SyntheticIINs(syntheticPersons) {
		birth, _ := signing.ParseIIN(iin)
		reg.Persons = append(reg.Persons, gbdfl.Person{IIN: iin, Surname: "НАГРУЗКА", Name: "ТЕСТ", BirthDate: birth.BirthDate.Format(time.DateOnly),
			Sex: "male", Citizenship: "KZ", Address: gbdfl.Address{Region: "almaty-city", Text: "г. Алматы"},
			IdentityDocument: gbdfl.Document{Type: "id-card", Number: fmt.Sprintf("9%08d", i), IssuedBy: "МВД РК", Issued: "2021-01-01", Expires: "2031-01-01"}})
	}
	out, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	return os.WriteFile(to, out, 0o644)
}

// freePort is a port outside the range outgoing connections draw from:
// the child binds it later, and a restarted child binds it again.
func freePort() (int, error) { return loopback.Port() }
