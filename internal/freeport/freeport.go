// Package freeport finds free TCP ports below 32768, the only ones
// Temporal's SQL persistence can store (its cluster-membership table keeps
// ports as SMALLINT). The embedded server, the benchmark and the tests
// that start processes pick their ports here.
package freeport

import (
	"errors"
	"net"
	"strconv"
	"time"
)

// Block returns the first of n consecutive ports free on ip, all below
// 32768, starting the search at a point that varies with the time so that
// processes looking at once rarely pick the same. A port found free may
// still be taken by another process before its caller binds it.
func Block(ip string, n int) (int, error) {
	return BlockFunc(ip, n, nil)
}

// BlockFunc is Block skipping every block whose first port skip refuses.
func BlockFunc(ip string, n int, skip func(first int) bool) (int, error) {
	if n < 1 {
		return 0, errors.New("freeport: want at least one port")
	}
	for first := 20000 + int(time.Now().UnixNano()%10000); first+n <= 32768; first += n {
		if skip != nil && skip(first) {
			continue
		}
		if free(ip, first, n) {
			return first, nil
		}
	}
	return 0, errors.New("freeport: no free ports below 32768")
}

// free reports whether ports first … first+n-1 can all be listened on.
func free(ip string, first, n int) bool {
	for p := first; p < first+n; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
