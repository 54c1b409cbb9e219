// Package device owns the register link: the frame codec of the register
// protocol as pure functions, the stop-and-wait link layer with its timers on an
// injectable clock, the typed application messages, opening and re-finding the
// serial port, and a register simulator for tests, the demo and technicians.
//
// The layers, bottom up:
//   - AppendFrame and Decoder: frames on the wire (DLE stuffing, CRC-16/KERMIT,
//     the receive state machine with T1). CRC16 is the checksum alone.
//   - EncodePayload and DecodeMessage: the typed messages (Pay, Cancel, Query,
//     Done, Status, Result, Hello, Ping) and their field rules; a broken rule is
//     an *InvalidFieldError whose text is what STATUS REJECTED carries in msg.
//   - Line: one side of the link (ACK, NAK, resends, duplicates, HELLO, PING)
//     over a Conn, reopening the port after an unplug or a link down. Its owner
//     reads Events and calls Send, or Post where it must not wait.
//   - OpenPort, PortConfig and ListPorts: the serial port, by path or by USB
//     identity, locked against a second process.
//   - Register and RunRegisterSim: the register's side, over the same Line.
package device
