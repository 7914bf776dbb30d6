package shep_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"egov/internal/redisconn"
	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
)

// With durability asked for, sendMessage answers only once the master's
// replica has the message: with the replica gone the sender gets SCE909
// (once: the wait, longer than the client's read timeout, is not cut and
// the batch not sent again), and its retry under the same idempotency key
// finds the message the master kept rather than a second one.
func TestSendMessageWaitsForTheReplica(t *testing.T) {
	master, replica, err := redistest.StartReplicated(t)
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.On(t, master)
	f := newBusOnRedis(t, r, testRouting(t), func(c *shep.Config) {
		c.Durability = redisconn.Durability{Replicas: 1, Timeout: 1500 * time.Millisecond}
	})
	ctx := context.Background()
	key := soap.Property{Key: shep.PropIdempotencyKey, Value: "k-1"}
	first := send(t, f.bus, portal, svcOpen, "<D/>")
	if first.Response.MessageID == "" {
		t.Fatal("no message id")
	}
	if err := replica.Kill(); err != nil {
		t.Fatal(err)
	}
	var fault *soap.Fault
	for _, props := range [][]soap.Property{nil, {key}} {
		_, err = f.bus.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", props...))
		if !errors.As(err, &fault) || fault.Info.ErrorCode != soap.CodeInternal {
			t.Fatalf("with the replica gone: %v, want %s", err, soap.CodeInternal)
		}
	}
	// The master kept it: the sender's retry (through a bus that asks no
	// replica, as one would once a replica is back) is a repeat, not a
	// second message.
	relaxed := newBusOnRedis(t, r, testRouting(t), nil)
	if _, err := relaxed.bus.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", key)); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, relaxed.bus, labour, 10); len(got) != 3 {
		t.Fatalf("%d messages on the queue, want the acknowledged one and the two the master kept, each once", len(got))
	}
}
