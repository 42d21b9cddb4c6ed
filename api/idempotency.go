package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

// IdempotencyHeader carries a client's idempotency key on a POST (the IETF
// httpapi draft "The Idempotency-Key HTTP Header Field"): the same key and
// the same request from the same caller get the first answer again, and do
// nothing twice (hub/idempotency.go; docs/api.md, "Retrying safely").
const IdempotencyHeader = "Idempotency-Key"

// ReplayedHeader marks an answer that is the replay of an earlier one.
const ReplayedHeader = "Idempotent-Replayed"

// idempotencyKey returns the Idempotency-Key of a request, and whether it has
// one. The draft makes the value a Structured Field string (RFC 8941: in
// double quotes, printable ASCII, with \" and \\ as the only escapes); a bare
// value of letters, digits and -._:~+/= (a UUID, say) is taken as is. The key
// is 1 to 255 characters. A malformed value, or the header given more than
// once, is a KindInvalid error naming the header.
func idempotencyKey(h http.Header) (string, bool, error) {
	vals := h.Values(IdempotencyHeader)
	if len(vals) == 0 {
		return "", false, nil
	}
	bad := func(msg string) error {
		return domain.Invalid("invalid idempotency key", domain.FieldError{Field: IdempotencyHeader, Message: msg})
	}
	if len(vals) > 1 {
		return "", true, bad("must be given once")
	}
	v := strings.Trim(vals[0], " \t")
	var key []byte
	if strings.HasPrefix(v, `"`) {
		if len(v) < 2 || !strings.HasSuffix(v, `"`) {
			return "", true, bad(`must be a string in double quotes, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"`)
		}
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			ch := inner[i]
			switch {
			case ch == '\\':
				if i+1 >= len(inner) || (inner[i+1] != '"' && inner[i+1] != '\\') {
					return "", true, bad(`may escape only " and \`)
				}
				i++
				key = append(key, inner[i])
			case ch == '"':
				return "", true, bad(`must escape " inside the string`)
			case ch < 0x20 || ch > 0x7e:
				return "", true, bad("must be printable ASCII")
			default:
				key = append(key, ch)
			}
		}
	} else {
		for i := 0; i < len(v); i++ {
			ch := v[i]
			if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("-._:~+/=", ch) >= 0) {
				return "", true, bad(`must be a string in double quotes, or letters, digits and -._:~+/= only`)
			}
		}
		key = []byte(v)
	}
	if len(key) == 0 || len(key) > hub.MaxIdempotencyKey {
		return "", true, bad("must be 1 to 255 characters")
	}
	return string(key), true, nil
}

// idempotent runs h for k under the request's Idempotency-Key, when a POST
// has one: the remembered answer of the same request instead, when there is
// one; 422 for the key used with another request, 409 while its first call
// still runs, 400 for a malformed key. A successful answer is remembered as
// its bytes are sent.
func (s *Server) idempotent(k *call, h handler) (int, any, error) {
	req := k.c.Request()
	if req.Method != http.MethodPost {
		return h(k)
	}
	key, present, err := idempotencyKey(req.Header)
	if err != nil {
		return 0, nil, err
	}
	if !present {
		return h(k)
	}
	var fp bytes.Buffer
	fp.WriteString(req.Method + " " + req.URL.EscapedPath() + "\n")
	fp.Write(k.body)
	replay, err := s.cfg.Hub.Idempotent(k.ctx, k.hc, key, fp.Bytes())
	if err != nil {
		return 0, nil, err
	}
	if replay != nil {
		k.c.Response().Header().Set(ReplayedHeader, "true")
		return replay.Status, json.RawMessage(replay.Body), nil
	}
	status, body, err := h(k)
	var sent []byte
	if err == nil {
		if sent, err = encodeAnswer(body); err != nil {
			err = domain.Internal(err)
		}
	}
	if err != nil {
		s.cfg.Hub.FinishIdempotent(k.ctx, k.hc, StatusOf(err), nil)
		return status, body, err
	}
	s.cfg.Hub.FinishIdempotent(k.ctx, k.hc, status, sent)
	return status, json.RawMessage(sent), nil
}

// encodeAnswer encodes an answer as writeJSON sends it.
func encodeAnswer(body any) ([]byte, error) {
	switch v := body.(type) {
	case *hub.Answer:
		return v.JSON, nil
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
