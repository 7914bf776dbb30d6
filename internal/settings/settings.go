// Package settings reads a program's settings the one way every program of
// the stack does: a flag given on the command line wins; a flag not given
// takes its EGOV_* variable; a value that cannot be read is refused before
// anything starts, naming where it came from, as a usage error (exit 2).
package settings

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// ExitUsage is the exit code of a program refusing its settings.
const ExitUsage = 2

// UsageError is a setting that cannot be used: the program exits with
// ExitUsage.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// IsUsage reports whether err refuses the program's settings.
func IsUsage(err error) bool {
	var u UsageError
	return errors.As(err, &u)
}

// ExitCode is the process exit code for a program's error: 0 for none,
// ExitUsage for refused settings, 1 for anything else.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case IsUsage(err):
		return ExitUsage
	default:
		return 1
	}
}

// Check is a rule a flag's value must keep.
type Check struct {
	Flag  string
	Valid func(string) error
}

// Program is the settings of one program: its flags and the variable each
// falls back to.
type Program struct {
	// Prefix starts a flag's variable when Vars does not name it:
	// "EGOV_SHEP_" gives -visibility the variable EGOV_SHEP_VISIBILITY.
	Prefix string
	// Vars names the variable of a flag where it is shared with the other
	// programs ("redis": "EGOV_REDIS_URL").
	Vars map[string]string
	// Required flags must have a value, from the command line or the
	// environment.
	Required []string
	Checks   []Check
}

// Shared names the variables of the flags every program has in common.
var Shared = map[string]string{
	"redis":               "EGOV_REDIS_URL",
	"redis-wait-replicas": "EGOV_REDIS_WAIT_REPLICAS",
	"redis-wait-timeout":  "EGOV_REDIS_WAIT_TIMEOUT",
	"key-prefix":          "EGOV_KEY_PREFIX",
	"trust":               "EGOV_TRUST_DIR",
	"crl":                 "EGOV_CRL",
	"ocsp":                "EGOV_OCSP_URL",
	"record":              "EGOV_RECORD_DIR",
	"log-json":            "EGOV_LOG_JSON",
	"log-level":           "EGOV_LOG_LEVEL",
}

// Var is the variable flag name falls back to: the program's own name for
// it, the shared one, EGOV_HTTP_* for the connection budgets, else Prefix
// and the name upper-cased with '-' as '_'.
func (p Program) Var(name string) string {
	if v, ok := p.Vars[name]; ok {
		return v
	}
	if v, ok := Shared[name]; ok {
		return v
	}
	upper := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if strings.HasPrefix(name, "http-") {
		return "EGOV_" + upper
	}
	return p.Prefix + upper
}

// Describe appends each flag's variable to its help text, so that -h tells
// the whole truth; call it after the flags are defined.
func (p Program) Describe(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		v := "$" + p.Var(f.Name)
		if !strings.Contains(f.Usage, v) {
			f.Usage += " [" + v + "]"
		}
		for _, r := range p.Required {
			if r == f.Name {
				f.Usage += " (required)"
			}
		}
	})
}

// Parse reads args into fs, then the variables of the flags args did not
// give, then insists on the required flags and runs the checks. -h is
// flag.ErrHelp; everything else refused is a UsageError.
func (p Program) Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return UsageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	source := map[string]string{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := p.Var(f.Name)
		v := os.Getenv(name)
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = UsageError{fmt.Errorf("$%s %q: %v", name, v, e)}
		}
		source[f.Name] = "$" + name
	})
	if err != nil {
		return err
	}
	from := func(name string) string {
		if s, ok := source[name]; ok {
			return s
		}
		return "-" + name
	}
	for _, name := range p.Required {
		if f := fs.Lookup(name); f != nil && f.Value.String() == "" {
			return UsageError{fmt.Errorf("-%s (or $%s) is required", name, p.Var(name))}
		}
	}
	for _, c := range p.Checks {
		f := fs.Lookup(c.Flag)
		if f == nil {
			return fmt.Errorf("settings: no flag %q to check", c.Flag)
		}
		if v := f.Value.String(); v != "" {
			if e := c.Valid(v); e != nil {
				return UsageError{fmt.Errorf("%s %q: %v", from(c.Flag), v, e)}
			}
		}
	}
	return nil
}

// OneOf accepts only the values given.
func OneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("not one of %s", strings.Join(values, ", "))
	}
}

// Address accepts host:port.
func Address(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("not an address host:port")
	}
	return nil
}

// HTTPURL accepts an absolute http or https URL.
func HTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

// WebSocketURL accepts a ws or wss URL with a host (NCALayer's address).
func WebSocketURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return errors.New("not a ws:// or wss:// URL")
	}
	return nil
}

// IntBetween accepts a whole number from lo to hi.
func IntBetween(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("not a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

// Positive accepts a number above zero (of any flag type that prints one).
func Positive(v string) error {
	if strings.HasPrefix(v, "-") || strings.Trim(v, "0.s") == "" {
		return errors.New("not above zero")
	}
	return nil
}
