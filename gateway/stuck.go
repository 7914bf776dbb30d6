package gateway

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"egov/shep"
)

// openKey is shard n of the index of relayed requests still waiting for
// their answer, scored by when they were last looked at.
func (a *App) openKey(n int) string { return a.key("{open:" + strconv.Itoa(n) + "}") }

// legacyOpenKey is the one index of portals before the shards: read until
// it empties, as its requests end.
func (a *App) legacyOpenKey() string { return a.key("{open}") }

// StuckPrefix starts the lastError of a request the bus stopped delivering.
const StuckPrefix = "stuck: "

// checkStuck asks the bus about requests that have waited StuckAfter for
// their answer. One the bus stopped delivering to the provider (expired, or
// refused by it time and again) will never be answered by itself: it is
// marked with the reason, where the citizen and the operators see it
// (GET /api/v1/requests/{id}, the log), until an operator redelivers it
// (egovctl shep dead-letters). The others are looked at again after
// another StuckAfter. It returns how many it marked.
func (a *App) checkStuck(ctx context.Context) (int, error) {
	marked := 0
	for n := 0; n <= relayShards; n++ {
		key := a.legacyOpenKey()
		if n < relayShards {
			key = a.openKey(n)
		}
		m, err := a.checkStuckIn(ctx, key)
		marked += m
		if err != nil {
			return marked, err
		}
	}
	return marked, nil
}

// checkStuckIn is checkStuck on one shard of the open index.
func (a *App) checkStuckIn(ctx context.Context, openKey string) (int, error) {
	now := a.now()
	due := now.Add(-a.cfg.StuckAfter).UnixMilli()
	members, err := a.rdb.ZRangeByScore(ctx, openKey, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(due, 10), Count: 200}).Result()
	if err != nil {
		return 0, err
	}
	marked := 0
	for _, member := range members {
		ref, ok := parseRef(member)
		if !ok {
			a.rdb.ZRem(ctx, openKey, member)
			continue
		}
		rec, err := a.load(ctx, ref, false)
		if err != nil {
			return marked, err
		}
		busID, lastError := rec.BusMessageID, rec.LastError
		if rec.State == "" || rec.State.Terminal() {
			a.rdb.ZRem(ctx, openKey, member)
			continue
		}
		st, err := a.cfg.Bus.GetMessageStatus(ctx, shep.NewGetMessageStatus(a.cfg.Sender, busID))
		if err != nil {
			return marked, err // the bus is down: look again at the next sweep
		}
		a.rdb.ZAdd(ctx, openKey, redis.Z{Score: float64(now.UnixMilli()), Member: member})
		stopped, reason := shep.DeliveryStopped(st)
		if !stopped {
			if strings.HasPrefix(lastError, StuckPrefix) {
				_ = a.clearStuck(ctx, ref) // redelivered by an operator
			}
			continue
		}
		note := StuckPrefix + "the bus stopped delivering the request to the provider's system: " + reason +
			"; the operators redeliver it once the cause is fixed"
		if lastError == note {
			continue
		}
		changed, err := a.markStuck(ctx, ref, note)
		if err != nil {
			return marked, err
		}
		if !changed {
			continue // answered meanwhile
		}
		marked++
		a.log.Warn("request stuck: the bus stopped delivering it", "request", ref.String(),
			"busMessageId", busID, "reason", reason)
	}
	return marked, nil
}
