package queue

import "errors"

// Errors returned by the Store; test for them with errors.Is. The returned
// errors wrap these with the payment and the details.
var (
	// ErrNotFound: no payment with that request id is stored.
	ErrNotFound = errors.New("payment not found")
	// ErrConflict: Accept was given a request id already stored with a
	// different amount, currency or payment id.
	ErrConflict = errors.New("payment request id already used for another payment")
	// ErrFinal: the payment is already final and cannot change; the call
	// was recorded in its audit trail only.
	ErrFinal = errors.New("payment is already final")
	// ErrNotFinal: Deliver was called for a payment that has no result yet.
	ErrNotFinal = errors.New("payment is not final")
	// ErrTransition: the requested change is not allowed from the
	// payment's state or is not a change of state at all.
	ErrTransition = errors.New("state change not allowed")
	// ErrInvalid: the payment given to Accept lacks a required field.
	ErrInvalid = errors.New("invalid payment")
	// ErrLocked: another process holds the store file.
	ErrLocked = errors.New("store file is in use")
	// ErrSchema: the file was written by a newer version of the program.
	ErrSchema = errors.New("store schema is newer than this program")
	// ErrCorrupt: the integrity check failed.
	ErrCorrupt = errors.New("store is corrupt")
	// ErrReadOnly: a write was attempted on a store opened read-only.
	ErrReadOnly = errors.New("store is open read-only")
	// ErrDetached: the store's file was removed or replaced while the
	// store had it open, so the store refuses to write into it (see
	// Store.Place).
	ErrDetached = errors.New("store file is no longer at its path")
	// ErrNoRoom: the file system has not the room Store.Reserve was
	// asked for.
	ErrNoRoom = errors.New("not enough free space for the store")
)
