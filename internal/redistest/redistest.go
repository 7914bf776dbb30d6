// Package redistest gives each test a real Redis and a key prefix of its
// own. Only tests import it.
//
// Where the server comes from, in order:
//  1. EGOV_REDIS_URL, when set (CI starts a redis-server and exports it);
//  2. a Redis 7.0 container from testcontainers-go, when a Docker engine
//     answers (one container per test binary, reaped when it exits);
//  3. redis-server from PATH on a free loopback port, one per test binary,
//     killed with it (Linux parent-death signal).
//
// A shared server is never flushed: each test's keys start with its own
// prefix and are deleted (SCAN + UNLINK) when the test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/loopback"
	"egov/internal/redisconn"
	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"egov/internal/childproc"
)

// EnvURL names the environment variable with the URL of a Redis to use.
const EnvURL = "EGOV_REDIS_URL"

// Image is the container image used when Docker is available: the stack
// keeps to Redis 7.0 commands.
const Image = "redis:7.0"

// Redis is one test's connection.
type Redis struct {
	Client redis.UniversalClient
	// Prefix starts every key the test may touch, e.g. "t-3f9a1c2b:".
	Prefix string
	// URL is the server's address, for code under test that dials itself.
	URL string
	// Source says where the server came from: env, container or redis-server.
	Source string
}

// Key joins parts after the test's prefix.
func (r *Redis) Key(parts ...string) string {
	k := r.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// New returns a connection for t, failing the test when no Redis can be
// had: tests of this project never pass without the real thing.
func New(t testing.TB) *Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if os.Getenv(EnvCluster) == "1" {
		return onCluster(t)
	}
	url, source, err := serverURL(t)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: %s: %v", EnvURL, err)
	}
	opt.Protocol = redisconn.Protocol // as the stack's programs speak it
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: %s Redis at %s does not answer: %v", source, opt.Addr, err)
	}
	announceOnce.Do(func() { t.Logf("redistest: the tests of this binary use the %s Redis at %s", source, opt.Addr) })
	return withCleanup(t, &Redis{Client: client, Prefix: "t-" + randomHex(6) + ":", URL: url, Source: source})
}

// withCleanup deletes r's keys and closes its client when t ends.
func withCleanup(t testing.TB, r *Redis) *Redis {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.deleteKeys(ctx); err != nil {
			t.Errorf("redistest: cleaning %s*: %v", r.Prefix, err)
		}
		_ = r.Client.Close()
	})
	return r
}

// Keys lists the keys matching pattern, from every master on a cluster
// (KEYS there asks one node only).
func (r *Redis) Keys(ctx context.Context, pattern string) ([]string, error) {
	var all []string
	seen := map[string]bool{} // SCAN may give a key twice
	err := redisconn.ScanEach(ctx, r.Client, pattern, func(key string) error {
		if !seen[key] {
			seen[key] = true
			all = append(all, key)
		}
		return nil
	})
	return all, err
}

// On returns a connection for t to the Redis at url (one StartServer or
// StartCluster started), with a key prefix of its own, as New does.
func On(t testing.TB, url string) *Redis {
	t.Helper()
	client, err := redisconn.Open(url)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return withCleanup(t, &Redis{Client: client, Prefix: "t-" + randomHex(6) + ":", URL: url, Source: "given"})
}

// deleteKeys removes the test's keys and nothing else: on a cluster one
// key at a time (keys of different slots cannot go in one command), on
// one Redis in batches.
func (r *Redis) deleteKeys(ctx context.Context) error {
	_, cluster := r.Client.(*redis.ClusterClient)
	var batch []string
	flush := func() error {
		err := r.Client.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	err := redisconn.ScanEach(ctx, r.Client, r.Prefix+"*", func(key string) error {
		if batch = append(batch, key); cluster || len(batch) == 500 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return err
}

var (
	// announceOnce says, once per test binary, which Redis it uses (seen
	// with go test -v; make test says it before the run).
	announceOnce sync.Once

	containerOnce sync.Once
	containerURL  string
	containerErr  error

	localOnce sync.Once
	localURL  string
	localErr  error
)

func serverURL(t testing.TB) (url, source string, err error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, "env", nil
	}
	containerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var ctr *tcredis.RedisContainer
		ctr, containerErr = tcredis.Run(ctx, Image)
		if containerErr != nil {
			if ctr != nil {
				_ = testcontainers.TerminateContainer(ctr)
			}
			return
		}
		containerURL, containerErr = ctr.ConnectionString(ctx)
	})
	if containerErr == nil {
		return containerURL, "container", nil
	}
	localOnce.Do(func() {
		t.Logf("redistest: no %s and no Docker engine (%v); starting redis-server", EnvURL, containerErr)
		localURL, localErr = startShared()
	})
	if localErr != nil {
		return "", "", fmt.Errorf("no %s, no Docker engine, and redis-server failed: %w", EnvURL, localErr)
	}
	return localURL, "redis-server", nil
}

// startShared runs one redis-server for the whole test binary. It keeps
// nothing on disk and dies with the binary.
func startShared() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", os.TempDir(),
		"--save", "", "--appendonly", "no", "--logfile", "")
	cmd.SysProcAttr = childproc.DieWithParent()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { _ = cmd.Wait() }()
	return waitForServer(port, os.TempDir())
}

// StartServer runs redis-server from PATH on a free loopback port for the
// duration of t and returns its URL. Extra configuration lines (e.g.
// "appendonly yes") may be given; dir holds its files (a temporary
// directory when empty).
func StartServer(t testing.TB, dir string, config ...string) (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	if dir == "" {
		dir = t.TempDir()
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log")}
	for _, line := range config {
		args = append(args, splitConfig(line)...)
	}
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return waitForServer(port, dir)
}

func waitForServer(port int, dir string) (string, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "redis://" + addr + "/0", nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("redis-server on %s did not start; see %s", addr, filepath.Join(dir, "redis.log"))
}

func splitConfig(line string) []string {
	for i := 0; i < len(line); i++ {
		if line[i] == ' ' {
			return []string{"--" + line[:i], line[i+1:]}
		}
	}
	return []string{"--" + line}
}

// freePort is a port outside the range outgoing connections draw from:
// redis-server binds it a moment later.
func freePort() (int, error) { return loopback.Port() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
