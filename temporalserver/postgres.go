package temporalserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	toolschema "go.temporal.io/server/tools/common/schema"
	toolsql "go.temporal.io/server/tools/sql"
)

// postgresStores returns the primary and visibility stores for a
// PostgreSQL URL: databases <name> and <name>_visibility on that server,
// created and migrated to the server's schema version when needed.
func postgresStores(rawURL string) (*config.SQL, *config.SQL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, nil, fmt.Errorf("temporal database URL must be postgres://user[:password]@host:port/database")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, nil, errors.New("temporal database URL names no database")
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "5432")
	}
	password, _ := u.User.Password()
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[0]
	}
	if attrs["sslmode"] == "" {
		attrs["sslmode"] = "disable"
	}
	mk := func(db string) *config.SQL {
		return &config.SQL{
			PluginName:        pgplugin.PluginNamePGX,
			DatabaseName:      db,
			ConnectAddr:       host,
			ConnectProtocol:   "tcp",
			User:              u.User.Username(),
			Password:          password,
			ConnectAttributes: attrs,
			MaxConns:          20,
			MaxIdleConns:      20,
		}
	}
	primary, visibility := mk(name), mk(name+"_visibility")
	for _, s := range []struct {
		cfg    *config.SQL
		schema string
	}{{primary, "postgresql/v12/temporal"}, {visibility, "postgresql/v12/visibility"}} {
		if err := migratePostgres(s.cfg, s.schema); err != nil {
			return nil, nil, fmt.Errorf("prepare temporal database %s: %w", s.cfg.DatabaseName, err)
		}
	}
	return primary, visibility, nil
}

// migratePostgres creates the database if it is missing, sets up schema
// versioning on a new one, and applies every versioned schema change.
func migratePostgres(cfg *config.SQL, schemaName string) error {
	logger := log.NewNoopLogger()
	created := toolsql.DoCreateDatabase(cloneSQL(cfg), "postgres", logger) == nil
	conn, err := toolsql.NewConnection(cloneSQL(cfg), logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	if created {
		setup := toolschema.NewSetupSchemaTask(conn, &toolschema.SetupConfig{InitialVersion: "0.0"}, logger)
		if err := setup.Run(); err != nil {
			return fmt.Errorf("set up schema versioning: %w", err)
		}
	}
	update := toolschema.NewUpdateSchemaTask(conn, &toolschema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("update schema: %w", err)
	}
	return nil
}

func cloneSQL(c *config.SQL) *config.SQL {
	out := *c
	return &out
}
