package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/tidysupport/tidyhooks/bench"
)

const floorHelp = `usage: tidyhooks-bench floor [--http-addr ADDR] [--work] [--max-starts N]

The bare-Temporal floor, started by tidyhooks-bench beside the product's
processes. With --http-addr it starts the floor workflow for each POST
/floor/events (as tidyhooks api); with --work it runs the workflow (as
tidyhooks worker); with both, one client does both and starts workflows
eagerly (as tidyhooks dev). TEMPORAL_ADDRESS names the server.

`

// runFloor is `tidyhooks-bench floor`.
func runFloor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tidyhooks-bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), floorHelp); fs.PrintDefaults() }
	addr := fs.String("http-addr", "", "serve POST /floor/events here, starting a workflow for each")
	work := fs.Bool("work", false, "run the floor worker")
	maxStarts := fs.Int("max-starts", 0, "bound on workflow starts in flight (0: none), as TIDYHOOKS_MAX_CONCURRENT_STARTS")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floor: unexpected arguments %q", fs.Args())
	}
	if *addr == "" && !*work {
		return errors.New("floor: give --http-addr, --work or both")
	}
	if *maxStarts < 0 {
		return fmt.Errorf("floor: --max-starts %d: want 0 or more", *maxStarts)
	}
	hostPort := getenv("TEMPORAL_ADDRESS")
	if hostPort == "" {
		return errors.New("floor: TEMPORAL_ADDRESS is required")
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: silentLogger()})
	if err != nil {
		return fmt.Errorf("floor: connect to temporal at %s: %w", hostPort, err)
	}
	defer c.Close()
	if *work {
		w := bench.NewFloorWorker(c)
		if err := w.Start(); err != nil {
			return fmt.Errorf("floor: start worker: %w", err)
		}
		defer w.Stop()
	}
	if *addr == "" {
		fmt.Fprintln(stdout, `{"msg":"floor running"}`)
		<-ctx.Done()
		return nil
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /floor/events", bench.FloorHandler(c, *maxStarts))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(stdout, `{"msg":"floor running"}`)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("floor: serve: %w", err)
	}
	return nil
}
