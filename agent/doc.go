// Package agent is the posagent daemon: it loads and checks the configuration,
// turns the register's requests into durable payments, polls Alipay until each
// payment is final, cancels the ones that run out of time, and delivers every
// result back to the register through the outbox.
//
// agent imports alipay, queue and device; none of them imports agent.
package agent
