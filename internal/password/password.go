// Package password hashes and checks secrets with argon2id, stored as PHC
// strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash), for the portal's
// citizens and the bus's systems alike.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters for new hashes: RFC 9106's second recommendation (19 MiB, 2
// passes, 1 lane).
const (
	memory  = 19 * 1024
	passes  = 2
	threads = 1
	keyLen  = 32
)

// Hash returns an argon2id PHC string for secret.
func Hash(secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(secret), salt, passes, memory, threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memory, passes, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// Validate reports whether hash is a PHC string Check can use.
func Validate(hash string) error {
	_, err := parse(hash)
	return err
}

func parse(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return phc{}, errors.New("password hash is not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, errors.New("unsupported argon2 version")
	}
	var p phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || p.memory > 1<<20 || p.time > 16 || p.threads == 0 {
		return phc{}, errors.New("bad argon2 parameters")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return phc{}, errors.New("bad argon2 salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) == 0 {
		return phc{}, errors.New("bad argon2 hash")
	}
	return p, nil
}

// Check compares secret with a PHC hash in constant time.
func Check(hash, secret string) bool {
	p, err := parse(hash)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(secret), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}
