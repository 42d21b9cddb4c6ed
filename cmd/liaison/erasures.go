package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/hub"
)

// Erasure across restores (docs/operations.md, "Backup and restore";
// docs/protocol.md, "Erasure (four eyes)").
//
// When the projections apply a CaseErased event, the hub destroys the case
// key and enters the erasure with its events (the officer's ErasureRequested,
// when there was one, and CaseErased; both unsealed: codes and ids, no
// content) in the register of erasures kept with the keys
// (keystore.FileStore.DestroyNoted). At start, before the projections read
// the log, it compares the register with the log: a case the register says
// was erased whose stream holds no CaseErased — a log restored from a backup
// taken before the erasure — gets the noted events it lacks appended again,
// with an access record saying why, so that the hub answers for it exactly
// as it did after the erasure (410 to those who could see it, 404 to
// everyone else, in no list, in the register of erasures as confirmed), and
// its content, whose key is gone, is read by nobody.

// erasedNote is what the register keeps of an erasure: its events, in log
// order, CaseErased last.
type erasedNote struct {
	Events []noteEvent `json:"events"`
}

// noteEvent is one event as stored in the log.
type noteEvent struct {
	ID       []byte `json:"id"`
	Type     string `json:"type"`
	Metadata []byte `json:"metadata"`
	Data     []byte `json:"data"`
}

// RestoreSubject names the hub re-applying erasures in the access log.
const RestoreSubject = "liaison:restore"

// destroyKey destroys the key of an erased case and notes the erasure, with
// its CaseErased event read back from the log, in the register.
func (m *Main) destroyKey(ctx context.Context, keys keystore.Store, caseID string) error {
	fk, ok := keys.(*keystore.FileStore)
	if !ok || fk.Noted(caseID) {
		return keys.Destroy(ctx, caseID)
	}
	requests := map[string]noteEvent{} // ErasureRequested by event id
	var erasure []noteEvent
	for r, err := range m.Log.ReadStream(ctx, caseID, 1) {
		if err != nil {
			return err
		}
		ev := noteEvent{ID: bytes.Clone(r.ID[:]), Type: r.Type, Metadata: bytes.Clone(r.Metadata), Data: bytes.Clone(r.Data)}
		switch domain.EventType(r.Type) {
		case domain.ErasureRequested:
			requests[domain.FormatID(r.ID)] = ev
		case domain.CaseErased:
			erasure = []noteEvent{ev}
			var d domain.CaseErasedData
			if plain, err := m.codec.Open(ctx, r); err == nil && json.Unmarshal(plain, &d) == nil {
				if req, ok := requests[d.RequestID]; ok {
					erasure = []noteEvent{req, ev}
				}
			}
		}
	}
	var note []byte
	if erasure != nil {
		note, _ = json.Marshal(erasedNote{Events: erasure})
	}
	return fk.DestroyNoted(ctx, caseID, note)
}

// reapplyErasures appends again the CaseErased event of every case the
// register of erasures holds whose stream exists in the log without one,
// each with its access record, in one commit. It returns how many it
// re-applied.
func (m *Main) reapplyErasures(ctx context.Context, keys *keystore.FileStore, access *accesslog.Log) (int, error) {
	rl, ok := m.Log.(eventlog.RecordingLog)
	if !ok {
		return 0, nil
	}
	n := 0
	for _, e := range keys.Erasures() {
		var version uint64
		erased := false
		have := map[[16]byte]bool{}
		for r, err := range m.Log.ReadStream(ctx, e.CaseID, 1) {
			if err != nil {
				return n, err
			}
			version = r.Version
			erased = erased || domain.EventType(r.Type) == domain.CaseErased
			have[r.ID] = true
		}
		if version == 0 || erased {
			continue // opened after the backup, or erased in the log too
		}
		var note erasedNote
		if e.Note != nil && json.Unmarshal(e.Note, &note) != nil {
			note.Events = nil
		}
		var evs []eventlog.Event
		for _, ne := range note.Events {
			if len(ne.ID) != 16 {
				evs = nil
				break
			}
			if ev := (eventlog.Event{ID: [16]byte(ne.ID), Type: ne.Type, Metadata: ne.Metadata, Data: ne.Data}); !have[ev.ID] {
				evs = append(evs, ev)
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].Type != string(domain.CaseErased) {
			m.Logger.Error("the register of erasures says this case was erased, but keeps no event to apply again: its content is unreadable (its key is gone), but the hub still lists it", "case_id", e.CaseID)
			continue
		}
		ev := evs[len(evs)-1]
		now := m.Clock()
		rec := &accesslog.Record{
			Time: now, RequestID: "restore-" + strconv.FormatInt(now.UnixNano(), 36), Action: "case.erase",
			CaseID: e.CaseID, Sub: RestoreSubject, Agency: hub.RetentionAgency, Roles: []string{}, Decision: accesslog.Allow, Status: 200,
			Reasons: []string{"erasure applied again: the log was restored from a backup taken before the case key was destroyed on " +
				e.DestroyedAt.UTC().Format(time.RFC3339) + " (register of erasures)"},
			PolicyRevision: m.Policy.Revision(),
		}
		var d domain.CaseErasedData
		if plain, err := m.codec.Open(ctx, eventlog.Recorded{Event: ev, Stream: e.CaseID}); err == nil && json.Unmarshal(plain, &d) == nil {
			rec.LegalBasis, rec.Reference = d.LegalBasis, d.Reference
		}
		_, err := access.AppendWith(rec, func(record []byte) (uint64, error) {
			_, first, err := rl.AppendWithRecords(ctx, e.CaseID, int64(version), evs, [][]byte{record})
			return first, err
		})
		if err != nil {
			return n, fmt.Errorf("re-applying the erasure of case %s: %w", e.CaseID, err)
		}
		n++
		m.Logger.Warn("erasure applied again to a restored log", "case_id", e.CaseID, "destroyed_at", e.DestroyedAt)
	}
	return n, nil
}

// errNoKeys refuses a log that has events with a key directory that never
// held a key.
var errNoKeys = errors.New("the log holds events, but the key directory holds no case key")
