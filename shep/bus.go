// Package shep is the simulated government gateway bus (ШЭП): routing of
// services to recipient systems, durable queues that recipients poll, an
// acknowledgement protocol with redelivery and dead letters, a synchronous
// channel, an attachment store, and a hash-chained evidence log. Its wire
// contract is in shep/soap; Client is how the other systems talk to it,
// over HTTP or in process.
package shep

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"egov"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/shep/soap"
	"egov/signing"
)

// Client is what a system connected to the bus can do. Refusals are
// returned as *soap.Fault errors. The in-process *Bus and the HTTP
// *HTTPClient both implement it.
type Client interface {
	SendMessage(ctx context.Context, req *soap.SendMessage) (*soap.SendMessageResponse, error)
	GetMessages(ctx context.Context, req *soap.GetMessages) (*soap.GetMessagesResponse, error)
	SendDeliveryNotification(ctx context.Context, req *soap.SendDeliveryNotification) (*soap.SendDeliveryNotificationResponse, error)
	GetMessageStatus(ctx context.Context, req *soap.GetMessageStatus) (*soap.GetMessageStatusResponse, error)
	SendSync(ctx context.Context, req *soap.SyncSendMessage) (*soap.SyncSendMessageResponse, error)
	PutAttachment(ctx context.Context, sender soap.SenderInfo, data []byte) (string, error)
	GetAttachment(ctx context.Context, sender soap.SenderInfo, ref string) ([]byte, error)
}

// Message properties the bus understands.
const (
	// PropIdempotencyKey: a repeat of a sendMessage with the same key from
	// the same sender is answered with the first answer.
	PropIdempotencyKey = "IDEMPOTENCY_KEY"
	// PropEOL: RFC 3339 end of life; an expired message is not delivered.
	PropEOL = "EOL"
	// PropAttachment: "sha256:<hex>", a reference into the attachment store.
	PropAttachment = "ATTACHMENT"
	// PropWaitSeconds on getMessages: long-poll up to this long when the
	// queue is empty.
	PropWaitSeconds = "WAIT_SECONDS"
	// PropQueue on getMessages: the queue to poll, by default the caller's own.
	PropQueue = "QUEUE"
	// PropDeliveryCount on a handed-out message: how many times it was leased.
	PropDeliveryCount = "DELIVERY_COUNT"
	// PropRefusalCode on getMessageStatus of a message its recipient
	// rejected: the code the recipient gave.
	PropRefusalCode = "REFUSAL_CODE"
)

// AnyEvidenceChain asks for an evidence chain chosen at random.
const AnyEvidenceChain = -1

