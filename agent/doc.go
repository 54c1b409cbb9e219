// Package agent is the posagent daemon: it turns the register's requests
// into durable payments, polls Alipay until each
// payment is final, cancels the ones that run out of time, and delivers every
// result back to the register through the outbox.
//
// An Agent (New, Run) has one goroutine, its loop, that makes every decision:
// it handles the register's requests (a PAY is answered ACCEPTED only after
// the store committed it), sleeps on one timer set to the store's next due
// payment, hands Alipay calls to a small pool of workers that share one rate
// limiter, and commits what each answer means before it sends anything
// because of it. Payments, deadlines and unconfirmed results live in the
// store, so a new Agent on the same store carries on where a stopped or
// killed one left off. Serve builds an Agent from a config.Config for
// `posagent run`; Options take plain values, so that the demo and the tests
// build one without a configuration file.
//
// agent imports alipay, queue, device and config; none of them imports
// agent. The rules it keeps are numbered in docs/design.md.
package agent
