package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// FileForBenchmark files one status message in a cabinet, the way the
// consumer does.
func (a *App) FileForBenchmark(ctx context.Context, iin string) error {
	seq, err := a.cabinetSeq(ctx, iin, 1)
	if err != nil {
		return err
	}
	m := CabinetMessage{ID: fmt.Sprintf("bench-%d", seq), Kind: "status", At: time.Now(),
		Title: Names{RU: "Запрос принят в работу", KK: "Сұрау жұмысқа қабылданды", EN: "Accepted for processing"}}
	_, err = a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		a.fileMessage(ctx, p, iin, seq, m, "")
		return nil
	})
	return err
}

// CheckStuck runs the check for stuck requests now.
func (a *App) CheckStuck(ctx context.Context) (int, error) { return a.checkStuck(ctx) }

// SendQueuedSMS sends the due status notices of every shard once, as one
// look of runSMS does.
func (a *App) SendQueuedSMS(ctx context.Context) error {
	for n := range relayShards {
		if err := a.sendQueuedSMS(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
