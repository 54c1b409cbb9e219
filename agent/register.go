package agent

import (
	"context"

	"github.com/posagent/posagent/device"
)

// Register is the serial link to the cash register (*device.Line).
type Register interface {
	// Run opens the port and keeps the link up until ctx ends.
	Run(ctx context.Context) error
	// Events delivers what the register sent, already acknowledged.
	Events() <-chan devEvent
	// Send queues an application message for the register.
	Send(ctx context.Context, m device.Message) error
}

type devEvent struct{}

func fromDevice(ev devEvent) request { return request{what: reqIgnore} }
