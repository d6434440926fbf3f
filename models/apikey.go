package models

import "slices"

// Scopes an API key may hold.
const (
	ScopeAPIUser     = "api_user"     // manage one workspace's webhooks
	ScopeEventsWrite = "events:write" // emit events
	// ScopePortal lets a platform key open portal sessions for any
	// workspace; a workspace's api_user key opens them for its own.
	ScopePortal = "portal:write"
)

// APIKey is a stored key, identified by the hash of its value.
type APIKey struct {
	ID          string
	WorkspaceID string // "" for a platform key bound to no workspace
	Scopes      []string
}

// Has reports whether the key holds scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }
