// Package soap is the wire contract of the SHEP bus (ШЭП, "bip.bee.kz v10"):
// Go types for the synchronous and asynchronous channels and a SOAP 1.1
// codec for them, in the namespaces and element names of the real
// contract (research/bus.md §1). Child elements are unqualified, as in
// SHEP's document/literal wrapped WSDL.
package soap

import "time"

// Namespaces of the SHEP v10 contract.
const (
	NSEnvelope    = "http://schemas.xmlsoap.org/soap/envelope/"
	NSCommon      = "http://bip.bee.kz/common/v10/Types"
	NSSyncTypes   = "http://bip.bee.kz/SyncChannel/v10/Types"
	NSAsyncTypes  = "http://bip.bee.kz/AsyncChannel/v10/Types"
	NSSyncIface   = "http://bip.bee.kz/SyncChannel/v10/Interfaces"
	NSAsyncIface  = "http://bip.bee.kz/AsyncChannel/v10/Interfaces"
	ContentType   = "text/xml; charset=utf-8"
	SuccessCode   = "SCSS001"
	SuccessString = "Message has been processed successfully"
)

// MessageType of an asynchronous message.
type MessageType string

const (
	TypeRequest      MessageType = "REQUEST"
	TypeNotification MessageType = "NOTIFICATION"
	TypeUpdate       MessageType = "UPDATE"
	TypeResponse     MessageType = "RESPONSE"
)

// Valid reports whether t is one of the four SHEP message types.
func (t MessageType) Valid() bool {
	switch t {
	case TypeRequest, TypeNotification, TypeUpdate, TypeResponse:
		return true
	}
	return false
}

// MessageState is the delivery state of an asynchronous message.
type MessageState string

const (
	StateOnDelivery      MessageState = "ON_DELIVERY"
	StateDelivered       MessageState = "DELIVERED"
	StateNotDelivered    MessageState = "NOT_DELIVERED"
	StateDeliveryStopped MessageState = "DELIVERY_STOPPED"
)

// SenderInfo authenticates a system to the bus.
type SenderInfo struct {
	SenderID string `xml:"senderId"`
	Password string `xml:"password,omitempty"`
}

// Property is a key/value pair of message metadata.
type Property struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// MessageData carries the business payload: the signed XML document as an
// escaped string, so that its bytes (and so its signature) pass unchanged.
type MessageData struct {
	Data string `xml:"data"`
}

// ErrorInfo is SHEP's fault detail.
type ErrorInfo struct {
	ErrorCode    string     `xml:"errorCode"`
	ErrorMessage string     `xml:"errorMessage"`
	ErrorData    string     `xml:"errorData,omitempty"`
	ErrorDate    time.Time  `xml:"errorDate"`
	SubError     *ErrorInfo `xml:"subError,omitempty"`
	SessionID    string     `xml:"sessionId,omitempty"`
}

// StatusInfo is the outcome of a synchronous call.
type StatusInfo struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

// DeliveryStatusInfo is a recipient's verdict on one message.
type DeliveryStatusInfo struct {
	ReceiveStatus string     `xml:"receiveStatus"`
	StatusDate    time.Time  `xml:"statusDate"`
	ResendMessage string     `xml:"resendMessage,omitempty"`
	Error         *ErrorInfo `xml:"error,omitempty"`
}

// DeliveryNotification confirms or refuses one message.
type DeliveryNotification struct {
	MessageID        string             `xml:"messageId"`
	ServiceID        string             `xml:"serviceId"`
	NotificationDate time.Time          `xml:"notificationDate"`
	DeliveryStatus   DeliveryStatusInfo `xml:"deliveryStatus"`
}

// MessageStatusInfo describes the state of a message.
type MessageStatusInfo struct {
	StatusCode    string    `xml:"statusCode"`
	StatusMessage string    `xml:"statusMessage"`
	StatusDate    time.Time `xml:"statusDate"`
}

// AsyncMessageInfo is the header of an asynchronous message. The bus
// assigns MessageID and CorrelationID (a response names the correlation of
// its request).
type AsyncMessageInfo struct {
	MessageID     string      `xml:"messageId,omitempty"`
	CorrelationID string      `xml:"correlationId,omitempty"`
	ServiceID     string      `xml:"serviceId"`
	MessageType   MessageType `xml:"messageType"`
	RouteID       string      `xml:"routeId,omitempty"`
	MessageDate   time.Time   `xml:"messageDate"`
	Sender        SenderInfo  `xml:"sender"`
	Properties    []Property  `xml:"properties,omitempty"`
	SessionID     string      `xml:"sessionId,omitempty"`
}

