package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// toolFlags is a tool's flag set as the evidence and dead-letter commands
// define it: --redis and --prefix from the stack when not given.
func toolFlags(t *testing.T, stderr *bytes.Buffer, dir string, args ...string) (redisURL string) {
	t.Helper()
	fs := newFlagSet("evidence verify", stderr)
	url, _ := redisFlags(fs)
	dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	if err := parseFlags(fs, append([]string{"--data", dir}, args...)); err != nil {
		t.Fatal(err)
	}
	return *url
}

// deadPID is the pid of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestStackFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pid       func(t *testing.T) int
		env, args []string
		wantURL   string
		says      string
	}{
		{name: "a running stack is reached", pid: func(*testing.T) int { return os.Getpid() },
			wantURL: "redis://127.0.0.1:6400/0", says: stackFile + ", egovctl up pid"},
		{name: "a stack that did not stop cleanly is ignored", pid: deadPID,
			wantURL: "", says: "which is not running"},
		{name: "the command line wins", pid: func(*testing.T) int { return os.Getpid() },
			args: []string{"--redis", "redis://127.0.0.1:6500/0"}, wantURL: "redis://127.0.0.1:6500/0"},
		{name: "a variable wins, and says it disagrees", pid: func(*testing.T) int { return os.Getpid() },
			env: []string{"EGOV_REDIS_URL=redis://127.0.0.1:6600/0"}, wantURL: "redis://127.0.0.1:6600/0", says: "comes from $EGOV_REDIS_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EGOV_REDIS_URL", "")
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			if _, err := writeStack(dir, stackState{Redis: "redis://127.0.0.1:6400/0", PID: tc.pid(t), Started: time.Now()}); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			if got := toolFlags(t, &stderr, dir, tc.args...); got != tc.wantURL {
				t.Errorf("--redis %q, want %q (%s)", got, tc.wantURL, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.says)
			}
		})
	}
}

// TestStackFileRemovedOnlyByItsOwner: a second egovctl up on the same data
// directory has written its own state; the first one's shutdown leaves it.
func TestStackFileRemovedOnlyByItsOwner(t *testing.T) {
	dir := t.TempDir()
	removeFirst, err := writeStack(dir, stackState{Redis: "redis://127.0.0.1:6400/0", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	removeSecond, err := writeStack(dir, stackState{Redis: "redis://127.0.0.1:6401/0", PID: os.Getpid() + 1})
	if err != nil {
		t.Fatal(err)
	}
	removeFirst()
	if s, err := readStack(dir); err != nil || s == nil || s.Redis != "redis://127.0.0.1:6401/0" {
		t.Fatalf("the first stack's shutdown took the second's state: %+v %v", s, err)
	}
	removeSecond()
	if _, err := os.Stat(filepath.Join(dir, stackFile)); !os.IsNotExist(err) {
		t.Fatalf("the owner's shutdown left %s: %v", stackFile, err)
	}
}

// TestStackFileRecordsBoundAddresses: a listener given port 0 is recorded
// with the port it got, so that the tools reach it.
func TestStackFileRecordsBoundAddresses(t *testing.T) {
	_, data := startUp(t, "--sms-listen", "127.0.0.1:0")
	s, err := readStack(data) // written once every listener is open, just after the portal's
	for deadline := time.Now().Add(5 * time.Second); err == nil && s == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		s, err = readStack(data)
	}
	if err != nil || s == nil {
		t.Fatalf("no %s: %v", stackFile, err)
	}
	if strings.HasSuffix(s.SMS, ":0") || !strings.HasPrefix(s.SMS, "http://127.0.0.1:") {
		t.Fatalf("the SMS outbox view is recorded as %q", s.SMS)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(s.SMS, "http://"))
	if err != nil {
		t.Fatalf("the recorded %s does not answer: %v", s.SMS, err)
	}
	c.Close()
}
