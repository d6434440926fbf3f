package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Migrations are applied by goose from migrations/<dialect>/ (one copy per
// dialect: the column types differ, TIMESTAMPTZ against TEXT, JSONB against
// TEXT, and each file is the plain DDL of its database). goose records
// them in the schema_migrations table this package has always kept, so a
// database migrated by an earlier version is picked up where it stands.

// provider returns goose's migration provider for s. On PostgreSQL a
// session-level advisory lock keeps processes starting together from
// racing; its id is the one earlier versions took, so that they and this
// one exclude each other during a rolling upgrade.
func (s *Store) provider() (*goose.Provider, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	dir, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return nil, err
	}
	// The version table names each migration by its file, as earlier
	// versions did; goose hands the store the version only.
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, err
	}
	names := map[int64]string{0: "0000_version_table"}
	for _, e := range entries {
		if v, _, ok := strings.Cut(e.Name(), "_"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				names[n] = e.Name()
			}
		}
	}
	opts := []goose.ProviderOption{goose.WithStore(versionTable{dialect: s.dialect, names: names}), goose.WithDisableGlobalRegistry(true)}
	if s.dialect == "postgres" {
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(goose.DialectCustom, sqlDB, dir, opts...)
}

// migrationLockID is the advisory lock migrations hold on PostgreSQL.
const migrationLockID = 7262019

// Migrate applies the migrations the database lacks, in order, each in a
// transaction, and returns their names.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	p, err := s.provider()
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	results, err := p.Up(ctx)
	var applied []string
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		for _, r := range partial.Applied {
			applied = append(applied, r.Source.Path)
		}
		return applied, fmt.Errorf("apply migration %s: %w", partial.Failed.Source.Path, translate(partial.Err))
	}
	if err != nil {
		return applied, translate(err)
	}
	return applied, nil
}

// CheckSchema fails with ErrSchemaBehind, naming them, while migrations
// are pending.
func (s *Store) CheckSchema(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	status, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", translate(err))
	}
	var missing []string
	for _, m := range status {
		if m.State == goose.StatePending {
			missing = append(missing, m.Source.Path)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (missing %s)", ErrSchemaBehind, strings.Join(missing, ", "))
	}
	return nil
}

// MigrationState is one migration and whether, and when, it was applied.
type MigrationState struct {
	Name      string
	Applied   bool
	AppliedAt time.Time // zero while pending
}

// MigrationStatus lists every migration this version has, in order, with
// its state; it changes nothing.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	p, err := s.provider()
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	status, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", translate(err))
	}
	out := make([]MigrationState, len(status))
	for i, m := range status {
		out[i] = MigrationState{Name: m.Source.Path, Applied: m.State == goose.StateApplied, AppliedAt: m.AppliedAt.UTC()}
	}
	return out, nil
}

// versionTable is goose's record of applied migrations kept in
// schema_migrations (version, name, applied_at), the table earlier versions
// wrote, rather than goose's own goose_db_version.
type versionTable struct {
	dialect string
	names   map[int64]string // file name by version
}

var _ database.Store = versionTable{}

const versionTableName = "schema_migrations"

func (versionTable) Tablename() string { return versionTableName }

// q writes a statement's placeholders as the dialect wants them.
func (v versionTable) q(stmt string) string {
	if v.dialect != "postgres" {
		return stmt
	}
	for n := 1; strings.Contains(stmt, "?"); n++ {
		stmt = strings.Replace(stmt, "?", fmt.Sprintf("$%d", n), 1)
	}
	return stmt
}

func (versionTable) CreateVersionTable(ctx context.Context, db database.DBTxConn) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	return err
}

func (v versionTable) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, v.q(tableExistsQuery[v.dialect]), versionTableName).Scan(&n)
	return n > 0, err
}

// Insert records a version under its migration's file name.
func (v versionTable) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	name := v.names[req.Version]
	if name == "" {
		name = fmt.Sprintf("%04d", req.Version)
	}
	_, err := db.ExecContext(ctx, v.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		req.Version, name, time.Now().UTC().Format(time.RFC3339))
	return err
}

func (v versionTable) Delete(ctx context.Context, db database.DBTxConn, version int64) error {
	_, err := db.ExecContext(ctx, v.q("DELETE FROM schema_migrations WHERE version = ?"), version)
	return err
}

func (v versionTable) GetMigration(ctx context.Context, db database.DBTxConn, version int64) (*database.GetMigrationResult, error) {
	var at string
	err := db.QueryRowContext(ctx, v.q("SELECT applied_at FROM schema_migrations WHERE version = ?"), version).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, database.ErrVersionNotFound
	}
	if err != nil {
		return nil, err
	}
	t, _ := time.Parse(time.RFC3339, at)
	return &database.GetMigrationResult{Timestamp: t, IsApplied: true}, nil
}

func (versionTable) GetLatestVersion(ctx context.Context, db database.DBTxConn) (int64, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, err
	}
	if !v.Valid {
		return 0, database.ErrVersionNotFound
	}
	return v.Int64, nil
}

func (versionTable) ListMigrations(ctx context.Context, db database.DBTxConn) ([]*database.ListMigrationsResult, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version DESC")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*database.ListMigrationsResult
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, &database.ListMigrationsResult{Version: v, IsApplied: true})
	}
	return out, rows.Err()
}
