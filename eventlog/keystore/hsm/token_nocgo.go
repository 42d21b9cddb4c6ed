//go:build !cgo

package hsm

// Token is a PKCS#11 token; in a build without cgo, Open fails.
type Token struct{}

// Open returns ErrNoSupport: this build cannot load a PKCS#11 module.
func Open(cfg Config) (*Token, error) { return nil, ErrNoSupport }

// Close does nothing.
func (t *Token) Close() error { return nil }

// Masters returns nothing.
func (t *Token) Masters() ([]*Master, error) { return nil, ErrNoSupport }

// Current returns ErrNoSupport.
func (t *Token) Current(create bool) (*Master, error) { return nil, ErrNoSupport }

// Generate returns ErrNoSupport.
func (t *Token) Generate() (*Master, error) { return nil, ErrNoSupport }

// Destroy returns ErrNoSupport.
func (t *Token) Destroy(m *Master) error { return ErrNoSupport }

// Extractable returns ErrNoSupport.
func (t *Token) Extractable(m *Master) (bool, error) { return false, ErrNoSupport }

// Master is a master key in a token; none exists in this build.
type Master struct{ label string }

// ID is "p11:" and the key's label.
func (m *Master) ID() string { return IDPrefix + m.label }

// Label is the key's label in the token.
func (m *Master) Label() string { return m.label }

// Wrap returns ErrNoSupport.
func (m *Master) Wrap(caseID string, key []byte) ([]byte, error) { return nil, ErrNoSupport }

// Unwrap returns ErrNoSupport.
func (m *Master) Unwrap(caseID string, wrapped []byte) ([]byte, error) { return nil, ErrNoSupport }
