package api

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/liaison-hub/liaison/domain"
)

// The trust file (--trust FILE, docs/operations.md "Connecting identity
// providers") lists the identity providers the hub trusts. It is YAML (JSON
// is YAML too), read with line numbers so that every error names the line and
// the field at fault:
//
//	issuers:
//	  - alias: north-prison                  # subjects become "north-prison:<sub>"
//	    label: Prison service (HMP North)    # shown on the console's sign-in page
//	    issuer: https://idp.north.example    # the tokens' iss, exactly
//	    discovery: https://idp.north.example/.well-known/openid-configuration
//	    audience: liaison-hub                # the tokens' aud must hold it
//	    organisations: [prison-service]      # what it may assert
//	    organisation: prison-service         # fixed; or organisation_claim: PATH
//	    roles_claim: groups                  # default "roles"
//	    roles: {caseworkers: caseworker, security: [security-officer]}
//	    subject_claim: sub                   # the default
//	    console: {client_id: liaison-console}
//	    clients:
//	      - {client_id: north-cms, organisation: prison-service, roles: [caseworker]}

// TrustFile is a validated trust file: the issuers, in the file's order.
type TrustFile struct {
	// Name is the file's name, as errors give it.
	Name    string
	Issuers []TrustedIssuer
}

// TrustedIssuer is one entry of a trust file.
type TrustedIssuer struct {
	// Alias names the issuer in subjects ("<alias>:<sub>") and on the
	// console: a short id, unique in the file.
	Alias string
	// Label is what the console shows for the issuer (default: its
	// organisations).
	Label string
	// Issuer is the tokens' iss; Audience a value their aud must hold.
	Issuer, Audience string
	// Discovery, JWKSURL and JWKSFile: exactly one says where the keys are
	// (the discovery document's jwks_uri, a JWKS URL, a JWKS file).
	Discovery, JWKSURL, JWKSFile string
	// Mapping maps the issuer's claims to Liaison's identity.
	Mapping Mapping
	// ConsoleClientID is the console's public client at this issuer; empty
	// when the console does not offer it. ConsoleScopes are the scopes it
	// asks for.
	ConsoleClientID string
	ConsoleScopes   []string
	// Line is the line of the entry in the file.
	Line int
}

// Catalogue is what the trust file is checked against: the policy's
// organisation directory and the roles it knows for each type
// (policies.Bundle.Roles).
type Catalogue struct {
	Directory domain.Directory
	Roles     func(domain.OrgType) []string
}

// TrustError is an error of a trust file: the line, the field (a path such as
// issuers[1].roles.caseworkers) and what is wrong.
type TrustError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *TrustError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// aliasPattern is a short id: lower-case letters, digits and dashes, at most
// 32, starting with a letter or digit (never a colon, which ends it in a
// subject).
var aliasPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// claimPathPattern is a dotted path of claim names: "groups",
// "realm_access.roles".
var claimPathPattern = regexp.MustCompile(`^[^.\s]+(\.[^.\s]+)*$`)

// DefaultConsoleScopes are the scopes the console asks for when the trust
// file names none: an ID token, and a refresh token to stay signed in.
var DefaultConsoleScopes = []string{"openid", "offline_access"}

// LoadTrust reads and validates the trust file at path (ParseTrust).
func LoadTrust(path string, cat Catalogue) (*TrustFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	return ParseTrust(path, b, cat)
}

