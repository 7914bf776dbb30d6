package shep

import (
	"context"

	"github.com/google/uuid"

	"egov/shep/soap"
)

// SendSync routes a synchronous SendMessage to the handler registered for
// its service and answers with SCSS001 and the handler's data.
func (b *Bus) SendSync(ctx context.Context, req *soap.SyncSendMessage) (*soap.SyncSendMessageResponse, error) {
	const op = "SendMessage"
	info := req.Request.RequestInfo
	sender, f := b.authenticate(op, info.Sender)
	if f != nil {
		return nil, f
	}
	if info.MessageID == "" {
		return nil, b.fault(op, soap.CodeFormat, "messageId is required")
	}
	svc := b.routing.Services[info.ServiceID]
	if svc == nil || svc.Channel != "sync" || !sender.MaySend(info.ServiceID) {
		return nil, b.fault(op, soap.CodeUnknownService, "no synchronous service %q for %s", info.ServiceID, info.Sender.SenderID)
	}
	b.mu.RLock()
	h := b.sync[info.ServiceID]
	b.mu.RUnlock()
	if h == nil {
		return nil, b.fault(op, soap.CodeUnknownService, "service %q is not available now", info.ServiceID)
	}
	// A sync request is never a result: signer policies apply to results.
	if f := b.checkSignature(ctx, op, svc, sender, req.Request.RequestData.Data, false); f != nil {
		return nil, f
	}
	rec := evidenceRecord{Direction: "sync-in", Operation: op, MessageID: info.MessageID, CorrelationID: info.CorrelationID,
		ServiceID: info.ServiceID, Sender: info.Sender.SenderID, Recipient: svc.Recipient}
	if err := b.record(ctx, rec, svc, req); err != nil {
		return nil, b.internal(op, err)
	}
	data, err := h.HandleSync(ctx, req)
	if err != nil {
		if fault, ok := err.(*soap.Fault); ok {
			fault.Operation = op
			return nil, fault
		}
		return nil, b.internal(op, err)
	}
	resp := &soap.SyncSendMessageResponse{}
	resp.Response.ResponseInfo = soap.SyncMessageInfoResponse{
		MessageID: uuid.NewString(), CorrelationID: info.MessageID, ResponseDate: b.cfg.Now(),
		Status: soap.StatusInfo{Code: soap.SuccessCode, Message: soap.SuccessString},
	}
	resp.Response.ResponseData.Data = data
	out := evidenceRecord{Direction: "sync-out", Operation: "SendMessageResponse", MessageID: resp.Response.ResponseInfo.MessageID,
		CorrelationID: info.MessageID, ServiceID: info.ServiceID, Sender: svc.Recipient, Recipient: info.Sender.SenderID}
	if err := b.record(ctx, out, svc, resp); err != nil {
		return nil, b.internal(op, err)
	}
	return resp, nil
}
