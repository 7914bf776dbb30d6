package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/document"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

const relayGroup = "relay"

// relayWorkers is how many requests are sent to the bus at once.
const relayWorkers = 32

// runRelay sends accepted requests to the bus: it reads the outbox hints,
// sends each request as an asynchronous REQUEST (with its id as the
// idempotency key, so a retry never makes a second message), and retries
// failures with a doubling backoff. A bus outage delays requests; it never
// loses one. It also sweeps the citizens' outboxes for requests whose hint
// was lost.
func (a *App) runRelay(ctx context.Context) {
	stream := a.relayStream()
	if err := a.rdb.XGroupCreateMkStream(ctx, stream, relayGroup, "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		a.log.Error("relay: cannot create the consumer group", "err", err)
	}
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	a.sweepOutboxes(ctx)
	for ctx.Err() == nil {
		select {
		case <-sweep.C:
			a.sweepOutboxes(ctx)
			if _, err := a.checkStuck(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("relay: checking for stuck requests failed", "err", err)
			}
		default:
		}
		entries, err := a.relayEntries(ctx, stream)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("relay: reading the outbox failed", "err", err)
				sleep(ctx, a.cfg.RelayBackoff)
			}
			continue
		}
		// Requests are independent: relay a batch side by side.
		var wg sync.WaitGroup
		sem := make(chan struct{}, relayWorkers)
		for _, e := range entries {
			wg.Add(1)
			sem <- struct{}{}
			go func(e redis.XMessage) {
				defer wg.Done()
				defer func() { <-sem }()
				iin, _ := e.Values["iin"].(string)
				id, _ := e.Values["id"].(string)
				if done := a.relayOne(ctx, iin, id); done {
					a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
						p.XAck(ctx, stream, relayGroup, e.ID)
						p.XDel(ctx, stream, e.ID)
						return nil
					})
				}
			}(e)
		}
		wg.Wait()
	}
}

// relayEntries returns hints due for another try, then new ones.
func (a *App) relayEntries(ctx context.Context, stream string) ([]redis.XMessage, error) {
	retry, _, err := a.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: relayGroup, Consumer: "relay",
		MinIdle: max(a.cfg.RelayBackoff, 5*time.Second), Start: "0-0", Count: 100}).Result()
	if err != nil {
		return nil, err
	}
	if len(retry) > 0 {
		return retry, nil
	}
	res, err := a.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: relayGroup, Consumer: "relay",
		Streams: []string{stream, ">"}, Count: 100, Block: a.cfg.RelayBackoff}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []redis.XMessage
	for _, s := range res {
		out = append(out, s.Messages...)
	}
	return out, nil
}

// relayOne sends one request if it still waits and its backoff has passed;
// it reports whether the hint is finished with.
func (a *App) relayOne(ctx context.Context, iin, id string) bool {
	key := a.requestKey(iin, id)
	v, err := a.rdb.HMGet(ctx, key, "state", "service", "document", "attachments", "relayAttempts", "nextRelayAt").Result()
	if err != nil {
		return false
	}
	state, _ := v[0].(string)
	if state != StateWaitingForRelay {
		a.rdb.SRem(ctx, a.outboxKey(iin), id)
		return true
	}
	// Backoff runs on the machine's clock: it paces retries, it is not a
	// term of the regulations.
	if next := msToTime(str(v[5])); time.Now().Before(next) {
		return false
	}
	service, doc := str(v[1]), str(v[2])
	var headers []document.AttachmentHeader
	_ = jsonUnmarshal(str(v[3]), &headers)
	props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: id}}
	err = func() error {
		for _, h := range headers {
			data, err := a.rdb.Get(ctx, a.attachmentKey(iin, h.SHA256)).Bytes()
			if err != nil {
				return err
			}
			ref, err := a.cfg.Bus.PutAttachment(ctx, a.cfg.Sender, data)
			if err != nil {
				return err
			}
			props = append(props, soap.Property{Key: shep.PropAttachment, Value: ref})
		}
		resp, err := a.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(a.cfg.Sender, service, soap.TypeRequest, "", doc, props...))
		if err != nil {
			return err
		}
		now := a.now()
		// The answer to this correlation comes back through the consumer,
		// and the request is watched until it does (see checkStuck). Both
		// are written before the request is marked relayed; they are on
		// keys of their own, so in one pipeline rather than the transaction.
		_, err = a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, a.key("correlation", resp.Response.CorrelationID), iin+" "+id, 0)
			p.ZAdd(ctx, a.openKey(), redis.Z{Score: float64(now.UnixMilli()), Member: iin + " " + id})
			return nil
		})
		if err != nil {
			return err
		}
		_, err = a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "state", StateRelayed, "busMessageId", resp.Response.MessageID,
				"correlationId", resp.Response.CorrelationID, "lastError", "")
			a.appendHistory(ctx, p, iin, id, HistoryEntry{State: StateRelayed, At: now})
			p.SRem(ctx, a.outboxKey(iin), id)
			return nil
		})
		return err
	}()
	if err == nil {
		a.log.Info("request relayed", "request", id, "iin", signing.MaskIIN(iin))
		return true
	}
	attempts := atoi(str(v[4])) + 1
	backoff := a.cfg.RelayBackoff << min(attempts-1, 6)
	backoff = min(backoff, time.Minute)
	a.rdb.HSet(ctx, key, "relayAttempts", attempts, "nextRelayAt", time.Now().Add(backoff).UnixMilli(),
		"lastError", "the bus did not accept the request yet: "+errorText(err))
	a.log.Warn("relay failed, will retry", "request", id, "attempt", attempts, "retry_in", backoff, "err", err)
	return false
}

// sweepOutboxes re-hints requests still in some citizen's outbox: after a
// crash between acceptance and the hint, or hints trimmed by an operator.
func (a *App) sweepOutboxes(ctx context.Context) {
	iter := a.rdb.Scan(ctx, 0, a.key("{*}", "outbox"), 500).Iterator()
	for iter.Next(ctx) {
		outbox := iter.Val()
		iin := strings.TrimSuffix(strings.TrimPrefix(outbox, a.key("{")), "}:outbox")
		ids, err := a.rdb.SMembers(ctx, outbox).Result()
		if err != nil {
			continue
		}
		for _, id := range ids {
			accepted, _ := a.rdb.HGet(ctx, a.requestKey(iin, id), "acceptedAt").Result()
			if a.now().Sub(msToTime(accepted)) < time.Minute {
				continue // its own hint is on the way
			}
			a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.relayStream(), Values: []any{"iin", iin, "id", id}})
		}
	}
}

func errorText(err error) string {
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Info.ErrorCode + " " + f.Info.ErrorMessage
	}
	return "bus unreachable"
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
