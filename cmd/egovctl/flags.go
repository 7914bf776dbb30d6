package main

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"egov/internal/httpguard"
	"egov/signing"
)

// envVar is the variable a flag of a command falls back to. The flags that
// name the stack itself mean the same in every command and have one
// variable each (envShared); any other flag's variable names its command:
// EGOV_, the command path after "egovctl" and the flag's name, upper-cased,
// ' ' and '-' as '_' (up --pace: EGOV_UP_PACE; pki issue --out:
// EGOV_PKI_ISSUE_OUT), so that a password or a file meant for one command
// never reaches another.
func envVar(command, flag string) string {
	if v, ok := envShared[flag]; ok {
		return v
	}
	if strings.HasPrefix(flag, "http-") { // the connection budgets, as the other programs
		return "EGOV_" + envName(flag)
	}
	return "EGOV_" + envName(strings.TrimPrefix(command, "egovctl ")) + "_" + envName(flag)
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(s))
}

// envShared are the variables of the flags that name the stack: the same
// in every command, and where the other programs have the same setting,
// the same name as theirs.
var envShared = map[string]string{
	"data":       "EGOV_DATA",
	"redis":      "EGOV_REDIS_URL",
	"prefix":     "EGOV_KEY_PREFIX",
	"key-prefix": "EGOV_KEY_PREFIX",
	"trust":      "EGOV_TRUST_DIR",
	"routing":    "EGOV_SHEP_ROUTING",
	"persons":    "EGOV_GBDFL_PERSONS",
	"phones":     "EGOV_MOBILE_PHONES",
	"ocsp":       "EGOV_OCSP_URL",
	"record":     "EGOV_RECORD_DIR",
	"gateway":    "EGOV_GATEWAY_URL",
	"log-level":  "EGOV_LOG_LEVEL",
}

// Annotations a command's flags carry in its flag set.
const (
	annotRequired = "egovctl-required"
	annotStack    = "egovctl-stack" // the stack.json field the flag falls back to
)

// flagOutput is where a command's flag set writes: pflag's own messages
// are dropped (exitCode prints one), notes go to the command's stderr.
type flagOutput struct{ stderr io.Writer }

func (flagOutput) Write(p []byte) (int, error) { return len(p), nil }

// describing is the stderr describe hands a command function: parseFlags
// recognises it, hands it the defined flag set and stops the function.
type describing struct{ got **pflag.FlagSet }

func (describing) Write(p []byte) (int, error) { return len(p), nil }

// errDescribed stops a command function once its flags are defined.
var errDescribed = errors.New("flags described")

// newFlagSet is the flag set of one command.
func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("egovctl "+name, pflag.ContinueOnError)
	fs.SetOutput(flagOutput{stderr: stderr})
	fs.Usage = func() {}
	fs.SortFlags = false
	return fs
}

// describe returns the flags fn defines, their help naming the variable
// each falls back to.
func describe(fn commandFunc) *pflag.FlagSet {
	var defined *pflag.FlagSet
	_ = fn(context.Background(), nil, io.Discard, describing{&defined})
	if defined == nil {
		return pflag.NewFlagSet("", pflag.ContinueOnError)
	}
	defined.VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[annotRequired]; ok {
			f.Usage += " (required)"
		}
		if env := envVar(defined.Name(), f.Name); !strings.Contains(f.Usage, "$"+env) {
			f.Usage += " [$" + env + "]"
		}
		if field, ok := f.Annotations[annotStack]; ok {
			f.Usage += " (else " + field[0] + " of --data's stack.json)"
		}
	})
	return defined
}

// parseFlags parses a command's flags (no positional argument), applies
// their EGOV_* variables and --data's stack.json, and insists on the
// required ones.
func parseFlags(fs *pflag.FlagSet, args []string, required ...string) error {
	return parseArgs(fs, args, 0, required...)
}

