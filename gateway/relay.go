package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/retry"
	"egov/shep"
	"egov/shep/soap"
)

const relayGroup = "relay"

// relayWorkers is how many requests are sent to the bus at once.
const relayWorkers = 32

// runRelay sends accepted requests to the bus: it reads the outbox hints,
// sends each request as an asynchronous REQUEST (with its id as the
// idempotency key, so a retry never makes a second message), and retries
// failures with a doubling, jittered backoff. A bus outage delays requests; it never
// loses one. It also sweeps the citizens' outboxes for requests whose hint
// was lost, and looks for requests the bus stopped delivering.
//
// Each hint shard has a reader of its own; the shards share relayWorkers.
// Several portals on one Redis share the shards' consumer group, so each
// hint goes to one of them.
func (a *App) runRelay(ctx context.Context) {
	workers := make(chan struct{}, relayWorkers)
	var readers sync.WaitGroup
	for n := range relayShards {
		readers.Add(1)
		go func() {
			defer readers.Done()
			a.relayShard(ctx, a.relayStream(n), workers)
		}()
	}
	a.runSweeper(ctx)
	readers.Wait()
}

// sweeperLease is how long one portal is the sweeper of a minute: the
// others skip that minute's sweep, which would find the same requests.
const sweeperLease = 50 * time.Second

// runSweeper sweeps the outboxes at start and then once a minute (one
// portal of those sharing the Redis each minute), and at once when this
// portal lost a hint.
func (a *App) runSweeper(ctx context.Context) {
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	// At start, without grace: a predecessor that died between a
	// request's transaction and its hint left no hint on the way.
	_ = a.sweepOutboxes(ctx, 0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			if !a.takeSweeperLease(ctx) {
				continue
			}
			_ = a.sweepOutboxes(ctx, time.Minute)
			if _, err := a.checkStuck(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("relay: checking for stuck requests failed", "err", err)
			}
		case <-a.hintLost:
			// A submission could not hint the relay (Redis went away
			// between its transaction and the hint): sweep as soon as
			// Redis answers, without waiting for the minute's sweep.
			if err := a.sweepOutboxes(ctx, 0); err != nil {
				a.signalHintLost()
				sleep(ctx, a.cfg.RelayBackoff)
			}
		}
	}
}

// takeSweeperLease reports whether this portal sweeps this minute. When
// Redis cannot say, it sweeps: a sweep twice costs reads, a sweep missed
// costs a citizen's request a minute.
func (a *App) takeSweeperLease(ctx context.Context) bool {
	ok, err := a.rdb.SetNX(ctx, a.key("{sweeper}"), "1", sweeperLease).Result()
	return ok || err != nil
}

