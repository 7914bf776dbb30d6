package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
)

// CabinetMessage is one message of a citizen's personal cabinet.
type CabinetMessage struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // accepted, status, access, result, refusal
	RequestID string    `json:"requestId,omitempty"`
	At        time.Time `json:"at"`
	Title     Names     `json:"title"`
	Text      Names     `json:"text"`
	Read      bool      `json:"read"`
	// HasDocument says a signed document (the result) can be downloaded.
	HasDocument bool `json:"hasDocument"`
	// Data holds kind-specific details (due date, registration number, …).
	Data map[string]string `json:"data,omitempty"`
}

func (a *App) cabinetKeys(iin string) (index, unread string) {
	return a.citizenKey(iin, "cabinet"), a.citizenKey(iin, "cabinet", "unread")
}

func (a *App) cabinetMessageKey(iin, id string) string { return a.citizenKey(iin, "cabinet", "m", id) }

// cabinetSeqKey numbers a citizen's messages: the index is ordered by it,
// so that pages never split or repeat messages filed in the same
// millisecond.
func (a *App) cabinetSeqKey(iin string) string { return a.citizenKey(iin, "cabinet", "seq") }

// cabinetSeq reserves n sequence numbers and returns the first.
func (a *App) cabinetSeq(ctx context.Context, iin string, n int) (int64, error) {
	last, err := a.rdb.IncrBy(ctx, a.cabinetSeqKey(iin), int64(n)).Result()
	return last - int64(n) + 1, err
}

// fileMessage adds a message with sequence number seq to a cabinet inside
// the caller's transaction.
func (a *App) fileMessage(ctx context.Context, tx redis.Pipeliner, iin string, seq int64, m CabinetMessage, document string) {
	index, unread := a.cabinetKeys(iin)
	body, _ := json.Marshal(m)
	key := a.cabinetMessageKey(iin, m.ID)
	tx.HSet(ctx, key, "message", body, "document", document)
	tx.ZAdd(ctx, index, redis.Z{Score: float64(seq), Member: m.ID})
	tx.SAdd(ctx, unread, m.ID)
}

// CabinetPage is one page of messages, newest first.
type CabinetPage struct {
	Messages []CabinetMessage `json:"messages"`
	Unread   int64            `json:"unread"`
	// Next is the cursor of the following page, "" on the last one.
	Next string `json:"next,omitempty"`
}

// Cabinet returns up to limit messages older than cursor ("" for the
// newest), only unread ones if asked.
func (a *App) Cabinet(ctx context.Context, iin, cursor string, limit int, unreadOnly bool) (*CabinetPage, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	index, unread := a.cabinetKeys(iin)
	max := "+inf"
	if cursor != "" {
		ms, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, egov.Errorf(egov.CodeFormInvalid, "cursor")
		}
		max = "(" + strconv.FormatInt(ms, 10)
	}
	page := &CabinetPage{}
	var err error
	if page.Unread, err = a.rdb.SCard(ctx, unread).Result(); err != nil {
		return nil, err
	}
	for len(page.Messages) < limit {
		zs, err := a.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: index, Start: max, Stop: "-inf",
			ByScore: true, Rev: true, Count: int64(limit + 1)}).Result()
		if err != nil {
			return nil, err
		}
		if len(zs) == 0 {
			return page, nil
		}
		pipe := a.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(zs))
		ids := make([]any, len(zs))
		for i, z := range zs {
			ids[i] = z.Member
			cmds[i] = pipe.HGet(ctx, a.cabinetMessageKey(iin, z.Member.(string)), "message")
		}
		unreadFlags := pipe.SMIsMember(ctx, unread, ids...)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for i, z := range zs {
			if len(page.Messages) == limit {
				// One more exists: the page ends before it.
				page.Next = strconv.FormatInt(int64(zs[i-1].Score), 10)
				return page, nil
			}
			max = "(" + strconv.FormatInt(int64(z.Score), 10)
			var m CabinetMessage
			if err := json.Unmarshal([]byte(cmds[i].Val()), &m); err != nil {
				continue
			}
			m.Read = !unreadFlags.Val()[i]
			if unreadOnly && m.Read {
				continue
			}
			page.Messages = append(page.Messages, m)
		}
		if len(zs) <= limit {
			return page, nil
		}
	}
	return page, nil
}

// CabinetMessageOf returns one message of the citizen's own cabinet and
// its document; another citizen's message is not found.
func (a *App) CabinetMessageOf(ctx context.Context, iin, id string) (*CabinetMessage, string, error) {
	vals, err := a.rdb.HMGet(ctx, a.cabinetMessageKey(iin, id), "message", "document").Result()
	if err != nil {
		return nil, "", err
	}
	body, _ := vals[0].(string)
	if body == "" {
		return nil, "", egov.Errorf(egov.CodeNotFound, "cabinet message")
	}
	var m CabinetMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return nil, "", fmt.Errorf("cabinet message %s: %w", id, err)
	}
	_, unread := a.cabinetKeys(iin)
	isUnread, err := a.rdb.SIsMember(ctx, unread, id).Result()
	if err != nil {
		return nil, "", err
	}
	m.Read = !isUnread
	doc, _ := vals[1].(string)
	return &m, doc, nil
}

// MarkRead marks one of the citizen's messages read.
func (a *App) MarkRead(ctx context.Context, iin, id string) error {
	if _, _, err := a.CabinetMessageOf(ctx, iin, id); err != nil {
		return err
	}
	_, unread := a.cabinetKeys(iin)
	return a.rdb.SRem(ctx, unread, id).Err()
}
