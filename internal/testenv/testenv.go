// Package testenv gives tests their real dependencies: a fresh PostgreSQL
// database or SQLite file per test, dropped when the test ends. Only tests
// import it.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresBaseURL is the server tests create their databases on; set
// TIDYHOOKS_TEST_POSTGRES to use another.
func PostgresBaseURL() string {
	if u := os.Getenv("TIDYHOOKS_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresURL creates an empty database for t and returns its URL. The
// database is dropped when t ends. A test that needs PostgreSQL fails when
// it is not running: start it with
// `pg_ctlcluster --skip-systemctl-redirect 15 main start`.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := PostgresBaseURL()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tidyhooks_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on %s (is PostgreSQL running?): %v", base, err)
	}
	t.Cleanup(func() {
		// Also the _visibility database an embedded Temporal server makes.
		for _, db := range []string{name, name + "_visibility"} {
			if _, err := admin.ExecContext(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db)); err != nil {
				t.Errorf("drop test database %s: %v", db, err)
			}
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}

// SQLiteURL returns the URL of a new SQLite file in t's temp dir.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "tidyhooks.db")
}

// EncryptionKey is the key tests encrypt webhook secrets with.
var EncryptionKey = []byte("tidyhooks-test-key-0123456789abc")

// Backends are the databases every store test runs against.
var Backends = []string{"sqlite", "postgres"}

// DatabaseURL returns a fresh database of backend for t.
func DatabaseURL(t testing.TB, backend string) string {
	t.Helper()
	if backend == "postgres" {
		return PostgresURL(t)
	}
	return SQLiteURL(t)
}
