package models

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Limits on a webhook's custom headers.
const (
	MaxCustomHeaders     = 20
	MaxHeaderNameLength  = 64
	MaxHeaderValueLength = 1024
)

// reservedHeaders are the headers a webhook may not set: ours (the
// signature, the event, the attempt), HTTP's own framing, and
// (Authorization is refused only beside auth, which sets it:
// CheckAuthorizationHeader.)
var reservedHeaders = []string{
	"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Expect", "Host",
	"Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent",
}

// reservedHeaderPrefixes are the prefixes of header names a webhook may
// not set: Standard Webhooks' and ours.
var reservedHeaderPrefixes = []string{"Webhook-", "X-Tidysupport-"}

// NormalizeHeaders validates a webhook's custom headers and returns them
// with canonical names (Content-Type, not content-type). Nil and empty are
// no headers.
func NormalizeHeaders(h map[string]string) (map[string]string, error) {
	if len(h) > MaxCustomHeaders {
		return nil, Invalid("headers", "has %d headers; at most %d are allowed", len(h), MaxCustomHeaders)
	}
	out := make(map[string]string, len(h))
	read := map[string]bool{} // names as a CGI-style receiver reads them
	for name, value := range h {
		canonical, err := checkHeader(name, value)
		if err != nil {
			return nil, err
		}
		if _, dup := out[canonical]; dup {
			return nil, Invalid("headers."+name, "is given twice, in different cases")
		}
		asCGI := cgiName(canonical)
		if read[asCGI] {
			return nil, Invalid("headers."+name, "is given twice: receivers such as PHP, WSGI and Rack read _ as -")
		}
		read[asCGI] = true
		out[canonical] = value
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// cgiName is a header name as CGI-style receivers see it: _ read as -.
func cgiName(canonical string) string {
	return textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(canonical, "_", "-"))
}

func checkHeader(name, value string) (string, error) {
	field := "headers." + name
	if name == "" || len(name) > MaxHeaderNameLength {
		return "", Invalid("headers", "header names must be 1 to %d characters", MaxHeaderNameLength)
	}
	for _, r := range name {
		if !isTokenChar(r) {
			return "", Invalid(field, "is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)")
		}
	}
	canonical := textproto.CanonicalMIMEHeaderKey(name)
	// Checked as a CGI-style receiver (PHP, WSGI, Rack) reads it, with _
	// for -: Webhook_Signature would reach it as the signature.
	asCGI := cgiName(canonical)
	if slices.Contains(reservedHeaders, asCGI) {
		return "", Invalid(field, "is reserved and set by TidySupport Webhooks (receivers such as PHP, WSGI and Rack read _ as -)")
	}
	for _, prefix := range reservedHeaderPrefixes {
		if strings.HasPrefix(asCGI, prefix) {
			return "", Invalid(field, "is reserved: names starting with %s are set by TidySupport Webhooks (receivers such as PHP, WSGI and Rack read _ as -)", prefix)
		}
	}
	if len(value) > MaxHeaderValueLength {
		return "", Invalid(field, "is longer than %d characters", MaxHeaderValueLength)
	}
	if strings.TrimSpace(value) == "" {
		return "", Invalid(field, "has no value")
	}
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "", Invalid(field, "holds a control character")
		}
	}
	return canonical, nil
}

// CheckAuthorizationHeader refuses a custom Authorization header beside
// endpoint authentication, which sets it.
func CheckAuthorizationHeader(headers map[string]string, auth *EndpointAuth) error {
	if _, ok := headers["Authorization"]; ok && auth != nil {
		return Invalid("headers.Authorization", "is reserved while auth is set: auth sets it")
	}
	return nil
}

// isTokenChar reports whether r may appear in an HTTP header name (RFC 9110
// tchar).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// Kinds of endpoint authentication.
const (
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthOAuth2 = "oauth2"
	AuthMTLS   = "mtls"
)

// Limits on endpoint authentication.
const (
	MaxCredentialLength = 4096
	MaxPEMLength        = 64 << 10
	MaxOAuthScopes      = 20
)

