package shep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"egov/shep/soap"
)

// HTTPClient talks to a bus served by Bus.Handler.
type HTTPClient struct {
	// BaseURL of the bus, e.g. http://127.0.0.1:8081.
	BaseURL string
	// HTTP is the client used; nil means one without a timeout, since
	// long polls last as long as they ask for (use the context).
	HTTP *http.Client
}

var _ Client = (*HTTPClient)(nil)
var _ Client = (*Bus)(nil)

func (c *HTTPClient) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// call posts one envelope and decodes the answer; a SOAP fault comes back
// as a *soap.Fault error.
func (c *HTTPClient) call(ctx context.Context, path string, req any) (any, error) {
	body, err := soap.Encode(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", soap.ContentType)
	hreq.Header.Set("SOAPAction", soap.CanonicalAction)
	resp, err := c.httpClient().Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxEnvelope+1))
	if err != nil {
		return nil, err
	}
	v, err := soap.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("shep: %s answered %s: %w", path, resp.Status, err)
	}
	if f, ok := v.(*soap.Fault); ok {
		return nil, f
	}
	return v, nil
}

func callAs[T any](c *HTTPClient, ctx context.Context, path string, req any) (*T, error) {
	v, err := c.call(ctx, path, req)
	if err != nil {
		return nil, err
	}
	out, ok := v.(*T)
	if !ok {
		return nil, fmt.Errorf("shep: unexpected answer %s", soap.OperationName(v))
	}
	return out, nil
}

func (c *HTTPClient) SendMessage(ctx context.Context, req *soap.SendMessage) (*soap.SendMessageResponse, error) {
	return callAs[soap.SendMessageResponse](c, ctx, PathAsync, req)
}

func (c *HTTPClient) GetMessages(ctx context.Context, req *soap.GetMessages) (*soap.GetMessagesResponse, error) {
	return callAs[soap.GetMessagesResponse](c, ctx, PathAsync, req)
}

func (c *HTTPClient) SendDeliveryNotification(ctx context.Context, req *soap.SendDeliveryNotification) (*soap.SendDeliveryNotificationResponse, error) {
	return callAs[soap.SendDeliveryNotificationResponse](c, ctx, PathAsync, req)
}

func (c *HTTPClient) GetMessageStatus(ctx context.Context, req *soap.GetMessageStatus) (*soap.GetMessageStatusResponse, error) {
	return callAs[soap.GetMessageStatusResponse](c, ctx, PathAsync, req)
}

func (c *HTTPClient) SendSync(ctx context.Context, req *soap.SyncSendMessage) (*soap.SyncSendMessageResponse, error) {
	return callAs[soap.SyncSendMessageResponse](c, ctx, PathSync, req)
}

