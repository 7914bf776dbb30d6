package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// stackFile is the name of the file egovctl up keeps in its data directory
// while it runs.
const stackFile = "stack.json"

// stackState is what egovctl up writes to DIR/stack.json: how the operator
// tools reach the stack. Absent URLs are listeners up was told not to open.
type stackState struct {
	Redis     string    `json:"redis"`             // the Redis URL, redis://127.0.0.1:PORT/0 for the embedded one
	Embedded  bool      `json:"embeddedRedis"`     // the in-memory Redis, gone with the process
	KeyPrefix string    `json:"keyPrefix"`         // prefix of every key
	Portal    string    `json:"portal"`            // portal base URL (the API is under /api/v1)
	Bus       string    `json:"bus"`               // SHEP bus base URL
	OCSP      string    `json:"ocsp"`              // OCSP responder URL
	SMS       string    `json:"sms,omitempty"`     // the SMS gateway's outbox view, base URL
	Counter   string    `json:"counter,omitempty"` // the State Corporation's workstation base URL (the API is under /counter/v1)
	Centre    string    `json:"centre,omitempty"`  // the employment centres' desk base URL (the same API)
	Metrics   string    `json:"metrics,omitempty"` // metrics URL, …/metrics
	PID       int       `json:"pid"`               // the process of egovctl up
	Started   time.Time `json:"started"`
}

// field returns the state's value for a flag's annotation.
func (s *stackState) field(name string) string {
	switch name {
	case "redis":
		return s.Redis
	case "prefix":
		return s.KeyPrefix
	case "portal":
		return s.Portal
	case "bus":
		return s.Bus
	case "sms":
		return s.SMS
	case "metrics":
		return s.Metrics
	}
	return ""
}

// writeStack writes dir/stack.json (readable by its owner only: the Redis
// URL may hold a password) and returns the function that removes it.
func writeStack(dir string, s stackState) (remove func(), err error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, stackFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	// Another egovctl up on the same directory may have written its own
	// since: remove only ours.
	return func() {
		if now, err := readStack(dir); err == nil && now != nil && now.PID == s.PID {
			_ = os.Remove(path)
		}
	}, nil
}

// readStack reads dir/stack.json; (nil, nil) when there is none.
func readStack(dir string) (*stackState, error) {
	data, err := os.ReadFile(filepath.Join(dir, stackFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s stackState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stackFile), err)
	}
	return &s, nil
}

// applyStack gives the flags annotated by fromStack that neither the
// command line nor a variable set the values of the stack.json in the
// command's --data directory, and says so on stderr.
func applyStack(fs *pflag.FlagSet, stderr io.Writer) error {
	var wanted, fromEnv []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[annotStack]; !ok {
			return
		}
		switch {
		case !f.Changed:
			wanted = append(wanted, f)
		case os.Getenv(envVar(fs.Name(), f.Name)) == f.Value.String():
			fromEnv = append(fromEnv, f)
		}
	})
	data := fs.Lookup("data")
	if len(wanted)+len(fromEnv) == 0 || data == nil || data.Value.String() == "" {
		return nil
	}
	dir := data.Value.String()
	s, err := readStack(dir)
	if err != nil || s == nil {
		return err
	}
	path := filepath.Join(dir, stackFile)
	if s.PID > 0 && syscall.Kill(s.PID, 0) == syscall.ESRCH {
		// A stack that did not stop cleanly: its addresses may now be
		// someone else's (the embedded Redis certainly is gone).
		fmt.Fprintf(stderr, "egovctl: ignoring %s: it names process %d, which is not running (a stack that did not stop cleanly)\n", path, s.PID)
		return nil
	}
	// A variable exported for something else (EGOV_REDIS_URL of the tests)
	// wins over the running stack, as every variable does; say so when they
	// disagree.
	for _, f := range fromEnv {
		if v := s.field(f.Annotations[annotStack][0]); v != "" && v != f.Value.String() {
			fmt.Fprintf(stderr, "egovctl: warning: --%s %s comes from $%s, not from %s (%s)\n",
				f.Name, redact(f.Value.String()), envVar(fs.Name(), f.Name), path, redact(v))
		}
	}
	for _, f := range wanted {
		v := s.field(f.Annotations[annotStack][0])
		if v == "" {
			continue
		}
		if err := fs.Set(f.Name, v); err != nil {
			return fmt.Errorf("%w: %s: %s %q (for --%s): %v", errUsage, path, f.Annotations[annotStack][0], v, f.Name, err)
		}
		fmt.Fprintf(stderr, "egovctl: --%s %s (from %s, egovctl up pid %d)\n", f.Name, redact(v), path, s.PID)
	}
	return nil
}

// redact hides a URL's password.
func redact(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}
