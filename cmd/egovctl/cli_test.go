package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"egov/internal/password"
)

// leaves returns the path (as arguments) of every command that runs a
// function of its own, with its flags.
func leaves(c *cobra.Command, path []string) map[string]*cobra.Command {
	out := map[string]*cobra.Command{}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		p := append(append([]string{}, path...), sub.Name())
		if sub.HasSubCommands() {
			for k, v := range leaves(sub, p) {
				out[k] = v
			}
			continue
		}
		out[strings.Join(p, " ")] = sub
	}
	return out
}

// Every command answers -h and --help with its flags and exit 0, and an
// unknown flag with exit 2.
func TestEveryCommandHelpAndUnknownFlag(t *testing.T) {
	all := leaves(newRoot(), nil)
	if len(all) < 15 {
		t.Fatalf("%d commands found", len(all))
	}
	for path, c := range all {
		args := strings.Fields(path)
		if c.Flags().NFlag() == 0 && !c.Flags().HasFlags() {
			t.Errorf("%s: no flags described", path)
		}
		for _, help := range []string{"-h", "--help"} {
			code, out, errOut := egovctl(t, append(args, help)...)
			if code != 0 {
				t.Errorf("egovctl %s %s: exit %d\n%s", path, help, code, errOut)
				continue
			}
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if env := envVar("egovctl "+path, f.Name); !strings.Contains(out, "--"+f.Name) || !strings.Contains(out, "$"+env) {
					t.Errorf("egovctl %s %s: flag --%s or $%s missing:\n%s", path, help, f.Name, env, out)
				}
			})
		}
		if code, _, errOut := egovctl(t, append(args, "--no-such-flag")...); code != 2 || !strings.Contains(errOut, "no-such-flag") {
			t.Errorf("egovctl %s --no-such-flag: exit %d, want 2\n%s", path, code, errOut)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"pki", "-h"}, {"evidence", "-h"}, {"shep", "--help"}, {"sms", "-h"}, {"completion", "bash"}, {"completion", "zsh"}, {"completion", "fish"}} {
		if code, out, errOut := egovctl(t, args...); code != 0 || out == "" {
			t.Errorf("egovctl %v: exit %d\n%s", args, code, errOut)
		}
	}
	if _, out, _ := egovctl(t, "-h"); !strings.Contains(out, "3  could not run") || !strings.Contains(out, "EGOV_<COMMAND>_<FLAG>") {
		t.Errorf("root help lacks the exit codes or the environment rule:\n%s", out)
	}
}

