// Package redisconn opens the Redis connection of the stack's programs
// with timeouts fit for a service: when Redis is unreachable, a command
// fails within about two seconds instead of holding a citizen's request
// for the client library's defaults (3 s reads, three retries).
//
// One URL names one Redis or a Redis Cluster. A cluster is named by
// go-redis's cluster form (redis://host:port?addr=host2:port2&addr=…, one
// or more seed nodes), or by the address of any one of its nodes: Open
// asks that node (INFO cluster) and opens a cluster client when it says it
// is one. Every key one script or transaction of the stack touches shares
// one hash tag, so the same code runs on both.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied unless the URL sets them (dial_timeout, read_timeout,
// write_timeout, max_retries, pool_size query parameters; protocol, 2
// unless set).
const (
	DialTimeout  = time.Second
	ReadTimeout  = time.Second
	WriteTimeout = time.Second
	MaxRetries   = 1
	// Protocol is RESP2: the stack uses no push messages or client-side
	// caching, and with RESP3 the client looks for pending push
	// notifications around every command (2% of the portal's CPU under load).
	Protocol = 2
	// MinPoolSize is the least a client's pool may grow to, a node
	// (pool_size, the most connections it opens; go-redis gives ten a
	// core): blocking readers hold theirs while they wait — the portal's
	// relay one per hint shard — and must leave enough for the requests.
	MinPoolSize = 40
)

// Open parses a redis:// URL and returns a client that also honours the
// deadlines of its callers' contexts: a cluster client when the URL names
// several nodes (addr=) or its one node answers as a cluster node, a
// single-node client otherwise (also when that node cannot be asked at
// start: name a cluster with addr= to start before it answers).
func Open(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if q.Has("addr") {
		return openCluster(u)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	withDefaults(q, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.Protocol, &opt.PoolSize)
	opt.ContextTimeoutEnabled = true
	single := redis.NewClient(opt)
	if !answersAsClusterNode(single) {
		return counted(single), nil
	}
	_ = single.Close()
	if opt.DB != 0 {
		return nil, errors.New("redis: a cluster has database 0 only")
	}
	return counted(redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{opt.Addr}, Username: opt.Username, Password: opt.Password,
		TLSConfig: opt.TLSConfig, DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
		MaxRetries: opt.MaxRetries, Protocol: opt.Protocol, PoolSize: opt.PoolSize, ClientName: opt.ClientName,
		ContextTimeoutEnabled: true})), nil
}

// IsCluster reports whether c is a cluster client.
func IsCluster(c redis.UniversalClient) bool {
	_, ok := c.(*redis.ClusterClient)
	return ok
}

// openCluster opens the cluster a URL of go-redis's cluster form names;
// a database path other than /0 is refused, a cluster has no other.
func openCluster(u *url.URL) (redis.UniversalClient, error) {
	switch strings.Trim(u.Path, "/") {
	case "", "0":
	default:
		return nil, fmt.Errorf("redis: a cluster has database 0 only, not %s", u.Path)
	}
	u.Path = ""
	opt, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, err
	}
	withDefaults(u.Query(), &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.Protocol, &opt.PoolSize)
	opt.ContextTimeoutEnabled = true
	return counted(redis.NewClusterClient(opt)), nil
}

// withDefaults sets the package's defaults on what the URL left unset.
func withDefaults(q url.Values, dial, read, write *time.Duration, retries, protocol, poolSize *int) {
	if !q.Has("pool_size") {
		*poolSize = max(10*runtime.GOMAXPROCS(0), MinPoolSize)
	}
	if !q.Has("dial_timeout") {
		*dial = DialTimeout
	}
	if !q.Has("read_timeout") {
		*read = ReadTimeout
	}
	if !q.Has("write_timeout") {
		*write = WriteTimeout
	}
	if !q.Has("max_retries") {
		*retries = MaxRetries
	}
	if !q.Has("protocol") {
		*protocol = Protocol
	}
}

// answersAsClusterNode asks the node whether cluster mode is on. A node
// that cannot be asked (down, or not Redis) is taken for a single Redis.
func answersAsClusterNode(c *redis.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*DialTimeout)
	defer cancel()
	info, err := c.Info(ctx, "cluster").Result()
	return err == nil && strings.Contains(info, "cluster_enabled:1")
}

// Describe names what c is connected to, for logs: "127.0.0.1:6379 db 0",
// or "cluster of 127.0.0.1:7000, …" with the seed nodes.
func Describe(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		return fmt.Sprintf("%s db %d", o.Addr, o.DB)
	case *redis.ClusterClient:
		return "cluster of " + strings.Join(c.Options().Addrs, ", ")
	}
	return "redis"
}
