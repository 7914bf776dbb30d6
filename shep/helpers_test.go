package shep_test

import "github.com/redis/go-redis/v9"

// redisXAdd re-adds an evidence entry under a chosen stream id.
type redisXAdd = redis.XAddArgs