// PutAttachment uploads bytes and returns their reference.
func (c *HTTPClient) PutAttachment(ctx context.Context, sender soap.SenderInfo, data []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimSuffix(c.BaseURL, "/")+PathAttachments, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(sender.SenderID, sender.Password)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return "", fmt.Errorf("shep: upload answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var out struct {
		Ref string `json:"ref"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Ref, nil
}

// GetAttachment downloads bytes the caller may read.
func (c *HTTPClient) GetAttachment(ctx context.Context, sender soap.SenderInfo, ref string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+PathAttachments+ref, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(sender.SenderID, sender.Password)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return io.ReadAll(resp.Body)
	case http.StatusNotFound:
		return nil, ErrNotFound
	case http.StatusUnauthorized:
		return nil, ErrUnauthorized
	}
	return nil, fmt.Errorf("shep: download answered %s", resp.Status)
}

// Helpers that build the common requests.

// NewSendMessage builds an asynchronous message.
func NewSendMessage(sender soap.SenderInfo, serviceID string, typ soap.MessageType, correlationID, data string, props ...soap.Property) *soap.SendMessage {
	m := &soap.SendMessage{}
	m.Request.MessageInfo = soap.AsyncMessageInfo{ServiceID: serviceID, MessageType: typ, CorrelationID: correlationID,
		MessageDate: time.Now().UTC(), Sender: sender, Properties: props}
	m.Request.MessageData.Data = data
	return m
}

// DeliveryStopped reports whether a message's status says the bus stopped
// delivering it (expired, or refused by its recipient time and again), and
// why, in the words an operator reads.
func DeliveryStopped(st *soap.GetMessageStatusResponse) (bool, string) {
	if st.Response.MessageState != soap.StateDeliveryStopped {
		return false, ""
	}
	reason := "delivery stopped"
	for _, p := range st.Response.Properties {
		switch p.Key {
		case "REASON":
			reason += " (" + p.Value + ")"
		case PropRefusalCode:
			reason += ", the provider's system gave " + p.Value
		}
	}
	return true, reason
}

// AskSync sends one synchronous request, query, to service as sender and
// returns the answer document. An answer to another message, or one that
// reports no success, is an error: whoever asks reads only the answer to
// his own question.
func AskSync(ctx context.Context, c Client, sender soap.SenderInfo, service string, query []byte, now time.Time) (string, error) {
	req := &soap.SyncSendMessage{}
	req.Request.RequestInfo = soap.SyncMessageInfo{MessageID: uuid.NewString(), ServiceID: service, MessageDate: now.UTC(), Sender: sender}
	req.Request.RequestData.Data = string(query)
	resp, err := c.SendSync(ctx, req)
	if err != nil {
		return "", err
	}
	info := resp.Response.ResponseInfo
	if info.CorrelationID != req.Request.RequestInfo.MessageID || info.Status.Code != soap.SuccessCode {
		return "", fmt.Errorf("%s answered another message or failed (status %s)", service, info.Status.Code)
	}
	return resp.Response.ResponseData.Data, nil
}

// NewGetMessages builds a poll of the sender's queue.
func NewGetMessages(sender soap.SenderInfo, serviceID string, amount int, wait time.Duration) *soap.GetMessages {
	m := &soap.GetMessages{}
	m.Request.ServiceID, m.Request.Amount, m.Request.Sender = serviceID, amount, &sender
	if wait > 0 {
		m.Request.Properties = []soap.Property{{Key: PropWaitSeconds, Value: fmt.Sprint(int(wait / time.Second))}}
	}
	return m
}

// NewDeliveryNotification confirms (delivered) or refuses a message.
func NewDeliveryNotification(sender soap.SenderInfo, msg soap.AsyncMessageInfo, delivered bool, reason string) *soap.SendDeliveryNotification {
	m := &soap.SendDeliveryNotification{}
	now := time.Now().UTC()
	status := soap.DeliveryStatusInfo{ReceiveStatus: string(soap.StateDelivered), StatusDate: now}
	if !delivered {
		status.ReceiveStatus = string(soap.StateNotDelivered)
		status.Error = &soap.ErrorInfo{ErrorCode: soap.CodeInternal, ErrorMessage: reason, ErrorDate: now}
	}
	m.Request.Notification = soap.DeliveryNotification{MessageID: msg.MessageID, ServiceID: msg.ServiceID, NotificationDate: now, DeliveryStatus: status}
	m.Request.RequestDate, m.Request.Sender = now, &sender
	return m
}

// NewRejection tells the bus that a handed-out message will never be
// accepted, with the refusal's code and reason: the bus dead-letters it at
// once, where the operators see why (egovctl shep dead-letters).
func NewRejection(sender soap.SenderInfo, msg soap.AsyncMessageInfo, code, reason string) *soap.SendDeliveryNotification {
	m := NewDeliveryNotification(sender, msg, false, reason)
	m.Request.Notification.DeliveryStatus.ReceiveStatus = string(soap.StateDeliveryStopped)
	m.Request.Notification.DeliveryStatus.Error.ErrorCode = code
	return m
}

// NewGetMessageStatus asks for a message's state.
func NewGetMessageStatus(sender soap.SenderInfo, messageID string) *soap.GetMessageStatus {
	m := &soap.GetMessageStatus{}
	m.Request.MessageID, m.Request.RequestDate, m.Request.Sender = messageID, time.Now().UTC(), sender
	return m
}
