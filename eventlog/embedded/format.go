package embedded

import (
	"errors"
	"fmt"
)

// The store's format.
//
// The store records the format of its keys and records (keys.go) under the
// metadata key "format": schemaVersion, one byte. Open refuses a store of a
// newer format than this build writes, with an error wrapping ErrNewerFormat
// that says so, rather than misread it. An incompatible change of the format
// comes with a new schemaVersion, the upgrade of the stores of the older one
// and a command that runs it, with their test. Format 1 is the first, and a
// store of format 0 is no store of liaison's (docs/operations.md,
// "Upgrades"). Format 2 is format 1 with pruned journal records
// (PruneRecords): a store is created in format 1 and written in format 2 by
// its first pruning, so that a release that reads format 1 only, which would
// take the pruned records for missing ones, refuses it instead; this build
// reads both.

// ErrNewerFormat is wrapped by the error Open returns for a store written by
// a newer release of liaison.
var ErrNewerFormat = errors.New("embedded: written by a newer liaison")

// SchemaVersion is the newest store format this build writes and reads.
const SchemaVersion = schemaVersion

// checkFormat checks the stored format v of the store in dir.
func checkFormat(dir string, v []byte) error {
	switch {
	case len(v) != 1 || v[0] == 0:
		return corruptf("%q has a malformed format %x", dir, v)
	case v[0] > schemaVersion:
		return fmt.Errorf("%w: the store %q has format %d, and this build reads formats up to %d: run the liaison release that wrote it (or a later one), or restore a backup that this release made", ErrNewerFormat, dir, v[0], schemaVersion)
	}
	return nil
}
