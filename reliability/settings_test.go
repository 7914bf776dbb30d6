package reliability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov/internal/redistest"
)

// TestProgramsReadTheirSettingsTheSameWay runs the stack's three programs
// as an operator would: -h answers 0, a value they cannot use (on the
// command line or in an EGOV_* variable) or a missing required one is
// refused before anything starts, exit 2, naming where it came from.
func TestProgramsReadTheirSettingsTheSameWay(t *testing.T) {
	trust, err := filepath.Abs(filepath.Join("..", "fixtures", "pki", "trust"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		program Component
		args    []string
		env     []string
		code    int
		says    string
	}{
		{program: Bus, args: []string{"-h"}, code: 0, says: "[$EGOV_SHEP_ROUTING]"},
		{program: Portal, args: []string{"-h"}, code: 0, says: "[$EGOV_SHEP_PASSWORD] (required)"},
		{program: Labour, args: []string{"-h"}, code: 0, says: "[$EGOV_LABOUR_PACE]"},
		{program: Desk, args: []string{"-h"}, code: 0, says: "[$EGOV_REGIONALDESK_PASSWORD] (required)"},
		{program: Desk, args: []string{"-redis", "redis://127.0.0.1:1/0", "-sender-password", "p", "-trust", trust}, code: 2, says: "-key (or $EGOV_REGIONALDESK_KEY) is required"},
		{program: Bus, args: []string{"-trust", trust}, code: 2, says: "-redis (or $EGOV_REDIS_URL) is required"},
		{program: Bus, args: []string{"-redis", "redis://127.0.0.1:1/0", "-trust", trust}, env: []string{"EGOV_SHEP_VISIBILITY=soon"},
			code: 2, says: `$EGOV_SHEP_VISIBILITY "soon"`},
		{program: Bus, args: []string{"-redis", "redis://127.0.0.1:1/0", "-trust", trust, "-listen", "8081"}, code: 2, says: `-listen "8081": not an address`},
		{program: Portal, args: []string{"-redis", "redis://127.0.0.1:1/0", "-trust", trust, "-sender-password", "p"},
			env: []string{"EGOV_HTTP_HEADER_TIMEOUT=later"}, code: 2, says: "$EGOV_HTTP_HEADER_TIMEOUT"},
		{program: Labour, args: []string{"-redis", "redis://127.0.0.1:1/0", "-trust", trust, "-sender-password", "p", "-key", "k.p12"},
			env: []string{"EGOV_LABOUR_PACE=weird"}, code: 2, says: `$EGOV_LABOUR_PACE "weird": not one of fast, regulation`},
		{program: Labour, args: []string{"-redis", "redis://127.0.0.1:1/0", "-sender-password", "p", "-trust", trust}, code: 2, says: "-key (or $EGOV_PROVIDER_KEY) is required"},
		{program: Portal, args: []string{"-colour"}, code: 2, says: "-colour"},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.program, strings.Join(tc.env, " "), strings.Join(tc.args, " ")), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binaries[tc.program], tc.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tc.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.says) {
				t.Fatalf("exit %d, want %d saying %q:\n%s", code, tc.code, tc.says, out)
			}
		})
	}
}

// TestBusRunsFromAnyDirectory starts the bus outside the repository with
// nothing but Redis and a trust directory: its routing table and registers
// are built in.
func TestBusRunsFromAnyDirectory(t *testing.T) {
	r := redistest.New(t)
	trust, err := filepath.Abs(filepath.Join("..", "fixtures", "pki", "trust"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, binaries[Bus], "-listen", addr, "-metrics-listen", "", "-trust", trust, "-no-sms")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=/usr/bin:/bin", "EGOV_REDIS_URL=" + r.URL, "EGOV_KEY_PREFIX=" + r.Prefix}
	out, err := os.Create(filepath.Join(t.TempDir(), "shep.log")) // written by the child, read here
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bus started outside the repository never became ready (last: %v)\n%s", err, logOf(t, out))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if log := logOf(t, out); !strings.Contains(log, "routing=built-in") {
		t.Errorf("the bus did not say it runs on its built-in routing table:\n%s", log)
	}
}

func logOf(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
