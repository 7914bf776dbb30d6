package redistest_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"egov/internal/redistest"
)

func TestKeysArePrivateAndCleanedUp(t *testing.T) {
	ctx := context.Background()
	var url, key1 string
	t.Run("writer", func(t *testing.T) {
		r1 := redistest.New(t)
		r2 := redistest.New(t)
		if r1.Prefix == r2.Prefix {
			t.Fatal("two tests share a prefix")
		}
		key1 = r1.Key("shep", "{lm}", "q")
		if err := r1.Client.Set(ctx, key1, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, _ := r2.Client.Exists(ctx, key1).Result(); n != 1 {
			t.Fatal("written key not visible on the same server")
		}
		url = r1.URL
		t.Logf("source %s", r1.Source)
	})
	// The subtest's cleanup ran: its keys are gone, and the shared server
	// still answers.
	if url == "" {
		t.Fatal("no URL")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if n, err := c.Exists(ctx, key1).Result(); err != nil || n != 0 {
		t.Fatalf("key %s survived its test: %d %v", key1, n, err)
	}
}

func TestStartServer(t *testing.T) {
	url, err := redistest.StartServer(t, "", "appendonly yes", "appendfsync everysec")
	if err != nil {
		t.Skipf("no redis-server on PATH: %v", err)
	}
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	got, err := c.ConfigGet(context.Background(), "appendonly").Result()
	if err != nil || got["appendonly"] != "yes" {
		t.Fatalf("config not applied: %v %v", got, err)
	}
}
