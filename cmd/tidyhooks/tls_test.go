package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testcerts"
	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

// writeFile writes b to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// api and worker reach a Temporal server that serves TLS and requires a
// client certificate, configured only as the Temporal CLI is
// (TEMPORAL_TLS_* variables): with the certificate an event is delivered;
// without one the worker does not start; a certificate that cannot be read
// stops it before it starts, naming the variable.
func TestTemporalOverMutualTLS(t *testing.T) {
	ctx := context.Background()
	serverCA, clientCA := testcerts.NewCA(t, "temporal server CA"), testcerts.NewCA(t, "temporal client CA")
	serverPair := serverCA.Server(t)
	now := time.Now()
	workerPair := clientCA.Client(t, "temporal-system-worker", now.Add(-time.Hour), now.Add(24*time.Hour))
	tsrv, err := temporalserver.Start(ctx, temporalserver.Config{UIPort: -1, TLS: &temporalserver.TLS{
		CertPEM: serverPair.CertPEM, KeyPEM: serverPair.KeyPEM, ClientCAPEM: clientCA.PEM,
		WorkerCertPEM: workerPair.CertPEM, WorkerKeyPEM: workerPair.KeyPEM, RootCAPEM: serverCA.PEM, ServerName: "localhost",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tsrv.Stop() })

	dir := t.TempDir()
	ours := clientCA.Client(t, "tidyhooks", now.Add(-time.Hour), now.Add(24*time.Hour))
	certPath, keyPath := writeFile(t, dir, "client.pem", ours.CertPEM), writeFile(t, dir, "client.key", ours.KeyPEM)
	caPath := writeFile(t, dir, "server-ca.pem", serverCA.PEM)

	dbURL := testenv.PostgresURL(t)
	trustServer := "TEMPORAL_TLS_SERVER_CA_CERT_PATH=" + caPath
	withCert := []string{trustServer, "TEMPORAL_TLS_CLIENT_CERT_PATH=" + certPath, "TEMPORAL_TLS_CLIENT_KEY_PATH=" + keyPath}

	// Without a client certificate the worker cannot connect.
	refused := start(t, processEnv(dbURL, tsrv.HostPort(), trustServer, "TIDYHOOKS_METRICS_ADDR=127.0.0.1:0"), "worker")
	if _, ok := refused.waitForOrExit(t, `"msg":"worker running"`); ok {
		t.Fatal("a worker without a client certificate started")
	}
	// What the server's refusal reads as depends on who moves first: the
	// TLS alert ("tls: certificate required") or the connection closed
	// under the client's first write ("broken pipe").
	if out := refused.output(); !strings.Contains(out, "connect to temporal") {
		t.Errorf("the refused worker said:\n%s", out)
	}
	t.Logf("without a certificate:\n%s", refused.output())
	// A certificate that cannot be read is named before anything starts.
	missing := start(t, processEnv(dbURL, tsrv.HostPort(), trustServer, "TEMPORAL_TLS_CLIENT_CERT_PATH="+filepath.Join(dir, "nope.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH="+keyPath), "worker")
	if _, ok := missing.waitForOrExit(t, `"msg":"worker running"`); ok || !strings.Contains(missing.output(), "TEMPORAL_TLS_CLIENT_CERT_PATH") {
		t.Errorf("a missing certificate: started %v, said:\n%s", ok, missing.output())
	}
	t.Logf("an unreadable certificate:\n%s", missing.output())

	// With it, an api and a worker deliver.
	tp := newTopology(t, dbURL, tsrv.HostPort(), withCert...)
	w := tp.startWorker()
	var arrived atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { arrived.Add(1) }))
	defer rcv.Close()
	tp.webhooks(1, rcv.URL)
	if a := callAPI(tp.base, tp.key, "POST", "/v1/events", `{"id": "evt_tls", "event": "contact.created", "payload": {}}`); a.code != http.StatusAccepted {
		t.Fatalf("emit: %d %s %v", a.code, a.body, a.err)
	}
	if !testenv.Eventually(time.Minute, func() bool { return arrived.Load() == 1 }) {
		t.Fatalf("the event did not arrive over a Temporal reached by mTLS\napi:\n%s\nworker:\n%s", tp.api.output(), w.output())
	}
	tp.api.stop(t)
	w.stop(t)
}