// Bad values are refused with exit 2 before anything starts; the exit
// codes of refusals and of what could not run.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	mustRun(t, "pki", "init", "--dir", ca)
	key := filepath.Join(dir, "k")
	mustRun(t, "pki", "issue", "--dir", ca, "--iin", "791028302728", "--name", "A B", "--out", key)
	in, signed := filepath.Join(dir, "in.xml"), filepath.Join(dir, "signed.xml")
	if err := os.WriteFile(in, []byte(request), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "sign", "--key", key+".p12", "--password", demoPassword, "--in", in, "--out", signed)
	trust := filepath.Join(ca, "trust")

	portal := freeAddr(t)
	upData := filepath.Join(dir, "up")
	for _, tc := range []struct {
		want int
		args []string
	}{
		{2, []string{"up", "--data", upData, "--listen", portal, "--pace", "weird"}},
		{2, []string{"up", "--data", upData, "--listen", "nonsense"}},
		{2, []string{"up", "--data", upData, "--listen", portal, "--evidence-chain", "8"}},
		{2, []string{"up", "--data", upData, "--listen", portal, "--pace-factor", "0"}},
		{2, []string{"up", "--data", upData, "--listen", portal, "--metrics-listen", "127.0.0.1:http"}},
		{2, []string{"up", "--data", upData, "--listen", portal, "--redis", "http://x"}},
		{2, []string{"up", "--data", upData, "--listen", portal, "--http-body-grace", "soon"}},
		{2, []string{"demo", "--proof", "fax"}},
		{2, []string{"demo", "--iin", "123456789012"}},
		{2, []string{"demo", "--gateway", "127.0.0.1:8080"}},
		{2, []string{"loadtest", "--rate", "10", "--duration", "-1s"}},
		{2, []string{"loadtest", "--rate", "-5"}},
		{2, []string{"replay", "fixtures/envelopes", "--rate", "-1"}},
		{2, []string{"replay", "fixtures/envelopes", "--only", "("}},
		{2, []string{"replay", "--concurrency", "0"}},
		{2, []string{"replay", "a", "b"}},
		{2, []string{"pki", "issue", "--dir", ca, "--iin", "791028302728", "--name", "A B", "--out", key, "--role", "boss"}},
		{2, []string{"pki", "crl", "--dir", ca, "--out", "x", "--validity", "0s"}},
		{2, []string{"pki", "ocsp", "--dir", ca, "--listen", "8889"}},
		{2, []string{"verify", "--trust", trust, "--in", signed, "--at", "tomorrow"}},
		{2, []string{"verify", "--in", signed}},
		{3, []string{"verify", "--trust", "/nonexistent", "--in", signed}},
		{3, []string{"verify", "--trust", trust, "--in", filepath.Join(dir, "missing.xml")}},
		{3, []string{"verify", "--trust", trust, "--crl", filepath.Join(dir, "missing.crl"), "--in", signed}},
		{3, []string{"evidence", "verify", "--archive", filepath.Join(dir, "missing.zip"), "--trust", trust}},
		{3, []string{"sign", "--key", filepath.Join(dir, "missing.p12"), "--in", in, "--out", "-"}},
		{3, []string{"evidence", "verify", "--data", dir, "--redis", "redis://127.0.0.1:1/0"}},
		{1, []string{"verify", "--trust", trust, "--in", signed}}, // no revocation source: refused
		{1, []string{"verify", "--trust", trust, "--in", signed, "--allow-unknown-revocation", "--iin", "900101300811"}},
		{0, []string{"verify", "--trust", trust, "--in", signed, "--allow-unknown-revocation", "--iin", "791028302728"}},
	} {
		if code, out, errOut := egovctl(t, tc.args...); code != tc.want {
			t.Errorf("egovctl %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	if _, err := os.Stat(upData); !os.IsNotExist(err) {
		t.Errorf("up with a bad value created its data directory (%v)", err)
	}
	if c, err := net.Dial("tcp", portal); err == nil {
		c.Close()
		t.Errorf("up with a bad value listens on %s", portal)
	}
}

// A flag not on the command line takes its EGOV_* variable; the command
// line wins; a bad value in a variable is refused naming it.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("EGOV_SHEP_HASH_PASSWORD_PASSWORD", "from-the-environment")
	hash := strings.TrimSpace(mustRun(t, "shep", "hash-password"))
	if !password.Check(hash, "from-the-environment") {
		t.Fatalf("hash-password did not take $EGOV_SHEP_HASH_PASSWORD_PASSWORD: %s", hash)
	}
	hash = strings.TrimSpace(mustRun(t, "shep", "hash-password", "--password", "from-the-line"))
	if !password.Check(hash, "from-the-line") {
		t.Fatalf("the command line did not win over $EGOV_SHEP_HASH_PASSWORD_PASSWORD")
	}
	dir := filepath.Join(t.TempDir(), "ca")
	t.Setenv("EGOV_PKI_INIT_DIR", dir)
	mustRun(t, "pki", "init")
	if _, err := os.Stat(filepath.Join(dir, "trust")); err != nil {
		t.Fatalf("pki init did not take $EGOV_PKI_INIT_DIR: %v", err)
	}
	t.Setenv("EGOV_UP_PACE", "weird")
	code, _, errOut := egovctl(t, "up", "--data", filepath.Join(t.TempDir(), "d"))
	if code != 2 || !strings.Contains(errOut, "EGOV_UP_PACE") {
		t.Fatalf("up with EGOV_UP_PACE=weird: exit %d, want 2 naming the variable\n%s", code, errOut)
	}
	t.Setenv("EGOV_UP_PACE", "")
	t.Setenv("EGOV_HTTP_BODY_GRACE", "soon")
	if code, _, errOut := egovctl(t, "up", "--data", filepath.Join(t.TempDir(), "d")); code != 2 || !strings.Contains(errOut, "EGOV_HTTP_BODY_GRACE") {
		t.Fatalf("up with EGOV_HTTP_BODY_GRACE=soon: exit %d, want 2\n%s", code, errOut)
	}
}

