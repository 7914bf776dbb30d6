// Package redisscript makes the Lua scripts of the code base and keeps a
// list of them, so that a test can check each ran where it must (make
// test's cluster pass: on a Redis Cluster, where a key of another slot
// fails a script).
package redisscript

import (
	"crypto/sha1"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Script is one script made by New: where it is made and its SHA-1, the
// name Redis knows it by.
type Script struct {
	Where string // file:line of the New call
	SHA   string
}

var (
	mu  sync.Mutex
	all []Script
)

// New is redis.NewScript, the script noted in All.
func New(src string) *redis.Script {
	_, file, line, _ := runtime.Caller(1)
	sum := sha1.Sum([]byte(src))
	mu.Lock()
	all = append(all, Script{Where: file + ":" + strconv.Itoa(line), SHA: hex.EncodeToString(sum[:])})
	mu.Unlock()
	return redis.NewScript(src)
}

// All lists the scripts made so far: those of the packages the program
// imports, made when they initialise.
func All() []Script {
	mu.Lock()
	defer mu.Unlock()
	return append([]Script(nil), all...)
}
