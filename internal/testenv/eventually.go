package testenv

import "time"

// PollInterval is how often Eventually looks again.
const PollInterval = 50 * time.Millisecond

// Eventually calls cond every PollInterval until it returns true or
// timeout has passed, and reports whether it did: the one wait-and-poll
// loop of the tests, whose callers say what they waited for when it fails.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}
