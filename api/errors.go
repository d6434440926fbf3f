package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/models"
)

var (
	errNoRoute  = errors.New("no such route")
	errNoMethod = errors.New("method not allowed")
)

// badRequest is a request this API cannot parse (400).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"requestId,omitempty"`
	} `json:"error"`
}

// unavailableRetryAfter is the Retry-After of a 503, in seconds.
const unavailableRetryAfter = 5

// ingestRoutes are the routes whose refusals tidyhooks_events_rejected_total
// counts.
var ingestRoutes = map[string]bool{"/v1/events": true, "/v1/events/batch": true}

// fail is the one place errors become HTTP statuses. Internal errors are
// logged here, once, and the client sees a generic message.
func (s *Server) fail(c *gin.Context, err error) {
	status, code, msg := classify(err)
	if ingestRoutes[c.FullPath()] {
		s.metrics.rejected.WithLabelValues(code).Inc()
	}
	var rl *rateLimited
	switch {
	case errors.As(err, &rl):
		c.Header("Retry-After", strconv.Itoa(rl.retryAfter))
		if rl.what != "" {
			msg = "too many " + rl.what + "; retry after the Retry-After header's seconds"
		}
	case status == http.StatusServiceUnavailable:
		c.Header("Retry-After", strconv.Itoa(unavailableRetryAfter))
	}
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		s.logger.ErrorContext(c.Request.Context(), "request failed", "request_id", c.GetString(requestIDContext), "method", c.Request.Method, "path", c.FullPath(), "status", status, "error", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.RequestID = code, msg, c.GetString(requestIDContext)
	c.AbortWithStatusJSON(status, body)
}

func classify(err error) (int, string, string) {
	var (
		ve *models.ValidationError
		tl *models.TooLargeError
		br *badRequest
		ce *models.ConflictError
		mb *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, "too_large", "the request body is larger than the limit"
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, "too_large", tl.Error()
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, "invalid_field", ve.Error()
	case errors.As(err, &br):
		return http.StatusBadRequest, "malformed_request", br.msg
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found", "no such route"
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error()
	case errors.Is(err, errNoMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed", "this route does not accept that method"
	case errors.Is(err, models.ErrPortalCode):
		return http.StatusUnauthorized, "unauthorized", strings.TrimPrefix(err.Error(), models.ErrPortalCode.Error()+": ")
	case errors.Is(err, models.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized", err.Error()
	case errors.Is(err, models.ErrForbidden):
		return http.StatusForbidden, "forbidden", strings.TrimPrefix(err.Error(), models.ErrForbidden.Error()+": ")
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "not_found", "not found"
	case errors.Is(err, models.ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited", "too many requests for this API key; retry after the Retry-After header's seconds"
	case errors.Is(err, models.ErrLimit):
		return http.StatusConflict, "limit_reached", err.Error()
	case errors.As(err, &ce):
		return http.StatusConflict, "conflict", ce.Message
	case errors.Is(err, models.ErrConflict):
		return http.StatusConflict, "conflict", "conflicts with the current state"
	case errors.Is(err, models.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", "a dependency is unavailable; retry later"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// decode reads a JSON body into v strictly: one value, no unknown fields.
// Syntax errors are 400; wrong types and unknown fields are 422 naming the
// field; an oversized body is 413.
func decode(c *gin.Context, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &badRequest{msg: "the body must hold exactly one JSON value"}
	}
	return unambiguous(body)
}

// unambiguous refuses JSON that parsers read differently: text that is
// not UTF-8 (encoding/json makes it U+FFFD, others refuse it or keep the
// bytes) and an object naming a member twice (one parser takes the first,
// another the last), as I-JSON (RFC 7493) does. The body has parsed.
func unambiguous(body []byte) error {
	if !utf8.Valid(body) {
		return &badRequest{msg: "the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// One set of names per open object (nil for an array); inObject says
	// whether the next string token is a name.
	var names []map[string]bool
	var isName []bool
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF: the value ended (it parsed before)
		}
		expectName := len(isName) > 0 && isName[len(isName)-1]
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				names, isName = append(names, map[string]bool{}), append(isName, true)
				continue
			case '[':
				names, isName = append(names, nil), append(isName, false)
				continue
			default:
				names, isName = names[:len(names)-1], isName[:len(isName)-1]
			}
		case string:
			if expectName {
				if names[len(names)-1][t] {
					return &badRequest{msg: fmt.Sprintf("the body names %q twice in one object", t)}
				}
				names[len(names)-1][t] = true
				isName[len(isName)-1] = false // its value comes next
				continue
			}
		}
		// A value ended: in an object, a name comes next.
		if len(names) > 0 && names[len(names)-1] != nil {
			isName[len(isName)-1] = true
		}
	}
}

// emptyBody checks that a call taking no input got none, or at most an
// empty JSON object: anything else is refused as decode refuses it.
func emptyBody(c *gin.Context) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return decode(c, 1<<10, &none)
}

// strictJSON decodes one nested JSON value as decode does the body:
// unknown fields refused.
func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// fieldError is decodeError for a value nested in field.
func fieldError(field string, err error) error {
	var v *models.ValidationError
	if errors.As(decodeError(err), &v) {
		if v.Field == "" || v.Field == field {
			return models.Invalid(field, "%s", v.Message)
		}
		return models.Invalid(field+"."+v.Field, "%s", v.Message)
	}
	return models.Invalid(field, "must be a JSON object")
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mb  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return err
	case errors.Is(err, io.EOF):
		return &badRequest{msg: "the body is empty; it must be a JSON object"}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &badRequest{msg: "the body is not valid JSON"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &badRequest{msg: "the body must be a JSON object"}
		}
		return models.Invalid(field, "must be %s", jsonType(typ.Type.Kind().String()))
	// encoding/json reports an unknown field with an untyped error whose
	// text is its documented form; there is nothing else to match on.
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return models.Invalid(name, "is not a known field")
	}
	return &badRequest{msg: "the body could not be read as JSON"}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}
