// Package testtemporal starts the embedded Temporal server that the tests
// of one package share: in memory, with the workflows' search attributes.
// It is apart from testenv so that packages that need no Temporal do not
// link the server.
package testtemporal

import (
	"context"
	"fmt"
	"os"

	"github.com/tidysupport/tidyhooks/temporalserver"
	"github.com/tidysupport/tidyhooks/worker"
)

// Start starts the server for a TestMain, or exits the test binary
// saying why it could not.
func Start() *temporalserver.Server {
	srv, err := temporalserver.Start(context.Background(), temporalserver.Config{
		UIPort:           -1,
		Namespace:        "default",
		SearchAttributes: worker.SearchAttributes(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded temporal:", err)
		os.Exit(1)
	}
	return srv
}
