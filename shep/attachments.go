package shep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"egov/shep/soap"
)

// Errors of the attachment store.
var (
	ErrUnauthorized = errors.New("shep: sender is not registered or password is wrong")
	ErrForbidden    = errors.New("shep: attachment is not readable by this system")
	ErrNotFound     = errors.New("shep: no such attachment")
	ErrTooLarge     = errors.New("shep: attachment exceeds the size limit")
)

func (b *Bus) attachmentKeys(sum string) (data, readers string) {
	tag := "{" + sum + "}"
	return b.key("att", tag, "data"), b.key("att", tag, "readers")
}

// AttachmentRef is how an envelope names stored bytes: "sha256:<hex>".
func AttachmentRef(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func parseRef(ref string) (string, bool) {
	hexSum, ok := strings.CutPrefix(ref, "sha256:")
	if !ok || len(hexSum) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(hexSum); err != nil {
		return "", false
	}
	return strings.ToLower(hexSum), true
}

// PutAttachment stores bytes under their SHA-256 for AttachmentTTL and
// returns the reference to put in a message. The uploader may read them
// back; a message's recipient may read them once the message is sent.
func (b *Bus) PutAttachment(ctx context.Context, sender soap.SenderInfo, data []byte) (string, error) {
	if _, f := b.authenticate("sendMessage", sender); f != nil {
		return "", ErrUnauthorized
	}
	if int64(len(data)) > b.cfg.MaxAttachment {
		return "", ErrTooLarge
	}
	ref := AttachmentRef(data)
	sum, _ := parseRef(ref)
	dataKey, readersKey := b.attachmentKeys(sum)
	pipe := b.rdb.TxPipeline()
	pipe.Set(ctx, dataKey, data, b.cfg.AttachmentTTL)
	pipe.SAdd(ctx, readersKey, sender.SenderID)
	pipe.Expire(ctx, readersKey, b.cfg.AttachmentTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", err
	}
	return ref, nil
}

// GetAttachment returns stored bytes to a system allowed to read them.
func (b *Bus) GetAttachment(ctx context.Context, sender soap.SenderInfo, ref string) ([]byte, error) {
	if _, f := b.authenticate("getMessages", sender); f != nil {
		return nil, ErrUnauthorized
	}
	sum, ok := parseRef(ref)
	if !ok {
		return nil, ErrNotFound
	}
	dataKey, readersKey := b.attachmentKeys(sum)
	allowed, err := b.rdb.SIsMember(ctx, readersKey, sender.SenderID).Result()
	if err != nil {
		return nil, err
	}
	if !allowed {
		// Missing and forbidden look alike to outsiders.
		return nil, ErrForbidden
	}
	data, err := b.rdb.Get(ctx, dataKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return data, err
}

// checkAttachments refuses a message whose ATTACHMENT references name
// bytes that are not in the store, not uploaded by the sender, or whose
// stored bytes do not hash to the reference.
func (b *Bus) checkAttachments(ctx context.Context, op string, info soap.AsyncMessageInfo) ([]string, *soap.Fault) {
	var sums []string
	for _, p := range info.Properties {
		if p.Key != PropAttachment {
			continue
		}
		sum, ok := parseRef(p.Value)
		if !ok {
			return nil, b.fault(op, soap.CodeFormat, "attachment reference %q is not sha256:<64 hex digits>", p.Value)
		}
		dataKey, readersKey := b.attachmentKeys(sum)
		own, err := b.rdb.SIsMember(ctx, readersKey, info.Sender.SenderID).Result()
		if err != nil {
			return nil, b.internal(op, err)
		}
		data, err := b.rdb.Get(ctx, dataKey).Bytes()
		if errors.Is(err, redis.Nil) || (err == nil && !own) {
			return nil, b.fault(op, soap.CodeFormat, "attachment %s is not in the store", p.Value)
		}
		if err != nil {
			return nil, b.internal(op, err)
		}
		if AttachmentRef(data) != "sha256:"+sum {
			return nil, b.fault(op, soap.CodeFormat, "attachment %s: stored bytes do not match the reference", p.Value)
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

// grantAttachments lets the recipient read the message's attachments and
// keeps them for another AttachmentTTL. Each attachment has a hash tag of
// its own: a pipeline, not a transaction (on a cluster, one that spans
// slots is refused); a grant half done is done again by the sender's retry.
func (b *Bus) grantAttachments(ctx context.Context, sums []string, recipient string) error {
	pipe := b.rdb.Pipeline()
	for _, sum := range sums {
		dataKey, readersKey := b.attachmentKeys(sum)
		pipe.SAdd(ctx, readersKey, recipient)
		pipe.Expire(ctx, readersKey, b.cfg.AttachmentTTL)
		pipe.Expire(ctx, dataKey, b.cfg.AttachmentTTL)
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		return fmt.Errorf("grant attachments: %w", err)
	}
	return nil
}
