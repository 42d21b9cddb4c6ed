package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Mapping says how the claims of an issuer's tokens become the identity the
// hub acts on (docs/operations.md, "Connecting identity providers"):
//
//   - the subject is the claim SubjectClaim ("sub" by default), namespaced
//     with the issuer's alias, "<alias>:<sub>", so that two providers' "anna"
//     are two people everywhere the hub keys by subject (events' authors,
//     break-glass grants, the four-eyes check of erasure, the rate limit);
//   - the organisation is Organisation, or the value of the claim
//     OrganisationClaim, and must be one of Organisations (those the issuer
//     may assert); a token of an issuer with a fixed organisation that names
//     another in Liaison's own claim, agency, asserts that one and is refused;
//   - the roles are the values of the claim RolesClaim ("roles" by default)
//     translated by Roles (when the table is given; provider roles it does
//     not list are ignored), keeping only roles the policy knows for the
//     organisation's type;
//   - a machine client (a client-credentials token: sub and client_id both
//     the client's id) is one of Clients, with the organisation and roles
//     the trust file gives it; any other client-credentials token is refused.
type Mapping struct {
	Alias             string
	SubjectClaim      string
	Organisation      string
	OrganisationClaim string
	Organisations     []string
	RolesClaim        string
	Roles             map[string][]string
	Clients           map[string]MachineClient

	// allowed holds, by organisation, the roles the policy knows for its
	// type (filled when the trust file is checked).
	allowed map[string]map[string]bool
}

// MachineClient is a partner system that gets its tokens by OAuth 2.0 client
// credentials: the organisation and roles it acts with.
type MachineClient struct {
	Organisation string
	Roles        []string
}

// roleKnown reports whether role is known for the type of one of orgs.
func (m *Mapping) roleKnown(role string, orgs ...string) bool {
	for _, o := range orgs {
		if m.allowed[o][role] {
			return true
		}
	}
	return false
}

// mapped is the identity a token's claims map to.
type mapped struct {
	subject string // namespaced
	agency  string
	roles   []string
}

// apply maps verified claims; it returns an error saying why the token is
// refused (a claim missing or of the wrong type, an organisation not bound to
// the issuer, an unknown machine client).
func (m *Mapping) apply(c jwt.MapClaims) (mapped, error) {
	sub, err := stringClaim(c, m.subjectClaim())
	if err != nil {
		return mapped{}, err
	}
	out := mapped{subject: m.Alias + ":" + sub}
	rawSub, _ := c["sub"].(string)
	if cid, _ := c["client_id"].(string); cid != "" && cid == rawSub {
		mc, ok := m.Clients[cid]
		if !ok {
			return out, fmt.Errorf("client %q (client credentials) is not a machine client of the trust file", cid)
		}
		out.agency, out.roles = mc.Organisation, slices.Clone(mc.Roles)
		if out.roles == nil {
			out.roles = []string{}
		}
		return out, nil
	}
	if out.agency, err = m.organisation(c); err != nil {
		return out, err
	}
	if !slices.Contains(m.Organisations, out.agency) {
		return out, fmt.Errorf("organisation %q is not bound to this issuer (it may assert %s)", out.agency, strings.Join(m.Organisations, ", "))
	}
	given, err := listClaim(c, m.rolesClaim())
	if err != nil {
		return out, err
	}
	out.roles = []string{}
	add := func(r string) {
		if m.allowed[out.agency][r] && !slices.Contains(out.roles, r) {
			out.roles = append(out.roles, r)
		}
	}
	for _, g := range given {
		if m.Roles == nil {
			add(g)
			continue
		}
		for _, r := range m.Roles[g] {
			add(r)
		}
	}
	return out, nil
}

// claimed is apply for the access record of a refused token: what the token
// claims, as far as it can be read, never an error.
func (m *Mapping) claimed(c jwt.MapClaims) mapped {
	sub, _ := stringClaim(c, m.subjectClaim())
	out := mapped{subject: m.Alias + ":" + sub}
	rawSub, _ := c["sub"].(string)
	if cid, _ := c["client_id"].(string); cid != "" && cid == rawSub {
		if mc, ok := m.Clients[cid]; ok {
			return mapped{subject: out.subject, agency: mc.Organisation, roles: mc.Roles}
		}
	}
	out.agency, _ = m.organisation(c)
	out.roles, _ = listClaim(c, m.rolesClaim())
	return out
}

// organisation returns the organisation a token asserts: the issuer's fixed
// one — unless the token names another in Liaison's own agency claim, which
// it then asserts (and is refused for) — or its organisation claim's.
func (m *Mapping) organisation(c jwt.MapClaims) (string, error) {
	if m.Organisation != "" {
		if named, ok := c["agency"].(string); ok && named != m.Organisation {
			return named, nil
		}
		return m.Organisation, nil
	}
	return stringClaim(c, m.OrganisationClaim)
}

func (m *Mapping) subjectClaim() string {
	if m.SubjectClaim == "" {
		return "sub"
	}
	return m.SubjectClaim
}

func (m *Mapping) rolesClaim() string {
	if m.RolesClaim == "" {
		return "roles"
	}
	return m.RolesClaim
}

// claimAt returns the value at a dotted claim path ("realm_access.roles"),
// and whether it is there.
func claimAt(c map[string]any, path string) (any, bool) {
	var v any = c
	for _, name := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// stringClaim returns the non-empty string at path.
func stringClaim(c map[string]any, path string) (string, error) {
	v, ok := claimAt(c, path)
	if !ok {
		return "", fmt.Errorf("claim %s is missing", path)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("claim %s is not a non-empty string", path)
	}
	return s, nil
}

// listClaim returns the strings at path: an array of strings, or one string.
// A missing claim is no role at all.
func listClaim(c map[string]any, path string) ([]string, error) {
	v, ok := claimAt(c, path)
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s holds a %T, not only strings", path, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("claim %s is a %T, not a list of strings", path, v)
}

// liaisonClaims reads Liaison's own claims (agency, roles: the development
// issuer's and a one-issuer --jwks-file/--jwks-url deployment's), as the
// contract requires them.
func liaisonClaims(c jwt.MapClaims) (mapped, error) {
	out := mapped{}
	var ok bool
	if v, present := c["sub"]; present {
		if out.subject, ok = v.(string); !ok {
			return out, errors.New("sub must be a string")
		}
	}
	if v, present := c["agency"]; present {
		if out.agency, ok = v.(string); !ok {
			return out, errors.New("agency must be a string")
		}
	}
	if v, present := c["roles"]; present && v != nil {
		l, isList := v.([]any)
		if !isList {
			return out, errors.New("roles must be an array of strings")
		}
		out.roles = make([]string, 0, len(l))
		for _, e := range l {
			s, isStr := e.(string)
			if !isStr {
				return out, errors.New("roles must be an array of strings")
			}
			out.roles = append(out.roles, s)
		}
	}
	return out, nil
}
