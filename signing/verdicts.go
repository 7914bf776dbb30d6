package signing

import (
	"sync"

	"github.com/beevik/etree"
)

// verdictCache remembers documents that verified, by the SHA-256 of their
// exact bytes. In one process the portal, the bus and the labour-market
// system verify the same signed request, and the bus and the portal the same
// signed result; with a shared Verifier only the first of them pays for
// canonicalisation and the RSA check. What can change between two
// verifications of the same bytes is re-checked on every hit: the chain's
// validity at that moment and revocation. Failures are never remembered.
//
// The cache holds two generations bounded by document bytes: when the
// current one is full it becomes the previous one and the oldest is dropped,
// so memory stays bounded and a miss only costs a full verification.
type verdictCache struct {
	mu        sync.Mutex
	cur, prev map[[32]byte]*verdict
	curBytes  int
}

type verdict struct {
	shape   signatureShape
	element *etree.Element // the verified content; handed out as detached copies only
}

// verdictGenerationBytes bounds one generation by the documents' size. A
// remembered verdict takes about 1.6 times its document's bytes (the
// element and the signer's certificate), so the cache holds at most some
// 50 MiB; 16 MiB is about 5,000 requests with their results, which covers
// the time between the portal's verification and the labour-market
// system's with a backlog of several seconds at 1,000 requests a second.
const verdictGenerationBytes = 16 << 20

func (c *verdictCache) get(k [32]byte) (*verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	return v, ok
}

func (c *verdictCache) put(k [32]byte, size int, v *verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.curBytes+size > verdictGenerationBytes {
		c.prev, c.cur, c.curBytes = c.cur, make(map[[32]byte]*verdict), 0
	}
	c.cur[k] = v
	c.curBytes += size
}

// detachedCopy deep-copies e so that nothing in the copy points into e.
// etree's Copy leaves every attribute linked to the original element, which
// would let a caller's copy keep a remembered tree alive and reach it.
func detachedCopy(e *etree.Element) *etree.Element {
	c := e.Copy()
	relinkAttrs(c)
	return c
}

func relinkAttrs(e *etree.Element) {
	attrs := e.Attr
	e.Attr = make([]etree.Attr, 0, len(attrs))
	for _, a := range attrs {
		e.CreateAttr(a.FullKey(), a.Value)
	}
	for _, child := range e.ChildElements() {
		relinkAttrs(child)
	}
}
