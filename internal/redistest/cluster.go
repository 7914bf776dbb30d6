package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/childproc"
	"egov/internal/loopback"
	"egov/internal/redisconn"
)

// EnvCluster, set to 1, gives every test of the binary that calls New a
// Redis Cluster (three masters, three replicas, started from redis-server
// for the binary) instead of one Redis: `make test` runs the bus's, the
// portal's and the providers' tests this way too.
const EnvCluster = "EGOV_TEST_REDIS_CLUSTER"

var (
	clusterOnce sync.Once
	shared      *Cluster
	sharedErr   error
)

// onCluster is New on the binary's shared cluster.
func onCluster(t testing.TB) *Redis {
	t.Helper()
	clusterOnce.Do(func() {
		var dir string
		if dir, sharedErr = os.MkdirTemp("", "egov-redis-cluster-"); sharedErr == nil {
			shared, sharedErr = startCluster(dir, 3, 1, true)
		}
	})
	if sharedErr != nil {
		t.Fatalf("redistest: %s=1 but no Redis Cluster could be started: %v", EnvCluster, sharedErr)
	}
	client, err := redisconn.Open(shared.URL)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	scriptLog.watch(client)
	announceOnce.Do(func() { t.Logf("redistest: the tests of this binary use a Redis Cluster at %s", shared.URL) })
	return withCleanup(t, &Redis{Client: client, Prefix: "t-" + randomHex(6) + ":", URL: shared.URL, Source: "cluster"})
}

// Cluster is a Redis Cluster of redis-server processes on loopback ports.
type Cluster struct {
	// URL names the cluster in go-redis's cluster form (every node an
	// addr=), as the stack's programs take it.
	URL   string
	Nodes []*Node
}

// Node is one redis-server of a cluster.
type Node struct {
	Addr    string
	Dir     string
	cmd     *exec.Cmd
	args    []string
	mu      sync.Mutex
	stopped bool // by the cleanup: no restart
}

// Kill stops the node at once (SIGKILL), as a crashed master.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.cmd.Process.Kill(); err != nil {
		return err
	}
	_, _ = n.cmd.Process.Wait()
	return nil
}

// Restart starts a killed node again with its configuration and its
// nodes.conf: a cluster node rejoins, as a replica of whoever took its
// slots meanwhile.
func (n *Node) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return errors.New("redistest: the node was stopped for good")
	}
	n.cmd = exec.Command(n.cmd.Path, n.args...)
	n.cmd.SysProcAttr = childproc.DieWithParent()
	if err := n.cmd.Start(); err != nil {
		return err
	}
	_, err := waitForServer(portOf(n.Addr), n.Dir)
	return err
}

// StartCluster runs a cluster of masters, each with replicas, for the
// duration of t, in t's temporary directories. Extra configuration lines
// (e.g. "appendonly yes") go to every node.
func StartCluster(t testing.TB, masters, replicas int, config ...string) (*Cluster, error) {
	c, err := startCluster(t.TempDir(), masters, replicas, false, config...)
	if c != nil {
		t.Cleanup(c.stop)
	}
	return c, err
}

// startCluster starts masters × (1 + replicas) nodes under dir, joins them
// with redis-cli --cluster create and waits until every node says the
// cluster is ok and knows every node. With orphaned, the nodes die with
// the test binary instead of with a test.
func startCluster(dir string, masters, replicas int, orphaned bool, config ...string) (*Cluster, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	total := masters * (1 + replicas)
	for i := range total {
		port, err := loopback.PortWith(10000) // the cluster bus listens at port+10000
		if err != nil {
			c.stop()
			return nil, err
		}
		n := &Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: filepath.Join(dir, fmt.Sprintf("node-%d", i))}
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			c.stop()
			return nil, err
		}
		args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", n.Dir, "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
			"--logfile", filepath.Join(n.Dir, "redis.log")}
		for _, line := range config {
			args = append(args, splitConfig(line)...)
		}
		n.cmd, n.args = exec.Command(server, args...), args
		if orphaned {
			n.cmd.SysProcAttr = childproc.DieWithParent()
		}
		if err := n.cmd.Start(); err != nil {
			c.stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if _, err := waitForServer(portOf(n.Addr), n.Dir); err != nil {
			c.stop()
			return nil, err
		}
	}
	create := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitReady(total, 30*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	var addrs []string
	for _, n := range c.Nodes[1:] {
		addrs = append(addrs, "addr="+n.Addr)
	}
	c.URL = "redis://" + c.Nodes[0].Addr + "?" + strings.Join(addrs, "&")
	return c, nil
}

// waitReady waits until every node reports the cluster ok with all its
// nodes known and every replica's link to its master up.
func (c *Cluster) waitReady(total int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var notReady string
		for _, n := range c.Nodes {
			if why := nodeNotReady(n.Addr, total); why != "" {
				notReady = n.Addr + ": " + why
				break
			}
		}
		if notReady == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("redis cluster not ready: " + notReady)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeNotReady says why a node is not ready yet, or "": with total > 0
// a cluster node must see the cluster ok with total nodes; a replica must
// be in sync with its master.
func nodeNotReady(addr string, total int) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if total > 0 {
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", total)) {
			return "cluster not ok yet"
		}
	}
	repl, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return err.Error()
	}
	if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
		return "replica not in sync yet"
	}
	return ""
}

func (c *Cluster) stop() {
	for _, n := range c.Nodes {
		n.stop()
	}
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return port
}

// StartReplicated runs one redis-server with a replica of it for the
// duration of t, and waits until the replica is in sync; it returns the
// master's URL and the replica (to kill it: then WAIT times out).
func StartReplicated(t testing.TB) (masterURL string, replica *Node, err error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, err
	}
	masterURL, err = StartServer(t, "")
	if err != nil {
		return "", nil, err
	}
	masterAddr := strings.TrimSuffix(strings.TrimPrefix(masterURL, "redis://"), "/0")
	port, err := loopback.Port()
	if err != nil {
		return "", nil, err
	}
	dir := t.TempDir()
	host, masterPort, _ := net.SplitHostPort(masterAddr)
	replica = &Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
	replica.args = []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir, "--save", "",
		"--appendonly", "no", "--replicaof", host, masterPort, "--logfile", filepath.Join(dir, "redis.log")}
	replica.cmd = exec.Command(server, replica.args...)
	if err := replica.cmd.Start(); err != nil {
		return "", nil, err
	}
	t.Cleanup(replica.stop)
	if err := replica.WaitInSync(15 * time.Second); err != nil {
		return "", nil, fmt.Errorf("replica of %s: %w", masterAddr, err)
	}
	return masterURL, replica, nil
}

// WaitInSync waits until the node, a replica, is in sync with its master.
func (n *Node) WaitInSync(within time.Duration) error {
	deadline := time.Now().Add(within)
	for nodeNotReady(n.Addr, 0) != "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if why := nodeNotReady(n.Addr, 0); why != "" {
		return errors.New(why)
	}
	return nil
}

// stop kills the node for good: a later Restart does nothing.
func (n *Node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
	}
}
