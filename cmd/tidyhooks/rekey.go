package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/tidysupport/tidyhooks/store"
)

const rekeyUsage = `usage: tidyhooks rekey [--batch N]

Re-seals every stored webhook secret, endpoint credential and OAuth2
token with the first key of TIDYHOOKS_ENCRYPTION_KEYS, N rows at a time
(default 500). Safe while deliveries run, and resumable: run it again
after a stop and it goes on where it was. Rotation: put the new key first
in TIDYHOOKS_ENCRYPTION_KEYS (the old after it) on every process, run
rekey, then remove the old key.
`

// runRekey is `tidyhooks rekey`.
func runRekey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tidyhooks rekey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), rekeyUsage) }
	batch := fs.Int("batch", 500, "rows re-sealed per batch (1 to 10000)")
	if err := fs.Parse(args); err != nil {
		if slices.ContainsFunc(args, isHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
		}
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("rekey takes no arguments: %q", fs.Args())
	}
	if *batch < 1 || *batch > 10_000 {
		return fmt.Errorf("rekey: --batch %d: want 1 to 10000", *batch)
	}
	cfg, err := loadConfig(modeMigrate, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	keys := cfg.keys()
	if len(keys) == 0 {
		return fmt.Errorf("rekey: set TIDYHOOKS_ENCRYPTION_KEYS (the new key first, then the old ones)")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{EncryptionKeys: keys, NoMigrate: true})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}
	ids := st.KeyIDs()
	fmt.Fprintf(stdout, "rekey: sealing with key %s", ids[0])
	if len(ids) > 1 {
		fmt.Fprintf(stdout, " (opening with %s too)", strings.Join(ids[1:], ", "))
	}
	fmt.Fprintln(stdout)
	res, err := st.Rekey(ctx, *batch, func(what string, n int) { fmt.Fprintf(stdout, "rekey: %s: %d re-sealed so far\n", what, n) })
	for _, what := range slices.Sorted(maps.Keys(res.Resealed)) {
		fmt.Fprintf(stdout, "rekey: %s: %d re-sealed\n", what, res.Resealed[what])
	}
	if err != nil {
		return err
	}
	if err := st.CheckKeys(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rekey: every stored value is sealed with key %s; the other keys may now be removed\n", ids[0])
	return nil
}