// Config tunes the bus; zero values take the defaults.
type Config struct {
	// KeyPrefix is put before every Redis key (tests use their own).
	KeyPrefix string
	// Durability: sendMessage answers only once the replicas asked for
	// have the message (WAIT); otherwise SCE909, and the sender's retry
	// with its idempotency key finds the message if the master kept it.
	Durability redisconn.Durability
	// Visibility is how long a lease lasts before the message is handed
	// out again (default 30 s).
	Visibility time.Duration
	// MaxDeliveries is how many leases a message gets before it is
	// dead-lettered as DELIVERY_STOPPED (default 5).
	MaxDeliveries int
	// RefusalDelay is how long a refused message (NOT_DELIVERED) waits
	// before it is handed out again; it doubles with every delivery, up to
	// Visibility (default 1 s). A recipient that refuses because a
	// dependency is down must not spend its deliveries in a millisecond.
	RefusalDelay time.Duration
	// MaxWait caps a long poll (default 30 s).
	MaxWait time.Duration
	// PollSlice is the longest single blocking read of a long poll
	// (default 1 s); tests shorten it.
	PollSlice time.Duration
	// MaxAmount caps getMessages' amount (default 500).
	MaxAmount int
	// IdempotencyTTL is how long an idempotency key is remembered (default 24 h).
	IdempotencyTTL time.Duration
	// KeepConfirmed and MaxConfirmed bound how long and how many confirmed
	// messages stay readable for status queries (default 7 days, 100 000
	// per recipient); Trim enforces them.
	KeepConfirmed time.Duration
	MaxConfirmed  int
	// MaxAttachment bounds one attachment (default 20 MiB) and
	// AttachmentTTL its life in the store (default 7 days).
	MaxAttachment int64
	AttachmentTTL time.Duration
	// EvidenceChain is the evidence chain this process appends its records
	// to, 0 to EvidenceChains-1, or AnyEvidenceChain for one chosen at
	// random at start. Bus processes on different chains never wait for
	// each other's evidence writes.
	EvidenceChain int
	// Verifier checks business-data signatures where the routing asks for it.
	Verifier *signing.Verifier
	// Ready lists the checks of /readyz besides Redis (revocation data).
	Ready []ops.Check
	// Now is the bus's clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Visibility <= 0 {
		c.Visibility = 30 * time.Second
	}
	if c.RefusalDelay <= 0 {
		c.RefusalDelay = time.Second
	}
	if c.MaxDeliveries <= 0 {
		c.MaxDeliveries = 5
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 30 * time.Second
	}
	if c.PollSlice <= 0 {
		c.PollSlice = time.Second
	}
	if c.MaxAmount <= 0 {
		c.MaxAmount = 500
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.KeepConfirmed <= 0 {
		c.KeepConfirmed = 7 * 24 * time.Hour
	}
	if c.MaxConfirmed <= 0 {
		c.MaxConfirmed = 100_000
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = 20 << 20
	}
	if c.AttachmentTTL <= 0 {
		c.AttachmentTTL = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// SyncHandler answers the synchronous requests of one service with the
// business data of the response.
type SyncHandler interface {
	HandleSync(ctx context.Context, req *soap.SyncSendMessage) (data string, err error)
}

// Bus is the SHEP bus on one Redis. It is safe for concurrent use and
// implements Client.
type Bus struct {
	cfg       Config
	rdb       redis.UniversalClient
	routing   *Routing
	evidence  *evidenceLog
	enqueuer  *groupCommit[enqueueItem, enqueueResult]
	confirmer *groupCommit[confirmItem, string]
	metrics   *busMetrics

	mu   sync.RWMutex
	sync map[string]SyncHandler

	auth    sync.Map // senderId → sha256 of the last password that passed argon2id
	refused sync.Map // sha256 of sender and password → time of a failed check
	argon   singleflight.Group
	groups  sync.Map // stream key → struct{}: consumer group known to exist
	// reclaimAfter: stream key → time before which polls skip looking for
	// expired leases (XAUTOCLAIM), at most a tenth of the visibility timeout.
	reclaimAfter sync.Map
}

// New returns a bus; Close stops its evidence writer.
func New(rdb redis.UniversalClient, routing *Routing, cfg Config) (*Bus, error) {
	if err := routing.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.EvidenceChain == AnyEvidenceChain {
		cfg.EvidenceChain = rand.IntN(EvidenceChains)
	}
	if cfg.EvidenceChain < 0 || cfg.EvidenceChain >= EvidenceChains {
		return nil, fmt.Errorf("shep: evidence chain %d: there are chains 0 to %d", cfg.EvidenceChain, EvidenceChains-1)
	}
	b := &Bus{cfg: cfg, rdb: rdb, routing: routing, sync: map[string]SyncHandler{}, metrics: newBusMetrics()}
	b.evidence = newEvidenceLog(rdb, cfg.KeyPrefix, cfg.EvidenceChain)
	b.enqueuer = newGroupCommit(256, b.flushEnqueue)
	b.confirmer = newGroupCommit(256, b.flushConfirm)
	return b, nil
}

// Close finishes the writes in flight and stops the bus's writers.
func (b *Bus) Close() error {
	b.enqueuer.close()
	b.confirmer.close()
	b.evidence.close()
	return nil
}

// Routing returns the routing table the bus runs on.
func (b *Bus) Routing() *Routing { return b.routing }

// HandleSync registers the handler of a synchronous service.
func (b *Bus) HandleSync(serviceID string, h SyncHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sync[serviceID] = h
}

// fault builds a SHEP fault with the bus's clock.
func (b *Bus) fault(op, code, format string, args ...any) *soap.Fault {
	return soap.NewFault(op, code, fmt.Sprintf(format, args...), b.cfg.Now())
}

// internal logs an internal failure and answers SCE909 without details.
func (b *Bus) internal(op string, err error) *soap.Fault {
	b.cfg.Log.Error("shep: internal error", "op", op, "err", err)
	return soap.NewFault(op, soap.CodeInternal, "", b.cfg.Now())
}

// refusedFor is how long a wrong password is answered from memory, so that
// guessing costs the guesser a round trip and the bus nothing.
const refusedFor = time.Minute

// authenticate checks a system's credentials. argon2id runs once per
// distinct password (concurrent calls share it); later calls compare a
// SHA-256 of it in constant time, so a polling system does not pay 20 ms
// per call, and a wrong password is refused from memory for a minute.
func (b *Bus) authenticate(op string, s soap.SenderInfo) (*System, *soap.Fault) {
	sys := b.routing.Systems[s.SenderID]
	if sys == nil {
		return nil, b.fault(op, soap.CodeUnknownService, "sender is not registered or password is wrong")
	}
	sum := sha256.Sum256([]byte(sys.PasswordHash + "\x00" + s.Password))
	if v, ok := b.auth.Load(s.SenderID); ok {
		known := v.([32]byte)
		if subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
			return sys, nil
		}
	}
	if at, ok := b.refused.Load(sum); ok && time.Since(at.(time.Time)) < refusedFor {
		return nil, b.fault(op, soap.CodeUnknownService, "sender is not registered or password is wrong")
	}
	ok, _, _ := b.argon.Do(string(sum[:]), func() (any, error) {
		return checkPassword(sys.PasswordHash, s.Password), nil
	})
	if !ok.(bool) {
		b.refused.Store(sum, time.Now())
		return nil, b.fault(op, soap.CodeUnknownService, "sender is not registered or password is wrong")
	}
	b.refused.Delete(sum)
	b.auth.Store(s.SenderID, sum)
	return sys, nil
}

// authenticateOptional is authenticate for operations whose contract makes
// the sender optional: the bus requires it all the same.
func (b *Bus) authenticateOptional(op string, s *soap.SenderInfo) (*System, *soap.Fault) {
	if s == nil {
		return nil, b.fault(op, soap.CodeFormat, "sender is required")
	}
	return b.authenticate(op, *s)
}

// checkSignature verifies the business data where routing asks for it and
// maps refusals to SCE015–SCE017. A document of the sender's organisation
// (byOrganisation: a RESPONSE, or a REQUEST of a service SignedBySender)
// must also carry the authority of the sender's signer policy, if
// it has one: its BIN and one of its roles; without it the document is
// refused with SCE016 naming bin-mismatch or signer-not-authorised.
func (b *Bus) checkSignature(ctx context.Context, op string, svc *Service, sender *System, data string, byOrganisation bool) *soap.Fault {
	if !svc.CheckSignature || sender.SkipSignatureCheck {
		return nil
	}
	if b.cfg.Verifier == nil {
		return b.internal(op, errors.New("signature check required but no verifier configured"))
	}
	res, err := b.cfg.Verifier.Verify(ctx, []byte(data))
	if err == nil && byOrganisation && sender.Signer != nil {
		err = res.RequireAuthority(sender.Signer.BIN, sender.Signer.Roles)
	}
	if err == nil {
		return nil
	}
	code := egov.ErrorCode(err)
	switch code {
	case egov.CodeSignatureMissing:
		return b.fault(op, soap.CodeDataUnsigned, "%s", code)
	case egov.CodeCertificateExpired, egov.CodeCertificateNotYetValid, egov.CodeCertificateRevoked,
		egov.CodeCertificateUntrusted, egov.CodeRevocationUnknown, egov.CodeKeyUsageInvalid, egov.CodeKeyTooWeak,
		egov.CodeAlgorithmGOST:
		return b.fault(op, soap.CodeDataSignatureStale, "%s", code)
	case egov.CodeInternal:
		return b.internal(op, err)
	default:
		return b.fault(op, soap.CodeDataSignatureBad, "%s", code)
	}
}

func (b *Bus) key(parts ...string) string { return busKey(b.cfg.KeyPrefix, parts...) }

func busKey(prefix string, parts ...string) string {
	k := prefix + "shep"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// queueKeys are the Redis keys of one recipient's queue; the hash tag
// keeps them in one cluster slot so that scripts may touch them together.
type queueKeys struct {
	recipient string
	stream    string // the queue
	dead      string // dead letters
	done      string // confirmation log: message ids in the order they were confirmed
	prefix    string // message records and idempotency keys start here
}

func (b *Bus) queue(recipient string) queueKeys { return queueOf(b.cfg.KeyPrefix, recipient) }

func queueOf(prefix, recipient string) queueKeys {
	tag := "{" + recipient + "}"
	return queueKeys{
		recipient: recipient,
		stream:    busKey(prefix, tag, "q"),
		dead:      busKey(prefix, tag, "dlq"),
		done:      busKey(prefix, tag, "done"),
		prefix:    busKey(prefix, tag) + ":",
	}
}

func (q queueKeys) message(id string) string { return q.prefix + "m:" + id }

func (q queueKeys) idempotency(sender, key string) string {
	return q.prefix + "idem:" + sender + ":" + key
}

const consumerGroup = "bus"
