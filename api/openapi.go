package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the OpenAPI 3 description of this API; a test keeps it in
// step with the routes registered in routes.go.
func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}

// OpenAPI returns the document served at /v1/openapi.json.
func OpenAPI() []byte { return openAPIDocument }
