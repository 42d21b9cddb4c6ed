package domain

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers that must react to it (the HTTP layer maps
// each kind to one status). Kinds are persisted in access records: append-only,
// never renumber.
type Kind uint8

// Error kinds.
const (
	KindInternal      Kind = iota // a fault of the hub; callers see no detail
	KindInvalid                   // the request is malformed or breaks a validation rule
	KindNotFound                  // no such thing, or not visible to the caller
	KindForbidden                 // visible, but the protocol refuses this caller
	KindConflict                  // the state changed, or forbids this change (stale version, closed case)
	KindGone                      // the thing existed and was erased
	KindTooLarge                  // the request exceeds a size limit
	KindUnauthorized              // no identity could be verified (missing or refused token)
	KindTooMany                   // the caller exceeds its request rate
	KindUnavailable               // the hub cannot serve this now (starting, behind, storage down); try again
	KindUnprocessable             // well-formed, but not to be processed as sent (an idempotency key reused for another request)
)

var kindNames = [...]string{"internal", "invalid", "not-found", "forbidden", "conflict", "gone", "too-large", "unauthorized", "too-many", "unavailable", "unprocessable"}

// String returns the kind's stable name ("invalid", "not-found", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// FieldError names one field of a request and what is wrong with it. Field is a
// path such as "data.needs[1].level".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the hub's error: a kind, a message safe to show to the caller, the
// fields at fault for KindInvalid, and the underlying cause (never shown).
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	Err     error
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	msg := e.Message
	if len(e.Fields) > 0 {
		msg = fmt.Sprintf("%s: %s: %s", msg, e.Fields[0].Field, e.Fields[0].Message)
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted, caller-safe message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error listing the fields at fault.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Message: message, Fields: fields}
}

// Internal wraps err as a KindInternal error; its text is never shown to callers.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Message: "internal error", Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, KindInternal for any
// other non-nil error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
