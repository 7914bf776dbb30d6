package shep_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/shep"
	"egov/shep/soap"
)

const benchPayload = `<ServiceRequest xmlns="urn:egov-gateway:request:v1"><RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId><ServiceCode>open-data</ServiceCode></ServiceRequest>`

// BenchmarkCycle measures send → getMessages → confirm through the
// in-process bus on real Redis, shaped like the real systems: 32 senders,
// and a recipient that leases batches of amount with one or two poll loops
// and confirms them with a pool of 32 workers. private-data keeps metadata-only evidence, open-data
// keeps every envelope in the evidence log. One iteration is one message through the whole cycle.
func BenchmarkCycle(b *testing.B) {
	for _, c := range []struct {
		service         string
		amount, pollers int
	}{{svcPrivate, 1, 1}, {svcPrivate, 100, 1}, {svcPrivate, 100, 2}, {svcOpen, 100, 2}} {
		amount := c.amount
		b.Run(fmt.Sprintf("%s/amount=%d/pollers=%d", c.service, amount, c.pollers), func(b *testing.B) {
			f := newBus(b, nil)
			ctx := context.Background()
			poll(b, f.bus, labour, 1) // steady state: passwords checked once
			const senders, workers = 32, 32
			var toSend, confirmed atomic.Int64
			toSend.Store(int64(b.N))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := 0; i < senders; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for toSend.Add(-1) >= 0 {
						if _, err := f.bus.SendMessage(ctx, shep.NewSendMessage(portal, c.service, soap.TypeRequest, "", benchPayload)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			jobs := make(chan soap.AsyncMessageInfo, amount)
			var pool sync.WaitGroup
			for i := 0; i < workers; i++ {
				pool.Add(1)
				go func() {
					defer pool.Done()
					for info := range jobs {
						if _, err := f.bus.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(labour, info, true, "")); err != nil {
							b.Error(err)
						}
						confirmed.Add(1)
					}
				}()
			}
			var handed atomic.Int64
			var pollers sync.WaitGroup
			for i := 0; i < c.pollers; i++ {
				pollers.Add(1)
				go func() {
					defer pollers.Done()
					for handed.Load() < int64(b.N) && !b.Failed() {
						resp, err := f.bus.GetMessages(ctx, shep.NewGetMessages(labour, c.service, amount, 200*time.Millisecond))
						if err != nil {
							b.Error(err)
							return
						}
						for _, m := range resp.Response.Messages {
							jobs <- m.MessageInfo
						}
						handed.Add(int64(len(resp.Response.Messages)))
					}
				}()
			}
			pollers.Wait()
			close(jobs)
			pool.Wait()
			wg.Wait()
			b.ReportMetric(float64(confirmed.Load())/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkRawXADD is the floor: XADD of the same payload to a stream on the
// same Redis, with the same concurrency, and nothing else.
func BenchmarkRawXADD(b *testing.B) {
	f := newBus(b, nil)
	ctx := context.Background()
	stream := f.redis.Key("raw")
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := f.redis.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"data", benchPayload}}).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
