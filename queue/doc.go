// Package queue is the durable payment store on bbolt: idempotent acceptance,
// state transitions as single transactions, a due-time index, the outbox of
// results waiting for the register, a bounded audit trail per payment,
// retention, and an integrity check with salvage at open.
package queue
