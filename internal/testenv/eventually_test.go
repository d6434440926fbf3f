package testenv

import (
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	n := 0
	if !Eventually(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("a condition true on the third look: held %v after %d looks", n == 3, n)
	}
	began := time.Now()
	if Eventually(200*time.Millisecond, func() bool { return false }) {
		t.Error("a condition never true held")
	}
	if waited := time.Since(began); waited < 200*time.Millisecond || waited > 2*time.Second {
		t.Errorf("gave up after %s, want about 200ms", waited)
	}
}
