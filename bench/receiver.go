package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Pair is one (event, webhook) delivery.
type Pair struct {
	EventID   string
	WebhookID string
}

// Behaviour of an endpoint.
type Behaviour int

const (
	Healthy  Behaviour = iota
	Slow               // answers after SlowDelay
	Refusing           // nothing listens
)

// SlowDelay is how long a slow endpoint takes to answer.
const SlowDelay = 2 * time.Second

// Receivers are loopback endpoints that record when each pair first (and
// again) arrives. Endpoint i is at Path(i).
type Receivers struct {
	server  *http.Server
	addr    string
	refused string // an address nothing listens on
	mu      sync.Mutex
	got     map[Pair][]time.Time
	slow    map[int]bool
	total   int
}

// NewReceivers listens on a loopback port; slow lists slow endpoints.
func NewReceivers(slow []int) (*Receivers, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		return nil, err
	}
	refused := dead.Addr().String()
	dead.Close() // keep the port, close the listener: connections are refused
	r := &Receivers{addr: l.Addr().String(), refused: refused, got: map[Pair][]time.Time{}, slow: map[int]bool{}}
	for _, i := range slow {
		r.slow[i] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /e/{i}", r.handle)
	r.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

func (r *Receivers) handle(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	_, _ = io.Copy(io.Discard, req.Body)
	p := Pair{EventID: req.Header.Get("webhook-id"), WebhookID: req.Header.Get("X-TidySupport-Webhook-Id")}
	i, _ := strconv.Atoi(req.PathValue("i"))
	if r.slow[i] {
		time.Sleep(SlowDelay) // the endpoint under test is slow, by design
	}
	r.mu.Lock()
	r.got[p] = append(r.got[p], at)
	r.total++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// URL returns endpoint i's URL; a refusing endpoint gets an address
// nothing listens on.
func (r *Receivers) URL(i int, b Behaviour) string {
	if b == Refusing {
		return fmt.Sprintf("http://%s/e/%d", r.refused, i)
	}
	return fmt.Sprintf("http://%s/e/%d", r.addr, i)
}

// Arrivals returns a copy of what arrived so far.
func (r *Receivers) Arrivals() map[Pair][]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Pair][]time.Time, len(r.got))
	for k, v := range r.got {
		out[k] = append([]time.Time(nil), v...)
	}
	return out
}

// Count returns how many requests arrived.
func (r *Receivers) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Reset forgets every arrival.
func (r *Receivers) Reset() {
	r.mu.Lock()
	r.got = map[Pair][]time.Time{}
	r.total = 0
	r.mu.Unlock()
}

// Close stops the endpoints.
func (r *Receivers) Close() error { return r.server.Close() }
