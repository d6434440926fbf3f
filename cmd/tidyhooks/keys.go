package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

const keysUsage = `usage:
  tidyhooks keys create [--workspace ID] --scope api_user|events:write [--scope …] [--name NAME]
  tidyhooks keys list
  tidyhooks keys revoke KEY_ID
  tidyhooks keys sessions --workspace ID
  tidyhooks keys end-sessions --workspace ID (SESSION_ID | --all)

Revoking a key ends the portal sessions its links opened and voids its
unspent links. sessions lists a workspace's live portal sessions;
end-sessions signs one, or all of them, out.

They work on DATABASE_URL, or on the SQLite database of a dev data
directory (--data-dir, default .tidyhooks), also while dev runs.
`

// scopeList collects --scope flags, each possibly comma-separated.
type scopeList []string

func (s *scopeList) String() string { return strings.Join(*s, ",") }
func (s *scopeList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part != models.ScopeAPIUser && part != models.ScopeEventsWrite && part != models.ScopePortal {
			return fmt.Errorf("unknown scope %q: want %s, %s or %s", part, models.ScopeAPIUser, models.ScopeEventsWrite, models.ScopePortal)
		}
		if !slices.Contains(*s, part) {
			*s = append(*s, part)
		}
	}
	return nil
}

// keysCommand is one subcommand of `tidyhooks keys`: given its flag set it
// declares its flags and returns the check of its arguments, made before
// the database is opened, and what it does with the database.
type keysCommand func(fs *flag.FlagSet) (check func() error, do func(ctx context.Context, st *store.Store, stdout io.Writer) error)

var keysCommands = map[string]keysCommand{"create": keysCreate, "list": keysList, "revoke": keysRevoke,
	"sessions": keysSessions, "end-sessions": keysEndSessions}

// runKeys is `tidyhooks keys`: create, list and revoke API keys.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	sub, rest := args[0], args[1:]
	if isHelp(sub) {
		fmt.Fprint(stdout, keysUsage)
		return errHelp
	}
	command, ok := keysCommands[sub]
	if !ok {
		fmt.Fprintf(stderr, "tidyhooks keys: unknown subcommand %q\n\n%s", sub, keysUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("tidyhooks keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", ".tidyhooks", "dev data directory, when DATABASE_URL is not set")
	check, do := command(fs)
	if err := fs.Parse(rest); err != nil {
		return parseError(err)
	}
	if err := check(); err != nil {
		return err
	}
	url := strings.TrimSpace(getenv("DATABASE_URL"))
	if url == "" {
		url = "sqlite:" + filepath.Join(*dataDir, "tidyhooks.db")
	}
	if strings.HasPrefix(url, "sqlite:") && !fileExists(strings.TrimPrefix(url, "sqlite:")) {
		return fmt.Errorf("keys: no database at %s: set DATABASE_URL or --data-dir", strings.TrimPrefix(url, "sqlite:"))
	}
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return do(ctx, st, stdout)
}

// keysCreate is `tidyhooks keys create`.
func keysCreate(fs *flag.FlagSet) (func() error, func(context.Context, *store.Store, io.Writer) error) {
	workspace := fs.String("workspace", "", "workspace the key is bound to; none for a platform key (events:write only)")
	name := fs.String("name", "", "a note saying what the key is for")
	var scopes scopeList
	fs.Var(&scopes, "scope", "api_user (manage webhooks) or events:write (emit); repeat or comma-separate")
	check := func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("keys create: unexpected arguments %q", fs.Args())
		}
		if len(scopes) == 0 {
			return errors.New("keys create: give at least one --scope (api_user, events:write, portal:write)")
		}
		if *workspace != "" {
			if err := models.ValidateWorkspaceID(*workspace); err != nil {
				return fmt.Errorf("keys create: --workspace: %w", err)
			}
		} else if slices.Contains(scopes, models.ScopeAPIUser) {
			return errors.New("keys create: an api_user key must be bound to a workspace (--workspace)")
		}
		if len(*name) > 128 {
			return errors.New("keys create: --name is longer than 128 characters")
		}
		return nil
	}
	do := func(ctx context.Context, st *store.Store, stdout io.Writer) error {
		value, err := store.NewKeyValue()
		if err != nil {
			return err
		}
		created, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: *workspace, Scopes: scopes}, value, *name)
		if err != nil {
			return err
		}
		ws := created.WorkspaceID
		if ws == "" {
			ws = "(none: platform key)"
		}
		fmt.Fprintf(stdout, "Created %s, workspace %s, scopes %s. The key is shown once; store it now:\n%s\n",
			created.ID, ws, strings.Join(created.Scopes, ","), value)
		return nil
	}
	return check, do
}

