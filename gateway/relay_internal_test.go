package gateway

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/loadgen"
	"egov/internal/redistest"
)

// Requests whose hints were lost are found in every citizen's outbox, on
// whichever master of a cluster it lives, and hinted again in their
// citizen's shard; the hints spread over the shards. `make test` runs this
// on one Redis and on a Redis Cluster.
func TestSweepFindsEveryOutbox(t *testing.T) {
	r := redistest.New(t)
	ctx := context.Background()
	a, err := New(r.Client, Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	accepted := time.Now().Add(-time.Hour).UnixMilli()
	iins := loadgen.SyntheticIINs(40)
	for i, iin := range iins {
		ref := RequestRef{IIN: iin, ID: "lost-" + strconv.Itoa(i)}
		_, err := r.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, a.requestKeys(ref).record, "state", string(StateWaitingForRelay), "acceptedAt", strconv.FormatInt(accepted, 10))
			p.SAdd(ctx, a.outboxKey(iin), ref.encode())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.sweepOutboxes(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	hinted := map[string]bool{}
	shardsUsed := 0
	for n := range relayShards {
		hints, err := r.Client.XRange(ctx, a.relayStream(n), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(hints) > 0 {
			shardsUsed++
		}
		for _, h := range hints {
			iin, _ := h.Values["iin"].(string)
			if shardOf(iin) != n {
				t.Errorf("%s hinted in shard %d, its shard is %d", h.Values["id"], n, shardOf(iin))
			}
			hinted[iin+" "+h.Values["id"].(string)] = true
		}
	}
	for i, iin := range iins {
		if ref := (RequestRef{IIN: iin, ID: "lost-" + strconv.Itoa(i)}); !hinted[ref.encode()] {
			t.Errorf("request %s was not hinted again", ref)
		}
	}
	if shardsUsed < relayShards/2 {
		t.Errorf("40 citizens' hints in %d of %d shards", shardsUsed, relayShards)
	}
}
