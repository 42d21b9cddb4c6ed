// Package domain is the heart of Liaison: the vocabulary of the sharing protocol
// (organisation types, sections, stages, TLP labels, purposes, practice codes),
// the case events and their strict validation, the event envelope, the case
// aggregate, and the error kinds every other package speaks.
//
// It imports only the standard library. Construction and rehydration are kept
// apart: DecodeData validates new input; RehydrateData reads what the log holds;
// Case.CheckAppend guards new events; Case.Apply folds stored ones and never
// fails.
package domain