// ParseTrust parses and validates a trust file named name: its structure
// (no unknown field, every required one), its values (short aliases, URLs,
// claim paths) and its organisations and roles against cat. The error is a
// *TrustError naming the first fault's line and field.
func ParseTrust(name string, b []byte, cat Catalogue) (*TrustFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		var te *yaml.TypeError
		line := 1
		msg := err.Error()
		if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &line)
		}
		if errors.As(err, &te) {
			msg = strings.Join(te.Errors, "; ")
		}
		// The YAML parser's line is where it noticed the fault: the fault
		// itself may be on the line after.
		msg = regexp.MustCompile(`^(yaml: )?line \d+: `).ReplaceAllString(msg, "")
		return nil, &TrustError{File: name, Line: line, Msg: "not YAML or JSON (at or just after this line): " + msg}
	}
	p := &trustParser{file: name, cat: cat}
	if len(doc.Content) == 0 {
		return nil, &TrustError{File: name, Line: 1, Msg: "the file is empty: it must list issuers"}
	}
	t := &TrustFile{Name: name}
	err := p.fields(doc.Content[0], "", map[string]func(*yaml.Node, string) error{
		"issuers": func(n *yaml.Node, field string) error {
			if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
				return p.errorf(n, field, "must be a list of at least one issuer")
			}
			for i, item := range n.Content {
				iss, err := p.issuer(item, fmt.Sprintf("%s[%d]", field, i))
				if err != nil {
					return err
				}
				for _, prev := range t.Issuers {
					if prev.Alias == iss.Alias {
						return p.errorf(item, field+fmt.Sprintf("[%d].alias", i), "%q is also the alias of the issuer on line %d", iss.Alias, prev.Line)
					}
					if prev.Issuer == iss.Issuer {
						return p.errorf(item, field+fmt.Sprintf("[%d].issuer", i), "%q is also the issuer on line %d", iss.Issuer, prev.Line)
					}
				}
				t.Issuers = append(t.Issuers, iss)
			}
			return nil
		},
	}, "issuers")
	if err != nil {
		return nil, err
	}
	return t, nil
}

// trustParser walks the file's nodes.
type trustParser struct {
	file string
	cat  Catalogue
}