// The built binary, run outside the repository with no EGOV_* variable,
// starts the stack on its embedded Redis with the built-in data sets,
// prints how to reach it, and the operator tools reach it through --data
// alone; a second stack on the same ports cannot run (exit 3); stopping
// removes the state file.
func TestUpOutsideTheRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "egovctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cwd := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EGOV_") {
			env = append(env, kv)
		}
	}
	data := "stackdata" // relative: the tools find it from the same directory
	ports := []string{"--listen", freeAddr(t), "--bus-listen", freeAddr(t), "--ocsp-listen", freeAddr(t), "--sms-listen", freeAddr(t), "--metrics-listen", freeAddr(t), "--counter-listen", freeAddr(t), "--centre-listen", freeAddr(t)}
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, bin, args...)
		c.Dir, c.Env = cwd, env
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := command(ctx, append([]string{"up", "--data", data}, ports...)...)
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var upErr syncBuffer
	up.Stderr = &upErr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = up.Process.Kill() }()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var printed strings.Builder
	for !strings.Contains(printed.String(), "Stop with Ctrl-C.") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("up ended before it was up: %v\n%s%s", up.Wait(), printed.String(), upErr.String())
			}
			printed.WriteString(l + "\n")
		case <-ctx.Done():
			t.Fatalf("up did not come up:\n%s%s", printed.String(), upErr.String())
		}
	}
	for _, want := range []string{"is up", "redis://127.0.0.1:", "embedded", "Qwerty12", "account password " + demoAccountPassword("791028302728"),
		"egovctl evidence verify --data " + data, "egovctl shep dead-letters --data " + data, "egovctl replay --data " + data} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("up did not print %q:\n%s", want, printed.String())
		}
	}
	raw, err := os.ReadFile(filepath.Join(cwd, data, stackFile))
	if err != nil {
		t.Fatal(err)
	}
	var st stackState
	if err := json.Unmarshal(raw, &st); err != nil || !strings.HasPrefix(st.Redis, "redis://127.0.0.1:") || st.PID != up.Process.Pid || st.Portal != "http://"+ports[1] {
		t.Fatalf("stack.json %s (%v)", raw, err)
	}

	out, err := command(ctx, "evidence", "verify", "--data", data).Output()
	var rep struct{ Intact bool }
	if err != nil || json.Unmarshal(out, &rep) != nil || !rep.Intact {
		t.Errorf("evidence verify --data: %v\n%s", err, out)
	}
	dl := command(ctx, "shep", "dead-letters", "--data", data)
	var dlErr strings.Builder
	dl.Stderr = &dlErr
	if err := dl.Run(); err != nil || !strings.Contains(dlErr.String(), "0 dead letters") || !strings.Contains(dlErr.String(), "--redis "+st.Redis+" (from ") {
		t.Errorf("shep dead-letters --data: %v\n%s", err, dlErr.String())
	}

	second := command(ctx, append([]string{"up", "--data", data}, ports...)...)
	if out, err := second.CombinedOutput(); second.ProcessState == nil || second.ProcessState.ExitCode() != 3 {
		t.Errorf("a second up on the same ports: %v, want exit 3\n%s", err, out)
	}

	if err := up.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := up.Wait(); err != nil {
		t.Errorf("up after SIGINT: %v\n%s", err, upErr.String())
	}
	if _, err := os.Stat(filepath.Join(cwd, data, stackFile)); !os.IsNotExist(err) {
		t.Errorf("stack.json left behind after up stopped (%v)", err)
	}
}
