package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/liaison-hub/liaison/domain"
)

// Problem is an RFC 9457 problem document. Detail never holds internal text.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

// problemTypes gives each error kind its status and stable problem type URI.
var problemTypes = map[domain.Kind]struct {
	status int
	typ    string
	title  string
}{
	domain.KindInvalid:       {http.StatusBadRequest, "https://liaison.example/problems/invalid", "Invalid request"},
	domain.KindNotFound:      {http.StatusNotFound, "https://liaison.example/problems/not-found", "Not found"},
	domain.KindForbidden:     {http.StatusForbidden, "https://liaison.example/problems/forbidden", "Forbidden by the sharing protocol"},
	domain.KindConflict:      {http.StatusConflict, "https://liaison.example/problems/conflict", "Conflict"},
	domain.KindGone:          {http.StatusGone, "https://liaison.example/problems/gone", "Erased"},
	domain.KindTooLarge:      {http.StatusRequestEntityTooLarge, "https://liaison.example/problems/too-large", "Request too large"},
	domain.KindUnauthorized:  {http.StatusUnauthorized, "https://liaison.example/problems/unauthorized", "Unauthorized"},
	domain.KindTooMany:       {http.StatusTooManyRequests, "https://liaison.example/problems/too-many-requests", "Too many requests"},
	domain.KindUnavailable:   {http.StatusServiceUnavailable, "https://liaison.example/problems/unavailable", "Unavailable"},
	domain.KindUnprocessable: {http.StatusUnprocessableEntity, "https://liaison.example/problems/unprocessable", "Unprocessable request"},
	domain.KindInternal:      {http.StatusInternalServerError, "https://liaison.example/problems/internal", "Internal error"},
}

// Status returns the HTTP status of an error kind: the one place kinds meet HTTP.
func Status(k domain.Kind) int {
	if t, ok := problemTypes[k]; ok {
		return t.status
	}
	return http.StatusInternalServerError
}

// StatusOf returns the HTTP status of an error: Status of its kind.
func StatusOf(err error) int { return Status(domain.KindOf(err)) }

// problemOf turns any error into a Problem a caller may see: the message of a
// *domain.Error (never its cause), a bare title for anything else.
func problemOf(err error) Problem {
	var e *domain.Error
	if !errors.As(err, &e) {
		e = domain.Internal(err)
	}
	t, ok := problemTypes[e.Kind]
	if !ok {
		t = problemTypes[domain.KindInternal]
	}
	p := Problem{Type: t.typ, Title: t.title, Status: t.status, Errors: e.Fields}
	switch e.Kind {
	case domain.KindInternal:
	case domain.KindUnauthorized:
		// A missing or bad token: say no more than that, whatever was wrong.
		p.Detail = "a valid bearer token is required"
	default:
		p.Detail = e.Message
	}
	return p
}

func (p Problem) body() []byte {
	b, _ := json.Marshal(p)
	return b
}