// EndpointAuth is how deliveries authenticate to a webhook's endpoint,
// beside the signature: one of Basic, a static bearer token, an OAuth2
// client-credentials token, or a TLS client certificate.
type EndpointAuth struct {
	Type string `json:"type"`
	// Basic.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Bearer.
	Token string `json:"token,omitempty"`
	// OAuth2 client credentials.
	TokenURL     string   `json:"tokenUrl,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
	// mTLS: a PEM certificate (chain) and its PEM private key.
	Certificate string `json:"certificatePem,omitempty"`
	PrivateKey  string `json:"privateKeyPem,omitempty"`
}

// Validate checks the fields of the auth's type, and that no other is
// set.
func (a EndpointAuth) Validate(p URLPolicy) error {
	set := a.setFields()
	var want []string
	switch a.Type {
	case AuthBasic:
		want = []string{"username", "password"}
	case AuthBearer:
		want = []string{"token"}
	case AuthOAuth2:
		want = []string{"tokenUrl", "clientId", "clientSecret", "scopes", "audience"}
	case AuthMTLS:
		want = []string{"certificatePem", "privateKeyPem"}
	case "":
		return Invalid("auth.type", "is required: basic, bearer, oauth2 or mtls")
	default:
		return Invalid("auth.type", "must be basic, bearer, oauth2 or mtls")
	}
	for _, f := range set {
		if !slices.Contains(want, f) {
			return Invalid("auth."+f, "is not a field of %s authentication", a.Type)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"username", a.Username}, {"password", a.Password}, {"token", a.Token}, {"clientId", a.ClientID},
		{"clientSecret", a.ClientSecret}, {"audience", a.Audience},
	} {
		if len(f.value) > MaxCredentialLength {
			return Invalid("auth."+f.name, "is longer than %d characters", MaxCredentialLength)
		}
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Invalid("auth."+f.name, "holds a control character")
		}
	}
	switch a.Type {
	case AuthBasic:
		if a.Username == "" {
			return Invalid("auth.username", "is required")
		}
		if strings.Contains(a.Username, ":") {
			return Invalid("auth.username", "may not hold a colon (Basic authentication joins it to the password with one)")
		}
	case AuthBearer:
		if strings.TrimSpace(a.Token) == "" {
			return Invalid("auth.token", "is required")
		}
	case AuthOAuth2:
		return a.validateOAuth2(p)
	case AuthMTLS:
		_, err := a.ClientCertificate()
		return err
	}
	return nil
}

func (a EndpointAuth) validateOAuth2(p URLPolicy) error {
	if a.TokenURL == "" {
		return Invalid("auth.tokenUrl", "is required")
	}
	if err := ValidateWebhookURL(a.TokenURL, p); err != nil {
		var v *ValidationError
		if errors.As(err, &v) {
			return Invalid("auth.tokenUrl", "%s", v.Message)
		}
		return err
	}
	if u, _ := url.Parse(a.TokenURL); u.Fragment != "" {
		return Invalid("auth.tokenUrl", "may not have a fragment")
	}
	if a.ClientID == "" {
		return Invalid("auth.clientId", "is required")
	}
	if a.ClientSecret == "" {
		return Invalid("auth.clientSecret", "is required")
	}
	if len(a.Scopes) > MaxOAuthScopes {
		return Invalid("auth.scopes", "has %d scopes; at most %d are allowed", len(a.Scopes), MaxOAuthScopes)
	}
	for _, s := range a.Scopes {
		if s == "" || len(s) > 256 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r >= 0x7f }) {
			return Invalid("auth.scopes", "%q is not a valid scope", s)
		}
	}
	return nil
}

// setFields names the fields that have a value.
func (a EndpointAuth) setFields() []string {
	var set []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"username", a.Username != ""}, {"password", a.Password != ""}, {"token", a.Token != ""},
		{"tokenUrl", a.TokenURL != ""}, {"clientId", a.ClientID != ""}, {"clientSecret", a.ClientSecret != ""},
		{"scopes", len(a.Scopes) > 0}, {"audience", a.Audience != ""},
		{"certificatePem", a.Certificate != ""}, {"privateKeyPem", a.PrivateKey != ""},
	} {
		if f.ok {
			set = append(set, f.name)
		}
	}
	return set
}

// ClientCertificate parses an mTLS auth's certificate and key: the key must
// match the certificate, and the certificate must be valid now.
func (a EndpointAuth) ClientCertificate() (tls.Certificate, error) {
	if a.Certificate == "" {
		return tls.Certificate{}, Invalid("auth.certificatePem", "is required (PEM)")
	}
	if a.PrivateKey == "" {
		return tls.Certificate{}, Invalid("auth.privateKeyPem", "is required (PEM)")
	}
	if len(a.Certificate) > MaxPEMLength || len(a.PrivateKey) > MaxPEMLength {
		return tls.Certificate{}, Invalid("auth.certificatePem", "is larger than %d bytes", MaxPEMLength)
	}
	if block, _ := pem.Decode([]byte(a.Certificate)); block == nil || block.Type != "CERTIFICATE" {
		return tls.Certificate{}, Invalid("auth.certificatePem", "is not a PEM certificate")
	}
	if block, _ := pem.Decode([]byte(a.PrivateKey)); block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return tls.Certificate{}, Invalid("auth.privateKeyPem", "is not a PEM private key")
	}
	cert, err := tls.X509KeyPair([]byte(a.Certificate), []byte(a.PrivateKey))
	if err != nil {
		return tls.Certificate{}, Invalid("auth.privateKeyPem", "does not match the certificate, or cannot be read: %v", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return tls.Certificate{}, Invalid("auth.certificatePem", "cannot be read: %v", err)
	}
	now := time.Now()
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, Invalid("auth.certificatePem", "expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, Invalid("auth.certificatePem", "is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	cert.Leaf = leaf
	return cert, nil
}

// Masked returns the auth as the API shows it: secrets replaced by Mask,
// the private key left out.
func (a EndpointAuth) Masked() EndpointAuth {
	m := a
	m.Password, m.Token, m.ClientSecret = Mask(a.Password), Mask(a.Token), Mask(a.ClientSecret)
	m.PrivateKey = ""
	return m
}

// Mask hides a secret value: its last four characters are kept when it is
// long enough (16 or more) that they give nothing away.
func Mask(v string) string {
	if v == "" {
		return ""
	}
	if r := []rune(v); len(r) >= 16 {
		return "••••" + string(r[len(r)-4:])
	}
	return "••••"
}

// CertificateLeaf parses the first certificate of a PEM chain, or returns
// nil.
func CertificateLeaf(certPEM string) *x509.Certificate {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return leaf
}

// Limits of a webhook's throttle.
const (
	MinThrottleRate = 0.01 // one delivery every 100 s
	MaxThrottleRate = 1000
	MaxThrottleConc = 1000
)

// Throttle bounds a webhook's deliveries across every worker: at most
// MaxPerSecond started per second (spaced evenly) and MaxInFlight under
// way at once; zero leaves that bound off. Deliveries over it wait their
// turn; they do not fail and do not use up a retry.
type Throttle struct {
	MaxPerSecond float64 `json:"maxPerSecond,omitempty"`
	MaxInFlight  int     `json:"maxInFlight,omitempty"`
}

// Validate checks the bounds; a throttle with neither is refused (remove
// it instead).
func (t Throttle) Validate() error {
	if t.MaxPerSecond == 0 && t.MaxInFlight == 0 {
		return Invalid("throttle", "give maxPerSecond, maxInFlight or both (null removes the throttle)")
	}
	if t.MaxPerSecond != 0 && (t.MaxPerSecond < MinThrottleRate || t.MaxPerSecond > MaxThrottleRate) {
		return Invalid("throttle.maxPerSecond", "must be from %g to %g", MinThrottleRate, float64(MaxThrottleRate))
	}
	if t.MaxInFlight < 0 || t.MaxInFlight > MaxThrottleConc {
		return Invalid("throttle.maxInFlight", "must be from 1 to %d", MaxThrottleConc)
	}
	return nil
}

// Reservation is a throttled delivery's turn. Wait is how long to wait
// before starting it; Lease, when set, names its place among the
// deliveries under way, released when it ends. RetryAfter, when set, says
// no turn was given: try again after it.
type Reservation struct {
	Wait       time.Duration
	Lease      string
	RetryAfter time.Duration
}
