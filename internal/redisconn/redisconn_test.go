package redisconn_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
)

func TestDefaultsAndOverrides(t *testing.T) {
	c, err := redisconn.Open("redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	o := c.(*redis.Client).Options()
	if o.ReadTimeout != redisconn.ReadTimeout || o.WriteTimeout != redisconn.WriteTimeout ||
		o.DialTimeout != redisconn.DialTimeout || o.MaxRetries != redisconn.MaxRetries || !o.ContextTimeoutEnabled ||
		o.PoolSize < redisconn.MinPoolSize {
		t.Fatalf("defaults not applied: %+v", o)
	}
	c, err = redisconn.Open("redis://127.0.0.1:6379/0?read_timeout=5s&max_retries=4&pool_size=7")
	if err != nil {
		t.Fatal(err)
	}
	if o := c.(*redis.Client).Options(); o.ReadTimeout != 5*time.Second || o.MaxRetries != 4 || o.WriteTimeout != redisconn.WriteTimeout || o.PoolSize != 7 {
		t.Fatalf("the URL's own settings were overridden: %+v", o)
	}
	if _, err := redisconn.Open("http://not-redis"); err == nil {
		t.Fatal("a non-redis URL was accepted")
	}
}

// A server that accepts connections and never answers, as a frozen Redis:
// a command fails in about two seconds, not the library's default twelve.
func TestUnansweringServerFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c, err := redisconn.Open("redis://" + ln.Addr().String() + "/0?protocol=2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("a command to a silent server succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a command to a silent server took %s", took)
	}
}
