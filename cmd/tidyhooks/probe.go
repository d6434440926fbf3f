package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// runProbe GETs one URL and succeeds on a 2xx: the health check of the
// container image, which has no shell or curl.
func runProbe(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("probe takes one URL, got %d arguments", len(args))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe: %s answered %d", args[0], resp.StatusCode)
	}
	return nil
}