// Property returns the value of the first property named key.
func (m *AsyncMessageInfo) Property(key string) (string, bool) {
	for _, p := range m.Properties {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// AsyncMessage is one message handed out by getMessages.
type AsyncMessage struct {
	MessageInfo AsyncMessageInfo `xml:"messageInfo"`
	MessageData MessageData      `xml:"messageData"`
}

// SendMessage is the asynchronous channel's sendMessage.
type SendMessage struct {
	Request struct {
		MessageInfo AsyncMessageInfo `xml:"messageInfo"`
		MessageData MessageData      `xml:"messageData"`
	} `xml:"request"`
}

// SendMessageResponse answers sendMessage once the message is durable.
type SendMessageResponse struct {
	Response struct {
		MessageID     string    `xml:"messageId"`
		CorrelationID string    `xml:"correlationId"`
		ResponseDate  time.Time `xml:"responseDate"`
		SessionID     string    `xml:"sessionId,omitempty"`
	} `xml:"response"`
}

// GetMessages polls the caller's queue for up to Amount messages.
type GetMessages struct {
	Request struct {
		MessageID     string      `xml:"messageId,omitempty"`
		CorrelationID string      `xml:"correlationId,omitempty"`
		RequestDate   *time.Time  `xml:"requestDate,omitempty"`
		ServiceID     string      `xml:"serviceId"`
		Sender        *SenderInfo `xml:"sender,omitempty"`
		Amount        int         `xml:"amount,omitempty"`
		Properties    []Property  `xml:"properties,omitempty"`
	} `xml:"request"`
}

// GetMessagesResponse hands out leased messages.
type GetMessagesResponse struct {
	Response struct {
		ResponseDate time.Time      `xml:"responseDate"`
		SessionID    string         `xml:"sessionId,omitempty"`
		Messages     []AsyncMessage `xml:"messages,omitempty"`
	} `xml:"response"`
}

// SendDeliveryNotification confirms (DELIVERED) or refuses (NOT_DELIVERED)
// a leased message.
type SendDeliveryNotification struct {
	Request struct {
		Notification DeliveryNotification `xml:"notification"`
		RequestDate  time.Time            `xml:"requestDate"`
		Sender       *SenderInfo          `xml:"sender,omitempty"`
	} `xml:"request"`
}

// SendDeliveryNotificationResponse acknowledges a notification.
type SendDeliveryNotificationResponse struct {
	Response struct {
		NotificationID string    `xml:"notificationId"`
		ResponseDate   time.Time `xml:"responseDate"`
		SessionID      string    `xml:"sessionId,omitempty"`
	} `xml:"response"`
}

// GetMessageStatus asks for the delivery state of a message.
type GetMessageStatus struct {
	Request struct {
		MessageID   string     `xml:"messageId"`
		RequestDate time.Time  `xml:"requestDate"`
		Sender      SenderInfo `xml:"sender"`
		Properties  []Property `xml:"properties,omitempty"`
	} `xml:"request"`
}

// GetMessageStatusResponse reports the state, its time and, as properties,
// the delivery count and the times of each transition.
type GetMessageStatusResponse struct {
	Response struct {
		MessageState MessageState      `xml:"messageState"`
		Status       MessageStatusInfo `xml:"status"`
		ResponseDate time.Time         `xml:"responseDate"`
		SessionID    string            `xml:"sessionId,omitempty"`
		Properties   []Property        `xml:"properties,omitempty"`
	} `xml:"response"`
}

// SyncMessageInfo is the header of a synchronous request.
type SyncMessageInfo struct {
	MessageID     string     `xml:"messageId"`
	CorrelationID string     `xml:"correlationId,omitempty"`
	ServiceID     string     `xml:"serviceId"`
	MessageDate   time.Time  `xml:"messageDate"`
	RouteID       string     `xml:"routeId,omitempty"`
	Sender        SenderInfo `xml:"sender"`
	Properties    []Property `xml:"properties,omitempty"`
	SessionID     string     `xml:"sessionId,omitempty"`
}

// SyncSendMessage is the synchronous channel's SendMessage.
type SyncSendMessage struct {
	Request struct {
		RequestInfo SyncMessageInfo `xml:"requestInfo"`
		RequestData MessageData     `xml:"requestData"`
	} `xml:"request"`
}

// SyncMessageInfoResponse is the header of a synchronous answer.
type SyncMessageInfoResponse struct {
	MessageID     string     `xml:"messageId"`
	CorrelationID string     `xml:"correlationId,omitempty"`
	ResponseDate  time.Time  `xml:"responseDate"`
	Status        StatusInfo `xml:"status"`
	SessionID     string     `xml:"sessionId,omitempty"`
}

// SyncSendMessageResponse is the synchronous answer.
type SyncSendMessageResponse struct {
	Response struct {
		ResponseInfo SyncMessageInfoResponse `xml:"responseInfo"`
		ResponseData MessageData             `xml:"responseData"`
	} `xml:"response"`
}

// Fault is a SOAP 1.1 fault whose detail is SHEP's ErrorInfo, wrapped in
// the operation's fault element.
type Fault struct {
	// Operation names the fault element: sendMessage, getMessages,
	// sendDeliveryNotification, getMessageStatus or SendMessage (sync).
	Operation string
	// Client is true for the caller's mistakes (faultcode S:Client).
	Client bool
	Info   ErrorInfo
}

func (f *Fault) Error() string {
	return f.Info.ErrorCode + ": " + f.Info.ErrorMessage
}