// relayShard reads one hint stream until ctx ends, relaying each hinted
// request on one of workers.
func (a *App) relayShard(ctx context.Context, stream string, workers chan struct{}) {
	a.createRelayGroup(ctx, stream)
	readBackoff := retry.New(a.cfg.RelayBackoff, 30*time.Second)
	var lastClaim time.Time
	for ctx.Err() == nil {
		entries, err := a.relayEntries(ctx, stream, &lastClaim)
		if err != nil {
			if ctx.Err() == nil {
				if strings.HasPrefix(err.Error(), "NOGROUP") {
					// Redis lost the group (started empty): make it again.
					a.createRelayGroup(ctx, stream)
				}
				d := readBackoff.Next()
				a.log.Warn("relay: reading the outbox failed", "retry_in", d, "err", err)
				sleep(ctx, d)
			}
			continue
		}
		readBackoff.Reset()
		// Requests are independent: relay a batch side by side.
		var wg sync.WaitGroup
		for _, e := range entries {
			wg.Add(1)
			workers <- struct{}{}
			go func(e redis.XMessage) {
				defer wg.Done()
				defer func() { <-workers }()
				iin, _ := e.Values["iin"].(string)
				id, _ := e.Values["id"].(string)
				ref, ok := parseRef(iin + " " + id)
				if !ok || a.relayOne(ctx, ref) {
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

func (a *App) createRelayGroup(ctx context.Context, stream string) {
	if err := a.rdb.XGroupCreateMkStream(ctx, stream, relayGroup, "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") && ctx.Err() == nil {
		a.log.Warn("relay: cannot create the consumer group yet", "stream", stream, "err", err)
	}
}

// relayEntries returns hints due for another try, then new ones. Hints
// come due no sooner than their idle time; they are looked for once a
// RelayBackoff (at least a quarter second) rather than on every read.
func (a *App) relayEntries(ctx context.Context, stream string, lastClaim *time.Time) ([]redis.XMessage, error) {
	minIdle := max(a.cfg.RelayBackoff, 5*time.Second)
	if time.Since(*lastClaim) >= max(a.cfg.RelayBackoff, 250*time.Millisecond) {
		retry, _, err := a.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: relayGroup, Consumer: "relay",
			MinIdle: minIdle, Start: "0-0", Count: 100}).Result()
		if err != nil {
			return nil, err
		}
		if len(retry) > 0 {
			if len(retry) < 100 {
				*lastClaim = time.Now()
			}
			return retry, nil
		}
		*lastClaim = time.Now()
	}
	res, err := a.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: relayGroup, Consumer: "relay",
		Streams: []string{stream, ">"}, Count: 100, Block: max(a.cfg.RelayBackoff, time.Millisecond)}).Result()
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
func (a *App) relayOne(ctx context.Context, ref RequestRef) bool {
	rec, err := a.load(ctx, ref, true)
	if err != nil {
		return false
	}
	if rec.State != StateWaitingForRelay {
		a.rdb.SRem(ctx, a.outboxKey(ref.IIN), ref.encode())
		return true
	}
	// Backoff runs on the machine's clock: it paces retries, it is not a
	// term of the regulations.
	if time.Now().Before(rec.NextRelayAt) {
		return false
	}
	// The idempotency key is the request's owner and id: a retry never
	// makes a second message, and another citizen's request with the same
	// id is never taken for a retry of this one.
	props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: ref.busKey()}}
	err = func() error {
		for _, h := range rec.Attachments {
			data, err := a.rdb.Get(ctx, a.attachmentKey(ref.IIN, h.SHA256)).Bytes()
			if err != nil {
				return err
			}
			r, err := a.cfg.Bus.PutAttachment(ctx, a.cfg.Sender, data)
			if err != nil {
				return err
			}
			props = append(props, soap.Property{Key: shep.PropAttachment, Value: r})
		}
		resp, err := a.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(a.cfg.Sender, rec.BusService, soap.TypeRequest, "", rec.Document, props...))
		if err != nil {
			return err
		}
		now := a.now()
		// The answer to this correlation comes back through the consumer,
		// and the request is watched until it does (see checkStuck). Both
		// are written before the request is marked relayed; they are on
		// keys of their own, so in one pipeline rather than the transition.
		_, err = a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, a.correlationKey(resp.Response.CorrelationID), ref.encode(), 0)
			p.ZAdd(ctx, a.openKey(shardOf(ref.IIN)), redis.Z{Score: float64(now.UnixMilli()), Member: ref.encode()})
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := a.transition(ctx, ref, "", relayedStep(resp.Response.MessageID, resp.Response.CorrelationID, now)); err != nil {
			return err
		}
		return a.rdb.SRem(ctx, a.outboxKey(ref.IIN), ref.encode()).Err()
	}()
	if err == nil {
		a.metrics.relay.WithLabelValues("relayed").Inc()
		a.log.Info("request relayed", "request", ref.String())
		return true
	}
	a.metrics.relay.WithLabelValues("failed").Inc()
	attempts := rec.RelayAttempts + 1
	backoff := retry.New(a.cfg.RelayBackoff, time.Minute).Delay(attempts)
	_ = a.noteRelayFailure(ctx, ref, attempts, time.Now().Add(backoff), "the bus did not accept the request yet: "+errorText(err))
	a.log.Warn("relay failed, will retry", "request", ref.String(), "attempt", attempts, "retry_in", backoff, "err", err)
	return false
}

// signalHintLost asks the relay for an early sweep.
func (a *App) signalHintLost() {
	select {
	case a.hintLost <- struct{}{}:
	default: // one is pending already
	}
}

// sweepOutboxes re-hints requests still in some citizen's outbox that were
// accepted at least grace ago: after a crash between acceptance and the
// hint, a hint lost to a Redis outage, or hints trimmed by an operator. A
// request hinted twice is relayed once (relayOne looks at its state).
func (a *App) sweepOutboxes(ctx context.Context, grace time.Duration) error {
	return redisconn.ScanEach(ctx, a.rdb, a.key("{*}", "outbox"), func(outbox string) error {
		members, err := a.rdb.SMembers(ctx, outbox).Result()
		if err != nil {
			return err
		}
		for _, m := range members {
			ref, ok := parseRef(m)
			if !ok {
				continue
			}
			rec, err := a.load(ctx, ref, false)
			if err != nil {
				return err
			}
			if a.now().Sub(rec.AcceptedAt) < grace {
				continue // its own hint is on the way
			}
			if err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.relayStream(shardOf(ref.IIN)), Values: []any{"iin", ref.IIN, "id", ref.ID}}).Err(); err != nil {
				return err
			}
		}
		return nil
	})
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
