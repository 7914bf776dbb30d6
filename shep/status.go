package shep

import (
	"context"
	"strconv"
	"time"

	"egov/shep/soap"
)

// GetMessageStatus reports a message's delivery state to its sender or its
// recipient: ON_DELIVERY, DELIVERED, NOT_DELIVERED or DELIVERY_STOPPED, with
// the delivery count and the time of each step as properties. A message
// past its end of life reads as DELIVERY_STOPPED even before a poll retires it.
func (b *Bus) GetMessageStatus(ctx context.Context, req *soap.GetMessageStatus) (*soap.GetMessageStatusResponse, error) {
	const op = "getMessageStatus"
	r := req.Request
	if _, f := b.authenticate(op, r.Sender); f != nil {
		return nil, f
	}
	if r.MessageID == "" {
		return nil, b.fault(op, soap.CodeFormat, "messageId is required")
	}
	fields := []string{"state", "sender", "recipient", "deliveries", "sentAt", "leasedAt", "confirmedAt", "refusedAt", "stoppedAt", "reason", "eol", "refusalCode"}
	pipe := b.rdb.Pipeline()
	var cmds []func() ([]any, error)
	for recipient := range b.recipients() {
		cmd := pipe.HMGet(ctx, b.queue(recipient).message(r.MessageID), fields...)
		cmds = append(cmds, cmd.Result)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, b.internal(op, err)
	}
	var rec map[string]string
	for _, get := range cmds {
		vals, err := get()
		if err != nil {
			return nil, b.internal(op, err)
		}
		if vals[0] == nil {
			continue
		}
		rec = map[string]string{}
		for i, f := range fields {
			if s, ok := vals[i].(string); ok {
				rec[f] = s
			}
		}
		break
	}
	// Unknown and not-yours look the same: no one learns of others' messages.
	if rec == nil || (rec["sender"] != r.Sender.SenderID && rec["recipient"] != r.Sender.SenderID) {
		return nil, b.fault(op, soap.CodeFormat, "no message %q for %s", r.MessageID, r.Sender.SenderID)
	}
	now := b.cfg.Now()
	state := soap.MessageState(rec["state"])
	reason := rec["reason"]
	if eol := msTime(rec["eol"]); !eol.IsZero() && now.After(eol) && state != soap.StateDelivered && state != soap.StateDeliveryStopped {
		state, reason = soap.StateDeliveryStopped, "expired"
	}
	at := msTime(rec["sentAt"])
	for _, f := range []string{"leasedAt", "refusedAt", "confirmedAt", "stoppedAt"} {
		if t := msTime(rec[f]); t.After(at) {
			at = t
		}
	}
	resp := &soap.GetMessageStatusResponse{}
	resp.Response.MessageState = state
	resp.Response.Status = soap.MessageStatusInfo{StatusCode: string(state), StatusMessage: stateMessage(state, reason), StatusDate: at}
	resp.Response.ResponseDate = now
	resp.Response.Properties = append(resp.Response.Properties, soap.Property{Key: PropDeliveryCount, Value: orZero(rec["deliveries"])})
	for _, f := range []struct{ field, prop string }{{"sentAt", "SENT_AT"}, {"leasedAt", "LEASED_AT"}, {"refusedAt", "REFUSED_AT"},
		{"confirmedAt", "CONFIRMED_AT"}, {"stoppedAt", "STOPPED_AT"}} {
		if t := msTime(rec[f.field]); !t.IsZero() {
			resp.Response.Properties = append(resp.Response.Properties, soap.Property{Key: f.prop, Value: t.UTC().Format(time.RFC3339Nano)})
		}
	}
	if reason != "" {
		resp.Response.Properties = append(resp.Response.Properties, soap.Property{Key: "REASON", Value: reason})
	}
	if code := rec["refusalCode"]; code != "" && state == soap.StateDeliveryStopped {
		// Why the recipient rejected it, by code only: the sender shows it
		// to its users, the recipient's words stay with the operators.
		resp.Response.Properties = append(resp.Response.Properties, soap.Property{Key: PropRefusalCode, Value: code})
	}
	return resp, nil
}

func stateMessage(s soap.MessageState, reason string) string {
	switch s {
	case soap.StateOnDelivery:
		return "queued for the recipient"
	case soap.StateDelivered:
		return "delivered and confirmed by the recipient"
	case soap.StateNotDelivered:
		return "refused by the recipient, will be delivered again"
	case soap.StateDeliveryStopped:
		return "delivery stopped: " + reason
	}
	return string(s)
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
