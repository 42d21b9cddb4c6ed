package domain

import "encoding/json"

// AppendRequest is the validated body of an append (docs/api.md, "Appending
// events": type, data, classification, share_with, expected_version).
type AppendRequest struct {
	Type           EventType
	Data           Data
	RawData        []byte // canonical JSON of Data
	Classification TLP    // empty: the policy's default for the type
	ShareWith      []string
	// ExpectedVersion is the version the writer last saw, -1 when not given.
	ExpectedVersion int64
}

// ParseAppendRequest validates an append body strictly. It returns a KindInvalid
// error naming every field at fault ("type", "data.needs[0].level",
// "classification", "share_with[1]", "expected_version", or an unknown field).
func ParseAppendRequest(body []byte, dir Directory) (AppendRequest, error) {
	req := AppendRequest{ExpectedVersion: -1}
	var errs []FieldError
	r := readObject(body, "", dir, &errs)
	if r == nil {
		return req, Invalid("the body must be a JSON object", errs...)
	}
	req.Type = EventType(r.text("type", true, textRef, MaxRefLen))
	if req.Type != "" {
		if hint := OwnEndpoint(req.Type); hint != "" {
			r.fail("type", "cannot be appended here: "+hint)
		} else if !KnownEventType(req.Type) {
			r.fail("type", "is not an event type of the contract")
		}
	}
	raw, hasData := r.take("data", true)
	if tlp := r.text("classification", false, textLine, MaxRefLen); tlp != "" {
		c, err := ParseClassification(tlp, "classification")
		if err != nil {
			errs = append(errs, err.(*Error).Fields...)
		}
		req.Classification = c
	}
	req.ShareWith = r.orgs("share_with", false, false)
	if v := r.integer("expected_version", false, 0, 1<<53); v != nil {
		req.ExpectedVersion = int64(*v)
	}
	r.done()
	if len(errs) == 0 && hasData {
		d, canonical, err := DecodeData(req.Type, raw, dir, "data")
		if err != nil {
			return req, err
		}
		req.Data, req.RawData = d, canonical
	}
	if len(errs) > 0 {
		return req, Invalid("invalid event", errs...)
	}
	return req, nil
}

// ParseOpenRequest validates the body of POST /v1/cases: the CaseOpened data
// itself. Field errors name the data's fields ("subject_ref").
func ParseOpenRequest(body []byte, dir Directory) (CaseOpenedData, []byte, error) {
	d, canonical, err := DecodeData(CaseOpened, body, dir, "")
	if err != nil {
		return CaseOpenedData{}, nil, err
	}
	return d.(CaseOpenedData), canonical, nil
}

// ParseErasureRequest validates the body of an erasure request,
// {legal_basis, reference}: the basis one of LegalBases, the reference a line
// of at most MaxErasureReference characters, required for "other". Field
// errors name "legal_basis" and "reference".
func ParseErasureRequest(body []byte) (basis, reference string, err error) {
	var errs []FieldError
	r := readObject(json.RawMessage(body), "", MapDirectory{}, &errs)
	if r == nil {
		return "", "", Invalid("the body must be a JSON object", errs...)
	}
	basis, reference = r.erasureBasis()
	r.done()
	if len(errs) > 0 {
		return "", "", Invalid("invalid erasure request", errs...)
	}
	return basis, reference, nil
}

// ParseSingleText validates a body holding exactly one required free-text field
// (break-glass {justification}) and returns its value.
func ParseSingleText(body []byte, field string) (string, error) {
	var errs []FieldError
	r := readObject(json.RawMessage(body), "", MapDirectory{}, &errs)
	if r == nil {
		return "", Invalid("the body must be a JSON object", errs...)
	}
	v := r.free(field, true)
	r.done()
	if len(errs) > 0 {
		return "", Invalid("invalid request", errs...)
	}
	return v, nil
}
