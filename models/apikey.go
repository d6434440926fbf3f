package models

import "slices"

// Scopes an API key may hold.
const (
	ScopeAPIUser     = "api_user"     // manage one workspace's webhooks
	ScopeEventsWrite = "events:write" // emit events
)

// APIKey is a stored key, identified by the hash of its value.
type APIKey struct {
	ID          string
	WorkspaceID string // "" for a platform key bound to no workspace
	Scopes      []string
}

// Has reports whether the key holds scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }
