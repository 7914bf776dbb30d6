package settings

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	program := Program{
		Prefix:   "EGOV_TEST_",
		Vars:     map[string]string{"bus": "EGOV_SHEP_URL"},
		Required: []string{"redis"},
		Checks: []Check{{Flag: "pace", Valid: OneOf("fast", "regulation")}, {Flag: "listen", Valid: Address}, {Flag: "bus", Valid: HTTPURL},
			{Flag: "chain", Valid: IntBetween(-1, 7)}},
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		usage string // "" when it parses
		want  map[string]string
	}{
		{name: "defaults and a shared variable", env: map[string]string{"EGOV_REDIS_URL": "redis://r/0"},
			want: map[string]string{"redis": "redis://r/0", "pace": "fast", "visibility": "30s"}},
		{name: "the program's own variable", args: []string{"-redis", "redis://r/0"},
			env:  map[string]string{"EGOV_TEST_PACE": "regulation", "EGOV_TEST_VISIBILITY": "5s", "EGOV_SHEP_URL": "http://bus:1"},
			want: map[string]string{"pace": "regulation", "visibility": "5s", "bus": "http://bus:1"}},
		{name: "the command line wins", args: []string{"-redis", "redis://cli/0", "-pace", "fast"},
			env:  map[string]string{"EGOV_REDIS_URL": "redis://env/0", "EGOV_TEST_PACE": "regulation"},
			want: map[string]string{"redis": "redis://cli/0", "pace": "fast"}},
		{name: "an empty variable is unset", args: []string{"-redis", "r"}, env: map[string]string{"EGOV_TEST_PACE": ""},
			want: map[string]string{"pace": "fast"}},
		{name: "the connection budgets' variables", args: []string{"-redis", "r"}, env: map[string]string{"EGOV_HTTP_HEADER_TIMEOUT": "2s"},
			want: map[string]string{"http-header-timeout": "2s"}},
		{name: "a bad value on the command line", args: []string{"-redis", "r", "-pace", "weird"}, usage: `-pace "weird": not one of fast, regulation`},
		{name: "a bad value in a variable", args: []string{"-redis", "r"}, env: map[string]string{"EGOV_TEST_PACE": "weird"}, usage: `$EGOV_TEST_PACE "weird"`},
		{name: "a variable the flag cannot read", args: []string{"-redis", "r"}, env: map[string]string{"EGOV_TEST_VISIBILITY": "soon"}, usage: `$EGOV_TEST_VISIBILITY "soon"`},
		{name: "a missing required flag", usage: "-redis (or $EGOV_REDIS_URL) is required"},
		{name: "an unknown flag", args: []string{"-colour"}, usage: "-colour"},
		{name: "a stray argument", args: []string{"-redis", "r", "extra"}, usage: `unexpected argument "extra"`},
		{name: "an address", args: []string{"-redis", "r", "-listen", "8080"}, usage: "not an address"},
		{name: "a URL", args: []string{"-redis", "r", "-bus", "ftp://bus"}, usage: "not an http(s) URL"},
		{name: "a number in range", args: []string{"-redis", "r", "-chain", "7"}, want: map[string]string{"chain": "7"}},
		{name: "a number out of range", args: []string{"-redis", "r", "-chain", "8"}, usage: `-chain "8": not a whole number from -1 to 7`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"EGOV_REDIS_URL", "EGOV_TEST_PACE", "EGOV_TEST_VISIBILITY", "EGOV_SHEP_URL", "EGOV_HTTP_HEADER_TIMEOUT"} {
				t.Setenv(v, tc.env[v])
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.String("redis", "", "Redis URL")
			fs.String("pace", "fast", "pace")
			fs.String("listen", "127.0.0.1:1", "address")
			fs.String("bus", "http://127.0.0.1:2", "bus")
			fs.Duration("visibility", 30*time.Second, "lease")
			fs.Duration("http-header-timeout", 5*time.Second, "headers")
			fs.Int("chain", -1, "chain")
			err := program.Parse(fs, tc.args)
			if tc.usage != "" {
				if !IsUsage(err) || ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.usage) {
					t.Fatalf("got %v (exit %d), want a usage error with %q", err, ExitCode(err), tc.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				if got := fs.Lookup(name).Value.String(); got != want {
					t.Errorf("-%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestDescribeNamesEveryVariable(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("redis", "", "Redis URL")
	fs.String("pace", "fast", "pace")
	fs.Duration("http-idle-timeout", time.Minute, "idle")
	Program{Prefix: "EGOV_TEST_", Required: []string{"redis"}}.Describe(fs)
	for name, want := range map[string]string{"redis": "[$EGOV_REDIS_URL] (required)", "pace": "[$EGOV_TEST_PACE]", "http-idle-timeout": "[$EGOV_HTTP_IDLE_TIMEOUT]"} {
		if u := fs.Lookup(name).Usage; !strings.HasSuffix(u, want) {
			t.Errorf("-%s: %q, want it to end in %q", name, u, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for err, want := range map[error]int{nil: 0, UsageError{errors.New("x")}: 2, errors.New("redis down"): 1} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}