// parseArgs is parseFlags for a command with n positional arguments.
func parseArgs(fs *pflag.FlagSet, args []string, n int, required ...string) error {
	out := fs.Output().(flagOutput)
	if d, ok := out.stderr.(describing); ok {
		for _, name := range required {
			_ = fs.SetAnnotation(name, annotRequired, []string{"true"})
		}
		*d.got = fs
		return errDescribed
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	// A negative n is an optional argument: at most -n.
	if (n >= 0 && fs.NArg() != n) || (n < 0 && fs.NArg() > -n) {
		if most := max(n, -n); fs.NArg() > most {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(most))
		}
		return fmt.Errorf("%w: %d argument(s) expected before the flags", errUsage, n)
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		env := envVar(fs.Name(), f.Name)
		v := os.Getenv(env)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q (for --%s): %v", errUsage, env, redact(v), f.Name, err))
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := applyStack(fs, out.stderr); err != nil {
		return err
	}
	for _, name := range required {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			return fmt.Errorf("%w: --%s is required (or $%s)", errUsage, name, envVar(fs.Name(), name))
		}
	}
	return nil
}

// fromStack makes flags fall back to fields of the stack.json in the
// command's --data directory: fromStack(fs, "gateway", "portal", …).
func fromStack(fs *pflag.FlagSet, flagField ...string) {
	for i := 0; i+1 < len(flagField); i += 2 {
		_ = fs.SetAnnotation(flagField[i], annotStack, []string{flagField[i+1]})
	}
}

// guardFlags adds the connection budgets' flags (httpguard's, the same as
// the other binaries').
func guardFlags(fs *pflag.FlagSet) *httpguard.Limits {
	g := goflag.NewFlagSet("", goflag.ContinueOnError)
	l := httpguard.Flags(g)
	fs.AddGoFlagSet(g)
	return l
}

// checked is a flag value that refuses what check refuses.
type checked struct {
	pflag.Value
	check func(string) error
}

func (c checked) Set(v string) error {
	if err := c.check(v); err != nil {
		return err
	}
	return c.Value.Set(v)
}

// check makes the named flags refuse the values check refuses (on the
// command line and in their variables): before anything starts.
func check(fs *pflag.FlagSet, check func(string) error, names ...string) {
	for _, name := range names {
		if f := fs.Lookup(name); f != nil {
			f.Value = checked{f.Value, check}
		}
	}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("must be %s", strings.Join(values, ", "))
	}
}

// address is host:port with a numeric port; optionalAddress also takes ""
// (none).
func address(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("not host:port: %v", err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func optionalAddress(v string) error {
	if v == "" {
		return nil
	}
	return address(v)
}

// httpURL is an http or https URL with a host.
func httpURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("not an http:// or https:// URL")
	}
	return nil
}

// validRedisURL is a URL redis can open (empty: none).
func validRedisURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		return fmt.Errorf("not a redis://, rediss:// or unix:// URL")
	}
	return nil
}

func positive(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err != nil || !(f > 0) {
		return fmt.Errorf("must be a number above 0")
	}
	return nil
}

func nonNegative(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err != nil || !(f >= 0) {
		return fmt.Errorf("must be a number, 0 or more")
	}
	return nil
}

func positiveDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return fmt.Errorf("must be a duration above 0 (30s, 2m, 1h)")
	}
	return nil
}

func pattern(v string) error {
	_, err := regexp.Compile(v)
	return err
}

func validIIN(v string) error {
	if v == "" {
		return nil
	}
	_, err := signing.ParseIIN(v)
	return err
}

func timeValue(v string) error {
	_, err := parseTimeFlag("", v)
	if err != nil {
		return fmt.Errorf("neither RFC 3339 nor a date")
	}
	return nil
}

func orgRole(v string) error {
	if v == "" || signing.KeyUser(v).IsOrganizationRole() {
		return nil
	}
	return fmt.Errorf("must be ceo, can-sign, can-sign-financial, hr or employee")
}
