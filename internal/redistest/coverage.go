package redistest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EnvScriptLog names a file in which the tests of a cluster pass note each
// Lua script and each transaction they ran (one line each, appended by
// every test binary): TestEveryScriptRanOnTheCluster then checks that no
// script or transaction of the code base went untried on the cluster.
const EnvScriptLog = "EGOV_TEST_SCRIPT_LOG"

// coverage notes scripts by SHA-1 ("script SHA") and transactions by the
// function that ran them ("tx egov/gateway.(*App).create").
type coverage struct {
	mu   sync.Mutex
	seen map[string]bool
	path string // under mu
}

var scriptLog = &coverage{seen: map[string]bool{}}

// watch makes c note what it runs, when the log is asked for.
func (cv *coverage) watch(c redis.UniversalClient) {
	path := os.Getenv(EnvScriptLog)
	if path == "" {
		return
	}
	cv.mu.Lock()
	cv.path = path
	cv.mu.Unlock()
	if cc, ok := c.(*redis.ClusterClient); ok {
		// Transactions under WATCH run on a node's client, not through
		// the cluster client's hooks.
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(cv) })
	}
	c.AddHook(cv)
}

func (cv *coverage) note(line string) {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if cv.seen[line] {
		return
	}
	cv.seen[line] = true
	f, err := os.OpenFile(cv.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

func (cv *coverage) noteCmd(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 2 {
		return
	}
	switch cmd.Name() {
	case "evalsha", "evalsha_ro":
		if sha, ok := args[1].(string); ok {
			cv.note("script " + strings.ToLower(sha))
		}
	case "eval", "eval_ro":
		if src, ok := args[1].(string); ok {
			sum := sha1.Sum([]byte(src))
			cv.note("script " + hex.EncodeToString(sum[:]))
		}
	}
}

func (cv *coverage) DialHook(next redis.DialHook) redis.DialHook { return next }

// ran tells whether a command did what it was sent for: an answer, even
// an empty one, or a transaction its WATCH called off; not a refusal
// (CROSSSLOT, a script's error).
func ran(err error) bool {
	return err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.TxFailedErr)
}

// The hooks note what ran once it has, not what was sent.
func (cv *coverage) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if ran(cmd.Err()) {
			cv.noteCmd(cmd)
		}
		return err
	}
}

func (cv *coverage) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		tx := ""
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			tx = codeCaller()
		}
		err := next(ctx, cmds)
		if tx != "" && ran(cmds[len(cmds)-1].Err()) {
			cv.note("tx " + tx)
		}
		for _, c := range cmds {
			if ran(c.Err()) {
				cv.noteCmd(c)
			}
		}
		return err
	}
}

// codeCaller is the function of the code base (not a test, not this
// package, not the client's own hooks in redisconn) that ran the current
// transaction, its closures folded into it.
func codeCaller() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "egov/") && !strings.HasPrefix(f.Function, "egov/internal/redistest") &&
			!strings.HasPrefix(f.Function, "egov/internal/redisconn.") &&
			!strings.HasSuffix(f.File, "_test.go") {
			return DeclaredFunction(f.Function)
		}
		if !more {
			return ""
		}
	}
}

// DeclaredFunction folds a closure's name into the function that declares
// it: egov/gateway.(*App).create.func1.2 is egov/gateway.(*App).create.
func DeclaredFunction(name string) string {
	for {
		i := strings.LastIndex(name, ".")
		if i < 0 {
			return name
		}
		last := name[i+1:]
		// Closures (func1), go and defer statements' wrappers (gowrap1,
		// deferwrap1), a range-over-func loop's body (…-range1), bare
		// numbers of nested ones (.2).
		if r := strings.LastIndex(last, "-range"); r >= 0 && strings.Trim(last[r+len("-range"):], "0123456789") == "" {
			name = name[:i+1+r]
			continue
		}
		if !numbered(last, "func") && !numbered(last, "gowrap") && !numbered(last, "deferwrap") && !numbered(last, "") {
			return name
		}
		name = name[:i]
	}
}

// numbered tells whether s is prefix and then a number.
func numbered(s, prefix string) bool {
	n, ok := strings.CutPrefix(s, prefix)
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}