func (p *trustParser) errorf(n *yaml.Node, field, format string, args ...any) error {
	return &TrustError{File: p.file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// fields reads a mapping: each key's handler gets its value; an unknown key,
// a repeated one or a missing required one is an error.
func (p *trustParser) fields(n *yaml.Node, field string, handlers map[string]func(*yaml.Node, string) error, required ...string) error {
	if n.Kind != yaml.MappingNode {
		what := field
		if what == "" {
			what = "the file"
		}
		return p.errorf(n, field, "%s must be a mapping of fields", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		h, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			slices.Sort(known)
			return p.errorf(k, sub, "unknown field (known: %s)", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errorf(k, sub, "given twice")
		}
		seen[k.Value] = true
		if err := h(v, sub); err != nil {
			return err
		}
	}
	for _, r := range required {
		if !seen[r] {
			sub := r
			if field != "" {
				sub = field + "." + r
			}
			return p.errorf(n, sub, "is required")
		}
	}
	return nil
}

// str reads a non-empty scalar into *dst.
func (p *trustParser) str(dst *string) func(*yaml.Node, string) error {
	return func(n *yaml.Node, field string) error {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
			return p.errorf(n, field, "must be a non-empty string")
		}
		if hasControl(n.Value) || len(n.Value) > 2048 {
			return p.errorf(n, field, "must be one line of at most 2048 bytes")
		}
		*dst = n.Value
		return nil
	}
}

// list reads a non-empty list of distinct non-empty strings (or one string)
// into *dst.
func (p *trustParser) list(dst *[]string) func(*yaml.Node, string) error {
	return func(n *yaml.Node, field string) error {
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		if len(items) == 0 {
			return p.errorf(n, field, "must not be empty")
		}
		var out []string
		for i, it := range items {
			var s string
			sub := field
			if n.Kind == yaml.SequenceNode {
				sub = fmt.Sprintf("%s[%d]", field, i)
			}
			if err := p.str(&s)(it, sub); err != nil {
				return err
			}
			if slices.Contains(out, s) {
				return p.errorf(it, sub, "%q is listed twice", s)
			}
			out = append(out, s)
		}
		*dst = out
		return nil
	}
}

// issuer reads and checks one entry of issuers.
func (p *trustParser) issuer(n *yaml.Node, field string) (TrustedIssuer, error) {
	iss := TrustedIssuer{Line: n.Line}
	m := &iss.Mapping
	var roleNodes *yaml.Node
	var clientNodes *yaml.Node
	lines := map[string]*yaml.Node{}
	keep := func(name string, h func(*yaml.Node, string) error) func(*yaml.Node, string) error {
		return func(v *yaml.Node, f string) error { lines[name] = v; return h(v, f) }
	}
	err := p.fields(n, field, map[string]func(*yaml.Node, string) error{
		"alias":              keep("alias", p.str(&iss.Alias)),
		"label":              p.str(&iss.Label),
		"issuer":             keep("issuer", p.str(&iss.Issuer)),
		"discovery":          keep("discovery", p.str(&iss.Discovery)),
		"jwks_url":           keep("jwks_url", p.str(&iss.JWKSURL)),
		"jwks_file":          keep("jwks_file", p.str(&iss.JWKSFile)),
		"audience":           p.str(&iss.Audience),
		"organisations":      keep("organisations", p.list(&m.Organisations)),
		"organisation":       keep("organisation", p.str(&m.Organisation)),
		"organisation_claim": keep("organisation_claim", p.str(&m.OrganisationClaim)),
		"subject_claim":      keep("subject_claim", p.str(&m.SubjectClaim)),
		"roles_claim":        keep("roles_claim", p.str(&m.RolesClaim)),
		"roles":              func(v *yaml.Node, _ string) error { roleNodes = v; return nil },
		"clients":            func(v *yaml.Node, _ string) error { clientNodes = v; return nil },
		"console": func(v *yaml.Node, f string) error {
			lines["console"] = v
			return p.fields(v, f, map[string]func(*yaml.Node, string) error{
				"client_id": p.str(&iss.ConsoleClientID),
				"scopes":    p.list(&iss.ConsoleScopes),
			}, "client_id")
		},
	}, "alias", "issuer", "audience", "organisations")
	if err != nil {
		return iss, err
	}
	if !aliasPattern.MatchString(iss.Alias) {
		return iss, p.errorf(lines["alias"], field+".alias", "%q is not a short id (a-z, 0-9 and -, at most 32, starting with a letter or digit)", iss.Alias)
	}
	m.Alias = iss.Alias
	if err := checkURL(iss.Issuer); err != nil {
		return iss, p.errorf(lines["issuer"], field+".issuer", "%v", err)
	}
	sources := 0
	for _, k := range []string{"discovery", "jwks_url", "jwks_file"} {
		if v := lines[k]; v != nil {
			sources++
			if k != "jwks_file" {
				if err := checkURL(v.Value); err != nil {
					return iss, p.errorf(v, field+"."+k, "%v", err)
				}
			}
		}
	}
	if sources != 1 {
		return iss, p.errorf(n, field, "give exactly one of discovery, jwks_url and jwks_file (where the issuer's keys are)")
	}
	if lines["console"] != nil && iss.Discovery == "" {
		return iss, p.errorf(lines["console"], field+".console", "needs discovery: the console learns the provider's endpoints from its discovery document")
	}
	if lines["console"] != nil && iss.ConsoleScopes == nil {
		iss.ConsoleScopes = DefaultConsoleScopes
	}
	// Organisations: of the directory, and the one asserted fixed or from a claim.
	types := map[string]domain.OrgType{}
	for i, org := range m.Organisations {
		t, ok := p.cat.Directory.TypeOf(org)
		if !ok {
			return iss, p.errorf(lines["organisations"], fmt.Sprintf("%s.organisations[%d]", field, i), "%q is not an organisation of the policy's directory", org)
		}
		types[org] = t
	}
	switch {
	case m.Organisation != "" && m.OrganisationClaim != "":
		return iss, p.errorf(lines["organisation_claim"], field+".organisation_claim", "give organisation (fixed) or organisation_claim, not both")
	case m.Organisation != "":
		if _, ok := types[m.Organisation]; !ok {
			return iss, p.errorf(lines["organisation"], field+".organisation", "%q is not one of the issuer's organisations", m.Organisation)
		}
	case m.OrganisationClaim == "":
		return iss, p.errorf(n, field+".organisation", "is required: give organisation (fixed) or organisation_claim (a claim naming one of organisations)")
	}
	for _, k := range []string{"organisation_claim", "subject_claim", "roles_claim"} {
		if v := lines[k]; v != nil && !claimPathPattern.MatchString(v.Value) {
			return iss, p.errorf(v, field+"."+k, "%q is not a claim path (names separated by dots, e.g. realm_access.roles)", v.Value)
		}
	}
	// The roles each organisation may be given: those the policy knows for its type.
	m.allowed = map[string]map[string]bool{}
	for org, t := range types {
		m.allowed[org] = map[string]bool{}
		for _, r := range p.cat.Roles(t) {
			m.allowed[org][r] = true
		}
	}
	if roleNodes != nil {
		if err := p.roleMap(roleNodes, field+".roles", m); err != nil {
			return iss, err
		}
	}
	if clientNodes != nil {
		if err := p.clients(clientNodes, field+".clients", m); err != nil {
			return iss, err
		}
	}
	return iss, nil
}

// roleMap reads the table of provider roles to Liaison roles: each Liaison
// role must be one the policy knows for the type of one of the issuer's
// organisations.
func (p *trustParser) roleMap(n *yaml.Node, field string, m *Mapping) error {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return p.errorf(n, field, "must map provider roles to Liaison roles, e.g. {caseworkers: caseworker}")
	}
	m.Roles = map[string][]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := field + "." + k.Value
		if k.Value == "" {
			return p.errorf(k, field, "a provider role must not be empty")
		}
		if _, dup := m.Roles[k.Value]; dup {
			return p.errorf(k, sub, "given twice")
		}
		var roles []string
		if err := p.list(&roles)(v, sub); err != nil {
			return err
		}
		for j, r := range roles {
			if !m.roleKnown(r, m.Organisations...) {
				at := sub
				if v.Kind == yaml.SequenceNode {
					at = fmt.Sprintf("%s[%d]", sub, j)
				}
				return p.errorf(v, at, "%q is not a role the policy knows for the type of %s", r, strings.Join(m.Organisations, " or "))
			}
		}
		m.Roles[k.Value] = roles
	}
	return nil
}

