// Command tidyhooks-bench measures TidySupport Webhooks end to end
// (BENCHMARKS.md). It starts the product's processes from the tidyhooks
// binary (--tidyhooks) in the setup asked for, emits events at them
// through the public API to receivers of its own on loopback, reconciles
// every (event, webhook) pair, and runs the bare-Temporal floors
// (`tidyhooks-bench floor`) in the same topology for comparison. It lives
// apart from cmd/tidyhooks so that the product's binary holds the product
// only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "tidyhooks-bench:", err)
	}
	if err != nil {
		os.Exit(1)
	}
}

var (
	// errUsage is bad usage, already explained (exit 1).
	errUsage = errors.New("usage")
	// errHelp is help asked for and shown (exit 0).
	errHelp = errors.New("help shown")
)

// parseError is what a command returns when its flags do not parse.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return errUsage
}

// run is `tidyhooks-bench [flags]` (a benchmark) or `tidyhooks-bench floor`
// (a floor process the benchmark starts).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "floor" {
		return runFloor(ctx, args[1:], getenv, stdout, stderr)
	}
	return runBench(ctx, args, getenv, stdout, stderr)
}
