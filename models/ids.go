package models

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is Crockford's base32 alphabet: ids sort in creation order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idState makes ids from one process strictly increasing: within one
// millisecond (or if the clock steps back) the random part is incremented.
var idState struct {
	sync.Mutex
	ms   uint64
	rand [10]byte
}

// NewID returns prefix + "_" + 26 characters: 48 bits of milliseconds then
// 80 random bits, so ids of one prefix sort by creation time.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	idState.Lock()
	if ms <= idState.ms {
		ms = idState.ms
		for i := len(idState.rand) - 1; i >= 0; i-- {
			idState.rand[i]++
			if idState.rand[i] != 0 {
				break
			}
		}
	} else {
		idState.ms = ms
		_, _ = rand.Read(idState.rand[:])
	}
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	copy(b[6:], idState.rand[:])
	idState.Unlock()

	// 128 bits -> 26 base32 characters (the first carries 3 bits).
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var chars [26]byte
	for i := 25; i >= 0; i-- {
		chars[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	out := make([]byte, 0, len(prefix)+27)
	out = append(out, prefix...)
	out = append(out, '_')
	return string(append(out, chars[:]...))
}
