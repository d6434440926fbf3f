package models

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WebhookStatus is ACTIVE or PAUSED.
type WebhookStatus string

const (
	WebhookActive WebhookStatus = "ACTIVE"
	WebhookPaused WebhookStatus = "PAUSED"
)

// ParseWebhookStatus accepts ACTIVE or PAUSED in any case.
func ParseWebhookStatus(s string) (WebhookStatus, error) {
	switch WebhookStatus(strings.ToUpper(strings.TrimSpace(s))) {
	case WebhookActive:
		return WebhookActive, nil
	case WebhookPaused:
		return WebhookPaused, nil
	}
	return "", Invalid("status", "must be ACTIVE or PAUSED")
}

// Limits on webhook fields.
const (
	MaxURLLength         = 2048
	MaxDisplayNameLength = 128
)

// Webhook is one customer endpoint subscribed to some of a workspace's events.
type Webhook struct {
	ID               string
	WorkspaceID      string
	URL              string
	DisplayName      string
	Status           WebhookStatus
	Events           []string // canonical subscription entries
	PausedReason     string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastAttemptedAt  *time.Time
	LastErrorAt      *time.Time
	LastErrorMessage string
}

// URLPolicy says which webhook URLs a deployment accepts.
type URLPolicy struct {
	AllowHTTP bool // plain http:// (dev mode, tests)
}

// ValidateWebhookURL checks that raw is an absolute http(s) URL without
// credentials that the policy accepts.
func ValidateWebhookURL(raw string, p URLPolicy) error {
	if strings.TrimSpace(raw) == "" {
		return Invalid("url", "is required")
	}
	if len(raw) > MaxURLLength {
		return Invalid("url", "is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid("url", "is not a valid URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return Invalid("url", "must use https")
		}
	default:
		return Invalid("url", "must be an http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return Invalid("url", "must name a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Invalid("url", "has port %q; a port is a number from 1 to 65535", port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Invalid("url", "has an empty port")
	}
	if u.User != nil {
		return Invalid("url", "must not contain credentials")
	}
	if u.Fragment != "" {
		return Invalid("url", "must not contain a fragment")
	}
	return nil
}

// NewWebhook is the input for creating a webhook.
type NewWebhook struct {
	URL         string
	DisplayName string
	Events      []string
	Status      string
}

// Validate checks every field and returns the webhook to store (without id
// and times), events canonicalised and displayName defaulted to the host.
func (n NewWebhook) Validate(workspaceID string, p URLPolicy) (Webhook, error) {
	if err := ValidateWorkspaceID(workspaceID); err != nil {
		return Webhook{}, err
	}
	if err := ValidateWebhookURL(n.URL, p); err != nil {
		return Webhook{}, err
	}
	events, err := NormalizeSubscriptions(n.Events)
	if err != nil {
		return Webhook{}, err
	}
	status := WebhookActive
	if n.Status != "" {
		if status, err = ParseWebhookStatus(n.Status); err != nil {
			return Webhook{}, err
		}
	}
	name, err := displayName(n.DisplayName, n.URL)
	if err != nil {
		return Webhook{}, err
	}
	w := Webhook{WorkspaceID: workspaceID, URL: n.URL, DisplayName: name, Status: status, Events: events}
	if status == WebhookPaused {
		w.PausedReason = "paused on creation"
	}
	return w, nil
}

// Secret is one signing secret of a webhook. ExpiresAt is set on a secret
// that was rotated out and still signs until then.
type Secret struct {
	Value     string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// WebhookPatch is a partial update: nil fields are left as they are.
type WebhookPatch struct {
	URL         *string
	DisplayName *string
	Events      *[]string
	Status      *string
}

// Empty reports whether the patch changes nothing.
func (p WebhookPatch) Empty() bool {
	return p.URL == nil && p.DisplayName == nil && p.Events == nil && p.Status == nil
}

// Apply validates the patch and applies it to w. On error w is unchanged.
func (p WebhookPatch) Apply(w *Webhook, policy URLPolicy) error {
	if p.Empty() {
		return Invalid("", "the patch changes nothing: give url, displayName, events or status")
	}
	next := *w
	if p.URL != nil {
		if err := ValidateWebhookURL(*p.URL, policy); err != nil {
			return err
		}
		next.URL = *p.URL
	}
	if p.Events != nil {
		events, err := NormalizeSubscriptions(*p.Events)
		if err != nil {
			return err
		}
		next.Events = events
	}
	if p.Status != nil {
		status, err := ParseWebhookStatus(*p.Status)
		if err != nil {
			return err
		}
		if status != next.Status {
			// Resuming clears the reason: the store keeps an active
			// webhook without one, whoever resumes it.
			next.Status = status
			if status == WebhookPaused {
				next.PausedReason = "paused through the API"
			}
		}
	}
	if p.DisplayName != nil {
		name, err := displayName(*p.DisplayName, next.URL)
		if err != nil {
			return err
		}
		next.DisplayName = name
	}
	*w = next
	return nil
}

// displayName is a webhook's display name as given, trimmed, or its URL's
// host when none is given.
func displayName(given, rawURL string) (string, error) {
	name := strings.TrimSpace(given)
	if len(name) > MaxDisplayNameLength {
		return "", Invalid("displayName", "is longer than %d characters", MaxDisplayNameLength)
	}
	if name == "" {
		u, _ := url.Parse(rawURL)
		name = u.Hostname()
	}
	return name, nil
}
