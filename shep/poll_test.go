package shep_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/redistest"
	"egov/internal/slogtest"
	"egov/shep"
)

// backends runs a test on the embedded Redis (miniredis, as egovctl up
// without EGOV_REDIS_URL) and on the real one.
func backends(t *testing.T, test func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb, err := redisconn.Open("redis://" + m.Addr() + "/0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		test(t, rdb, "")
	})
	t.Run("redis", func(t *testing.T) {
		r := redistest.New(t)
		test(t, r.Client, r.Prefix)
	})
}

// An idle long poll, cut into many slices of a millisecond and a half,
// ends when its wait does, every time, and logs nothing: before, a
// remainder under a millisecond went out as BLOCK 0 (for ever) and the
// poll hung until the client's read timeout failed it as an internal
// error (SCE909), about once a minute on the embedded Redis.
func TestIdleLongPollsEndOnTimeAndLogNothing(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		rec, log := slogtest.New(slog.LevelInfo)
		bus, err := shep.New(rdb, testRouting(t), shep.Config{KeyPrefix: prefix, PollSlice: 1500 * time.Microsecond, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		for i := 0; i < 3; i++ {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := bus.GetMessages(ctx, shep.NewGetMessages(labour, svcOpen, 10, time.Second))
			cancel()
			took := time.Since(start)
			if err != nil {
				t.Fatalf("poll %d: %v (after %s)", i, err, took)
			}
			if n := len(resp.Response.Messages); n != 0 {
				t.Fatalf("poll %d of an empty queue: %d messages", i, n)
			}
			if took < 900*time.Millisecond || took > 2500*time.Millisecond {
				t.Fatalf("poll %d of a second took %s", i, took)
			}
		}
		if w := rec.Warnings(); len(w) > 0 {
			t.Fatalf("an idle bus logged:\n%v", w)
		}
	})
}
