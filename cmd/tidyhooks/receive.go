package main

import (
	"context"
	"crypto/hmac"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidysupport/tidyhooks/signing"
)

// runReceive is a local endpoint for trying webhooks out: it answers 200 to
// every POST and prints what arrived, checking the signature when given
// the webhook's secret.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tidyhooks receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := fs.String("secret", "", "the webhook's secret (whsec_…), to verify signatures")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if *secret != "" {
		if err := signing.ValidateSecret(*secret); err != nil {
			return fmt.Errorf("--secret: %w", err)
		}
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "Receiving on http://%s/ (any path)\n", l.Addr())
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		verdict := "not checked (no --secret)"
		if *secret != "" {
			verdict = verify(*secret, r.Header, body)
		}
		mu.Lock()
		fmt.Fprintf(stdout, "%s %s  event=%s  webhook-id=%s  attempt=%s  signature %s\n  %s\n",
			time.Now().Format(time.TimeOnly), r.URL.Path, r.Header.Get("X-TidySupport-Event"),
			r.Header.Get("webhook-id"), r.Header.Get("X-TidySupport-Attempt"), verdict, body)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	return serveHTTP(ctx, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, l, 10*time.Second)
}

func verify(secret string, h http.Header, body []byte) string {
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return "INVALID (bad webhook-timestamp)"
	}
	want, err := signing.Signature(secret, h.Get("webhook-id"), time.Unix(ts, 0), body)
	if err != nil {
		return "INVALID (" + err.Error() + ")"
	}
	for _, got := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(got), []byte(want)) {
			return "ok"
		}
	}
	return "INVALID (no matching v1 signature)"
}
