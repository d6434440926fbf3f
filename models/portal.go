package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Portal session lifetimes: one hour unless asked otherwise, a day at most.
const (
	DefaultPortalTTL = time.Hour
	MaxPortalTTL     = 24 * time.Hour
	MinPortalTTL     = time.Minute
)

// PortalGrant is what a portal link opens: a session on one workspace for
// TTL, read-only or not, with a link back into the platform's page.
type PortalGrant struct {
	WorkspaceID string
	TTL         time.Duration
	ReadOnly    bool
	ReturnURL   string
	// KeyID is the key that made the link; revoking it ends the session.
	KeyID string
}

// PortalSession is a signed-in portal: the workspace it sees, until when,
// and the hash of the CSRF token every change it makes must carry.
type PortalSession struct {
	ID          string
	WorkspaceID string
	ReadOnly    bool
	ReturnURL   string
	ExpiresAt   time.Time
	CSRFHash    []byte
}

// PortalSessionInfo is what an operator sees of a live session: never
// its token.
type PortalSessionInfo struct {
	ID          string
	WorkspaceID string
	KeyID       string // "" when made before sessions kept their key
	ReadOnly    bool
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// ErrPortalCode is every refusal of a portal link's code; each says why.
var (
	ErrPortalCode        = errors.New("portal code refused")
	ErrPortalCodeUnknown = fmt.Errorf("%w: this portal link is not valid; ask for a new one", ErrPortalCode)
	ErrPortalCodeUsed    = fmt.Errorf("%w: this portal link was used already; a link opens one session, so ask for a new one", ErrPortalCode)
	ErrPortalCodeRevoked = fmt.Errorf("%w: the key that made this portal link was revoked; ask for a new one", ErrPortalCode)
	ErrPortalCodeExpired = fmt.Errorf("%w: this portal link expired (links work for five minutes); ask for a new one", ErrPortalCode)
)

// ParseOrigins reads a list of web origins (scheme://host[:port]),
// separated by spaces or commas, as the portal's frame ancestors and
// return origins. Each must be http or https with a host and nothing
// after it.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		u, err := url.Parse(f)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !validHost(u.Host, true) || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com", f)
		}
		o := Origin(f)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// ValidateReturnURL checks a portal's link back: http(s), on one of the
// allowed origins.
func ValidateReturnURL(raw string, allowed []string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !validHost(u.Host, false) || u.User != nil {
		return Invalid("returnUrl", "must be an http or https URL")
	}
	if !slices.Contains(allowed, Origin(raw)) {
		if len(allowed) == 0 {
			return Invalid("returnUrl", "is not allowed: no origin is (TIDYHOOKS_PORTAL_FRAME_ANCESTORS lists them)")
		}
		return Invalid("returnUrl", "is not on an allowed origin (%s)", strings.Join(allowed, ", "))
	}
	return nil
}

// PortalTheme makes the embedded portal look like the page around it:
// TIDYHOOKS_PORTAL_THEME, e.g. {"name": "TidySupport", "accent":
// "#5b3cc4", "background": "#ffffff", "logoUrl": "https://…/logo.svg"}.
type PortalTheme struct {
	Name       string `json:"name,omitempty"`
	Accent     string `json:"accent,omitempty"`
	Background string `json:"background,omitempty"`
	LogoURL    string `json:"logoUrl,omitempty"`
}

var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ParsePortalTheme reads and checks a theme; "" is no theme. Colours are
// #rrggbb; the logo is an https URL or a data:image URL of at most 64 KiB.
func ParsePortalTheme(s string) (*PortalTheme, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var t PortalTheme
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("not a JSON object of name, accent, background and logoUrl: %w", err)
	}
	if len(t.Name) > 64 {
		return nil, errors.New("name: at most 64 characters")
	}
	for _, c := range []struct{ field, v string }{{"accent", t.Accent}, {"background", t.Background}} {
		if c.v != "" && !hexColour.MatchString(c.v) {
			return nil, fmt.Errorf("%s: %q is not a colour such as #5b3cc4", c.field, c.v)
		}
	}
	if l := t.LogoURL; l != "" {
		u, err := url.Parse(l)
		switch {
		case len(l) > 64<<10:
			return nil, errors.New("logoUrl: longer than 64 KiB")
		case strings.HasPrefix(l, "data:image/"):
		case err != nil || u.Scheme != "https" || !validHost(u.Host, false):
			return nil, fmt.Errorf("logoUrl: %q is not an https URL or a data:image URL", l)
		}
	}
	return &t, nil
}

// validHost reports whether host (with an optional port) is a DNS name or
// an IP address, and nothing else: it goes into a Content-Security-Policy,
// where a ; or a space would start another directive. wildcard allows a
// leading "*." as CSP source expressions do.
func validHost(host string, wildcard bool) bool {
	if host == "" {
		return false
	}
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1] // an IPv6 address without a port
	} else if strings.Contains(host, ":") {
		return false
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return false
		}
	}
	if strings.HasPrefix(host, "[") {
		addr, err := netip.ParseAddr(name)
		return err == nil && addr.Is6() && addr.Zone() == ""
	}
	if wildcard {
		name = strings.TrimPrefix(name, "*.")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return len(name) <= 253
}

// LogoOrigin is the origin the logo loads from, for the page's
// Content-Security-Policy; "" for none or a data: URL.
func (t *PortalTheme) LogoOrigin() string {
	if t == nil || !strings.HasPrefix(t.LogoURL, "https://") {
		return ""
	}
	u, _ := url.Parse(t.LogoURL)
	return "https://" + u.Host
}
