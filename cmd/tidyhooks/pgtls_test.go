package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/internal/pgcluster"
	"github.com/tidysupport/tidyhooks/internal/testcerts"
	"github.com/tidysupport/tidyhooks/store"
)

// ownPostgresTLS is ownPostgres serving TLS with the pair's certificate.
func ownPostgresTLS(t *testing.T, pair testcerts.Pair) *pgServer {
	t.Helper()
	return startPostgres(t, func(c *pgcluster.Cluster) (string, error) {
		cert, key := filepath.Join(c.Dir, "server.crt"), filepath.Join(c.Dir, "server.key")
		for path, b := range map[string][]byte{cert: pair.CertPEM, key: pair.KeyPEM} {
			if err := os.WriteFile(path, b, 0o600); err != nil {
				return "", err
			}
			if err := c.ChownToServer(path); err != nil { // the server must own its key
				return "", err
			}
		}
		return fmt.Sprintf("-c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s", cert, key), nil
	})
}

// DATABASE_URL as pgx reads it carries TLS: sslmode=require encrypts,
// verify-full also checks the server's certificate against sslrootcert,
// and a certificate from another authority is refused.
func TestPostgresOverTLS(t *testing.T) {
	ctx := context.Background()
	ca, other := testcerts.NewCA(t, "db CA"), testcerts.NewCA(t, "another CA")
	pg := ownPostgresTLS(t, ca.Server(t))
	dir := t.TempDir()
	caPath := writeFile(t, dir, "db-ca.pem", ca.PEM)
	otherPath := writeFile(t, dir, "other-ca.pem", other.PEM)
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", pg.Port)

	for _, url := range []string{base + "?sslmode=require", base + "?sslmode=verify-full&sslrootcert=" + caPath} {
		st, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		if err := st.Ping(ctx); err != nil {
			t.Errorf("ping over %s: %v", url, err)
		}
		st.Close()
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		var ssl bool
		if err := db.QueryRowContext(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
			t.Errorf("%s: the connection is not encrypted (ssl %v, err %v)", url, ssl, err)
		}
		db.Close()
	}
	_, err := store.Open(ctx, base+"?sslmode=verify-full&sslrootcert="+otherPath, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server certificate from another authority: err = %v", err)
	}
}