// keysList is `tidyhooks keys list`.
func keysList(fs *flag.FlagSet) (func() error, func(context.Context, *store.Store, io.Writer) error) {
	check := func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("keys list: unexpected arguments %q", fs.Args())
		}
		return nil
	}
	do := func(ctx context.Context, st *store.Store, stdout io.Writer) error {
		keys, err := st.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tWORKSPACE\tSCOPES\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			ws := k.WorkspaceID
			if ws == "" {
				ws = "(platform)"
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, ws, strings.Join(k.Scopes, ","), k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	}
	return check, do
}

// keysRevoke is `tidyhooks keys revoke KEY_ID`.
func keysRevoke(fs *flag.FlagSet) (func() error, func(context.Context, *store.Store, io.Writer) error) {
	check := func() error {
		if fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "key_") {
			return errors.New("keys revoke: give exactly one key id (key_…, from keys list)")
		}
		return nil
	}
	do := func(ctx context.Context, st *store.Store, stdout io.Writer) error {
		ended, err := st.RevokeAPIKey(ctx, fs.Arg(0))
		if err != nil {
			if errors.Is(err, models.ErrNotFound) {
				return fmt.Errorf("keys revoke: no active key %s", fs.Arg(0))
			}
			return err
		}
		fmt.Fprintf(stdout, "Revoked %s; ended %d portal sessions it opened and voided %d unspent portal links.\n",
			fs.Arg(0), ended.PortalSessions, ended.PortalLinks)
		return nil
	}
	return check, do
}

// workspaceFlag declares --workspace, required, and returns its check.
func workspaceFlag(fs *flag.FlagSet, cmd string) (*string, func() error) {
	ws := fs.String("workspace", "", "the workspace whose portal sessions these are")
	return ws, func() error {
		if *ws == "" {
			return fmt.Errorf("keys %s: give the workspace (--workspace ID)", cmd)
		}
		if err := models.ValidateWorkspaceID(*ws); err != nil {
			return fmt.Errorf("keys %s: --workspace: %w", cmd, err)
		}
		return nil
	}
}

// keysSessions is `tidyhooks keys sessions --workspace ID`.
func keysSessions(fs *flag.FlagSet) (func() error, func(context.Context, *store.Store, io.Writer) error) {
	ws, checkWS := workspaceFlag(fs, "sessions")
	check := func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("keys sessions: unexpected arguments %q", fs.Args())
		}
		return checkWS()
	}
	do := func(ctx context.Context, st *store.Store, stdout io.Writer) error {
		sessions, err := st.PortalSessions(ctx, *ws)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY\tACCESS\tCREATED\tEXPIRES")
		for _, p := range sessions {
			access, key := "read-write", p.KeyID
			if p.ReadOnly {
				access = "read-only"
			}
			if key == "" {
				key = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, key, access, p.CreatedAt.Format(time.RFC3339), p.ExpiresAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return check, do
}

// keysEndSessions is `tidyhooks keys end-sessions --workspace ID (SESSION_ID | --all)`.
func keysEndSessions(fs *flag.FlagSet) (func() error, func(context.Context, *store.Store, io.Writer) error) {
	ws, checkWS := workspaceFlag(fs, "end-sessions")
	all := fs.Bool("all", false, "end every live portal session of the workspace")
	check := func() error {
		switch {
		case *all && fs.NArg() > 0:
			return errors.New("keys end-sessions: give a session id or --all, not both")
		case !*all && (fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "pss_")):
			return errors.New("keys end-sessions: give exactly one session id (pss_…, from keys sessions) or --all")
		}
		return checkWS()
	}
	do := func(ctx context.Context, st *store.Store, stdout io.Writer) error {
		n, err := st.EndPortalSessions(ctx, *ws, fs.Arg(0))
		if err != nil {
			if errors.Is(err, models.ErrNotFound) {
				return fmt.Errorf("keys end-sessions: workspace %s has no live portal session %s", *ws, fs.Arg(0))
			}
			return err
		}
		fmt.Fprintf(stdout, "Ended %d portal sessions of %s.\n", n, *ws)
		return nil
	}
	return check, do
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
