// Package hsm keeps the hub's master key in a PKCS#11 token — a hardware
// security module in production, SoftHSM in tests — so that the hub never
// holds it: case keys are wrapped and unwrapped inside the token (AES-256-GCM,
// CKM_AES_GCM, the case id as additional data), and the master key is
// generated there as a sensitive, non-extractable token object
// (docs/operations.md, "Key custody").
//
// A token holds the hub's master keys under the labels "<label>-1",
// "<label>-2", …: the highest generation is the current one, which wraps new
// case keys; a rotation (liaison keys rotate-master) generates the next one
// and wraps every case key again (keystore.FileStore.Rewrap); older ones stay
// until they are retired. A Master is a keystore.Master.
//
// The token is reached through github.com/ThalesGroup/crypto11, which loads
// the vendor's PKCS#11 module with cgo: a liaison built without cgo has no
// PKCS#11 support, and Open says so.
package hsm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultLabel is the label prefix of the hub's master keys in the token.
const DefaultLabel = "liaison-master"

// Config says where the token is.
type Config struct {
	// Module is the path of the vendor's PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// Token is the label of the token.
	Token string
	// PIN is the user PIN of the token.
	PIN string
	// Label is the label prefix of the master keys (DefaultLabel when "").
	Label string
}

// ErrNoSupport is returned by Open in a build without cgo.
var ErrNoSupport = errors.New("hsm: this liaison was built without cgo and cannot load a PKCS#11 module; build it with CGO_ENABLED=1")

// IDPrefix starts the ID of every master kept in a token.
const IDPrefix = "p11:"

// generation parses "<prefix>-<n>", returning n, or 0 when label is not one
// of the prefix's.
func generation(prefix, label string) int {
	rest, ok := strings.CutPrefix(label, prefix+"-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0
	}
	return n
}

func (c Config) label() string {
	if c.Label == "" {
		return DefaultLabel
	}
	return c.Label
}

func (c Config) check() error {
	if c.Module == "" || c.Token == "" {
		return fmt.Errorf("hsm: the PKCS#11 module and the token label are required")
	}
	return nil
}
