package shep

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/shep/soap"
)

// Paths the server answers on.
const (
	PathAsync       = "/shep/async"
	PathSync        = "/shep/sync"
	PathAttachments = "/shep/attachments/"
)

// MaxEnvelope bounds a SOAP request body.
const MaxEnvelope = 4 << 20

// Handler serves the bus over HTTP: the asynchronous and synchronous SOAP
// channels, the attachment store (PUT to upload, GET to read, HTTP Basic
// authentication with senderId and password) and /healthz. Its metrics
// are for a listener of their own (MetricsHandler).
//
// Every request is logged at INFO (ops.AccessLog: method, route, status,
// duration, bytes, request id) and counted; /livez, /readyz and /healthz
// (the old name of /readyz) answer in the stack's one shape (ops.Report),
// readiness asking Redis and Config.Ready.
func (b *Bus) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathAsync, b.serveSOAP)
	mux.HandleFunc("POST "+PathSync, b.serveSOAP)
	mux.HandleFunc("PUT "+PathAttachments, b.servePutAttachment)
	mux.HandleFunc("POST "+PathAttachments, b.servePutAttachment)
	mux.HandleFunc("GET "+PathAttachments+"{ref}", b.serveGetAttachment)
	ops.Probes(mux, b.ReadyChecks())
	m := b.metrics
	return ops.AccessLog(b.cfg.Log, mux, func(route string, status int, took time.Duration) {
		m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		m.httpLatency.WithLabelValues(route).Observe(took.Seconds())
	})
}

// ReadyChecks are the checks of the bus's readiness: Redis, then
// Config.Ready.
func (b *Bus) ReadyChecks() []ops.Check {
	return append([]ops.Check{ops.RedisCheck(b.rdb)}, b.cfg.Ready...)
}

// Collectors are the bus's metrics, to register where a program serves
// its metrics.
func (b *Bus) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b, b.metrics.httpRequests, b.metrics.httpLatency}
}

// MetricsHandler serves the bus's metrics with the process's at /metrics,
// with the probes, for a listener of their own.
func (b *Bus) MetricsHandler() http.Handler {
	reg := ops.NewRegistry()
	reg.MustRegister(b.Collectors()...)
	return ops.Handler(b.ReadyChecks(), reg)
}

func (b *Bus) serveSOAP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEnvelope))
	if httpguard.IsTooSlow(err) {
		writeSOAP(w, http.StatusRequestTimeout, b.fault("sendMessage", soap.CodeFormat, "envelope sent slower than the minimum rate"))
		return
	}
	if err != nil {
		writeSOAP(w, http.StatusRequestEntityTooLarge, b.fault("sendMessage", soap.CodeFormat, "envelope larger than %d bytes", MaxEnvelope))
		return
	}
	msg, err := soap.Decode(body)
	if err != nil {
		op := "sendMessage" // the fault element when the Body's operation is unknown
		var fe *soap.FormatError
		if errors.As(err, &fe) && fe.Operation != "" {
			op = fe.Operation
		}
		writeSOAP(w, http.StatusBadRequest, b.fault(op, soap.CodeFormat, "%v", err))
		return
	}
	// The header and the path must agree with the Body: whatever routes or
	// logs by them (a proxy, an access log) must not see another operation
	// than the one the bus carries out.
	if err := soap.CheckAction(r.Header.Values("SOAPAction"), msg); err != nil {
		writeSOAP(w, http.StatusBadRequest, b.fault(soap.FaultOperation(msg), soap.CodeFormat, "%v", err))
		return
	}
	if reason := wrongChannel(r.URL.Path, msg); reason != "" {
		writeSOAP(w, http.StatusBadRequest, b.fault(soap.FaultOperation(msg), soap.CodeFormat, "%s", reason))
		return
	}
	var resp any
	switch m := msg.(type) {
	case *soap.SendMessage:
		resp, err = b.SendMessage(r.Context(), m)
	case *soap.GetMessages:
		resp, err = b.GetMessages(r.Context(), m)
	case *soap.SendDeliveryNotification:
		resp, err = b.SendDeliveryNotification(r.Context(), m)
	case *soap.GetMessageStatus:
		resp, err = b.GetMessageStatus(r.Context(), m)
	case *soap.SyncSendMessage:
		resp, err = b.SendSync(r.Context(), m)
	default:
		err = b.fault(soap.FaultOperation(msg), soap.CodeFormat, "%s is not a request", soap.OperationName(msg))
	}
	if err != nil {
		var f *soap.Fault
		if !errors.As(err, &f) {
			if errors.Is(err, context.Canceled) {
				return // the caller went away
			}
			f = b.internal(soap.FaultOperation(msg), err)
		}
		status := http.StatusInternalServerError
		if f.Client {
			status = http.StatusBadRequest
		}
		writeSOAP(w, status, f)
		return
	}
	writeSOAP(w, http.StatusOK, resp)
}

// wrongChannel says why a request was posted to the wrong channel's path,
// or returns "".
func wrongChannel(path string, msg any) string {
	switch msg.(type) {
	case *soap.SyncSendMessage:
		if path != PathSync {
			return "SendMessage belongs to the synchronous channel, " + PathSync
		}
	case *soap.SendMessage, *soap.GetMessages, *soap.SendDeliveryNotification, *soap.GetMessageStatus:
		if path != PathAsync {
			return soap.OperationName(msg) + " belongs to the asynchronous channel, " + PathAsync
		}
	}
	return ""
}

func writeSOAP(w http.ResponseWriter, status int, v any) {
	data, err := soap.Encode(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", soap.ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (b *Bus) servePutAttachment(w http.ResponseWriter, r *http.Request) {
	sender, ok := basicSender(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="shep"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.cfg.MaxAttachment))
	if err != nil {
		http.Error(w, ErrTooLarge.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	ref, err := b.PutAttachment(r.Context(), sender, data)
	if err != nil {
		writeAttachmentError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"ref": ref, "size": len(data)})
}

func (b *Bus) serveGetAttachment(w http.ResponseWriter, r *http.Request) {
	sender, ok := basicSender(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="shep"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	data, err := b.GetAttachment(r.Context(), sender, r.PathValue("ref"))
	if err != nil {
		writeAttachmentError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

func writeAttachmentError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		http.Error(w, err.Error(), http.StatusUnauthorized)
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrNotFound):
		http.Error(w, "no such attachment for this system", http.StatusNotFound)
	case errors.Is(err, ErrTooLarge):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func basicSender(r *http.Request) (soap.SenderInfo, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || strings.TrimSpace(user) == "" {
		return soap.SenderInfo{}, false
	}
	return soap.SenderInfo{SenderID: user, Password: pass}, true
}
