// Package dashboard is the web page customers manage their webhooks with:
// static HTML, CSS and JavaScript, embedded in the binary and served by the
// API process. The page signs in with an API key and calls the public REST
// API with it, so it can do nothing the API does not allow. It imports
// only the standard library.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	pathpkg "path"
	"strings"
)

//go:embed static
var static embed.FS

// Has reports whether the dashboard serves a page or file at path (as
// Handler sees it: "/" or "/app.js"), so that the API can answer anything
// else in its own error shape.
func Has(path string) bool {
	name := strings.TrimPrefix(pathpkg.Clean("/"+path), "/")
	if name == "" {
		return true
	}
	info, err := fs.Stat(static, "static/"+name)
	return err == nil && !info.IsDir()
}

// Options are what a deployment changes in how the dashboard is served.
type Options struct {
	// FrameAncestors are the origins that may frame the dashboard (the
	// embedded portal); none by default.
	FrameAncestors []string
	// ImageOrigin is one more origin images may load from (the portal
	// theme's logo).
	ImageOrigin string
}

// Handler serves the dashboard's files from its root.
func Handler(opts Options) http.Handler {
	fileServer := http.FileServerFS(static)
	frame := "'none'"
	if len(opts.FrameAncestors) > 0 {
		frame = strings.Join(opts.FrameAncestors, " ")
	}
	img := "'self' data:"
	if opts.ImageOrigin != "" {
		img += " " + opts.ImageOrigin
	}
	// Only our own script and styles; the API on the same origin.
	policy := "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src " + img +
		"; form-action 'none'; frame-ancestors " + frame + "; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/static" + r.URL.Path
		r2.URL.RawPath = ""
		fileServer.ServeHTTP(w, r2)
	})
}
