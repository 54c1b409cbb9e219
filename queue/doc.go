// Package queue is the durable payment store on bbolt: idempotent acceptance,
// state transitions as single transactions, a due-time index, the outbox of
// results waiting for the register, a bounded audit trail per payment,
// retention, and an integrity check with salvage at open.
//
// Every change is one bbolt write transaction, synced to disk before the
// method returns (bbolt's default; NoSync is never set), so a caller may act
// on a change (answer ACCEPTED, send a RESULT) as soon as the call returns.
// Hold alone writes nothing: it keeps a step that only moves the next
// action and adds to the audit trail in memory, merged into the payment's
// next committed change (held.go).
// A payment moves PENDING -> CANCELLING -> final, or PENDING -> final; a
// final state never changes (see transition.go). The record and the index
// keys derived from it are always written in the same transaction (see
// layout.go), so Due, Next, Outbox and Unfinished read small indexes instead
// of every record, and Page and Each list payments in the order of
// acceptance a page at a time, each page one short read transaction that
// decodes only the records it visits.
//
// Records are JSON of Payment framed with a CRC-32C, under schema version
// 3 (schema 2 plus the accepted index), stamped in the file; a file of
// schema 1 (plain JSON) or 2 is migrated at Open, and a file from a newer
// program is refused. Open checks the file without letting bbolt read it
// (walk.go), in full or, with Options.Quick, only where the last run gives
// a reason to, the rest then being checked by Verify while the store is in
// use (startup.go): a file that fails is replaced by a fresh
// file holding every record that could be read, the damaged one is kept
// beside it, unfinished payments brought back are flagged (Recovered), and
// Store.Report and Store.Salvages say what was saved.
//
// Every write first checks that the open file is still the one at the
// store's path (Place; file.go) and refuses with ErrDetached otherwise;
// Restore writes a removed file back. Reserve keeps room allocated in the
// file past bbolt's high-water mark (space.go), so that payments already
// accepted can be committed on a full disk.
package queue