// clients reads the machine clients: client id → organisation and roles.
func (p *trustParser) clients(n *yaml.Node, field string, m *Mapping) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return p.errorf(n, field, "must be a list of {client_id, organisation, roles}")
	}
	m.Clients = map[string]MachineClient{}
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", field, i)
		var id string
		var c MachineClient
		var orgNode, rolesNode *yaml.Node
		err := p.fields(item, sub, map[string]func(*yaml.Node, string) error{
			"client_id":    p.str(&id),
			"organisation": func(v *yaml.Node, f string) error { orgNode = v; return p.str(&c.Organisation)(v, f) },
			"roles": func(v *yaml.Node, f string) error {
				rolesNode = v
				if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
					c.Roles = []string{}
					return nil
				}
				return p.list(&c.Roles)(v, f)
			},
		}, "client_id", "organisation", "roles")
		if err != nil {
			return err
		}
		if _, dup := m.Clients[id]; dup {
			return p.errorf(item, sub+".client_id", "%q is listed twice", id)
		}
		if !slices.Contains(m.Organisations, c.Organisation) {
			return p.errorf(orgNode, sub+".organisation", "%q is not one of the issuer's organisations", c.Organisation)
		}
		for j, r := range c.Roles {
			if !m.roleKnown(r, c.Organisation) {
				return p.errorf(rolesNode, fmt.Sprintf("%s.roles[%d]", sub, j), "%q is not a role the policy knows for the type of %s", r, c.Organisation)
			}
		}
		m.Clients[id] = c
	}
	return nil
}

// checkURL accepts an absolute https URL, or http on a loopback host (a
// provider on the same machine, as in tests).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q: only https, or http on a loopback address, is accepted", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
