// Package device owns the register link: the frame codec of the register
// protocol as pure functions, the stop-and-wait link layer with its timers on an
// injectable clock, the typed application messages, opening and re-finding the
// serial port, and a register simulator for tests, the demo and technicians.
package device
