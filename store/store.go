// Package store is the only package that talks to the database. It persists
// events, webhooks, their secrets, API keys and the delivery log with GORM over PostgreSQL or,
// as the embedded default, SQLite through a pure-Go driver. Every exported
// method is one unit of work taking ctx first; driver errors are translated
// into models' sentinel errors here. It imports models and nothing else of
// this module.
package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tidysupport/tidyhooks/models"
)

//go:embed migrations
var migrations embed.FS

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	dialect string // "postgres" or "sqlite"
	sealer  *sealer
	now     func() time.Time
	// group commits SQLite's delivery-log writes together; nil on
	// PostgreSQL.
	group *groupCommit
}

// Options configure a Store.
type Options struct {
	// EncryptionKey (KeySize bytes) encrypts webhook signing secrets at
	// rest. Without it, operations on secrets fail; API keys and events
	// work.
	EncryptionKey []byte
	// EncryptionKeys, when set instead, are several: the first seals, all
	// open (a key being rotated out stays until `tidyhooks rekey` has
	// re-sealed what it sealed).
	EncryptionKeys [][]byte
	// NoMigrate opens without applying migrations: the caller applies
	// them with Migrate (`tidyhooks migrate`), or refuses a schema that is
	// behind with CheckSchema, when migrations are a deployment step of
	// their own.
	NoMigrate bool
	// The PostgreSQL pool: connections at most (0: DefaultMaxConns), kept
	// idle at most (0: as many as MaxConns), and the longest a connection
	// lives (0: DefaultConnMaxLifetime). SQLite has one connection.
	MaxConns        int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Defaults of the PostgreSQL pool (Options). Twenty connections carried
// the production-topology benchmark's worker and API without waiting for
// one (BENCHMARKS.md); a connection is replaced every half hour.
const (
	DefaultMaxConns        = 20
	DefaultConnMaxLifetime = 30 * time.Minute
)

// ErrSchemaBehind is CheckSchema's error for a database that lacks
// migrations this build needs.
var ErrSchemaBehind = errors.New("the database schema is behind this version: run `tidyhooks migrate`")

// ErrNoEncryptionKey is returned by secret operations of a Store opened
// without an encryption key.
var ErrNoEncryptionKey = errors.New("no encryption key configured for webhook secrets")

// Open connects to the database named by url and applies pending
// migrations. url is postgres://… (or postgresql://…) for PostgreSQL, or
// sqlite:<path> for an SQLite file.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	var seal *sealer
	keys := opts.EncryptionKeys
	if opts.EncryptionKey != nil {
		keys = append([][]byte{opts.EncryptionKey}, keys...)
	}
	if len(keys) > 0 {
		var err error
		if seal, err = newSealer(keys...); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	var (
		dialector gorm.Dialector
		dialect   string
	)
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dialector, dialect = postgres.Open(url), "postgres"
	case strings.HasPrefix(url, "sqlite:"):
		file := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if file == "" {
			return nil, errors.New("open database: sqlite: URL names no file")
		}
		// WAL lets readers run beside the one writer; busy_timeout makes a
		// writer wait for the lock instead of failing.
		// Transactions take the write lock when they begin (_txlock), so a
		// read-then-write transaction waits its turn instead of failing.
		dsn := "file:" + file + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
		dialector, dialect = sqlite.Open(dsn), "sqlite"
	default:
		return nil, fmt.Errorf("open database: unsupported URL %q: want postgres://… or sqlite:<path>", redact(url))
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// Not PrepareStmt: kept prepared statements on SQLite cost more
		// CPU per event than they saved (BENCHMARKS.md, 2026-12-08), and
		// pgx caches PostgreSQL's prepared statements itself.
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if dialect == "sqlite" {
		// One connection: SQLite allows one writer at a time, and writers
		// contending for its lock back off in sleeps that showed as ~1 s
		// stalls (p99 1057 ms at 100 events/s with 4 connections, 45 ms
		// with 1; BENCHMARKS.md).
		sqlDB.SetMaxOpenConns(1)
	} else {
		maxConns := cmp.Or(opts.MaxConns, DefaultMaxConns)
		sqlDB.SetMaxOpenConns(maxConns)
		sqlDB.SetMaxIdleConns(min(cmp.Or(opts.MaxIdleConns, maxConns), maxConns))
		sqlDB.SetConnMaxLifetime(cmp.Or(opts.ConnMaxLifetime, DefaultConnMaxLifetime))
	}
	s := &Store{db: db, dialect: dialect, sealer: seal, now: func() time.Time { return time.Now().UTC() }}
	if !opts.NoMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	if dialect == "sqlite" {
		s.group = newGroupCommit(db)
	}
	return s, nil
}

// forShare is the clause that locks the rows a SELECT reads against
// change until the transaction ends: on PostgreSQL; SQLite runs one
// writer at a time and has none.
func (s *Store) forShare() string {
	if s.dialect == "postgres" {
		return " FOR SHARE"
	}
	return ""
}

// redact hides the password of a database URL in error messages.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if scheme := strings.Index(url, "://"); scheme > 0 && scheme < at {
			return url[:scheme+3] + "…@" + url[at+1:]
		}
	}
	return url
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// logTx runs a delivery-log write in a transaction; on SQLite, in one
// shared with the writes queued beside it (groupCommit).
func (s *Store) logTx(ctx context.Context, write func(tx *gorm.DB) error) error {
	if s.group != nil {
		return s.group.do(ctx, write)
	}
	return s.db.WithContext(ctx).Transaction(write)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w: %w", models.ErrUnavailable, err)
	}
	return nil
}

// tableExistsQuery counts the tables named ? in each dialect.
var tableExistsQuery = map[string]string{
	"postgres": "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
	"sqlite":   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
}

// translate maps driver errors to models' sentinel errors.
func translate(err error) error {
	switch {
	case err == nil, errors.Is(err, models.ErrUnavailable):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return errNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return errConflict
	case unreachable(err):
		return fmt.Errorf("%w: database: %w", models.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err says the database could not be reached
// or is not serving (down, restarting, out of connections, too slow), as
// opposed to refusing the statement: the caller may retry later.
func unreachable(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 53: insufficient resources;
		// 57P01-57P03: shutting down or starting up.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	// SQLite answers SQLITE_BUSY when another process holds the file
	// locked past the busy timeout.
	var liteErr *sqlitedriver.Error
	return errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_BUSY
}
