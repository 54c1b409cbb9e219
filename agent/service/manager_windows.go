//go:build windows

package service

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// recoveryActions restart the service after its first, second and later
// failures, quickly at first so a terminal is back soon after a fault.
var recoveryActions = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
}

// recoveryResetPeriod is how long, in seconds, the service must run without
// failing before Windows counts failures from the first action again.
const recoveryResetPeriod = 24 * 60 * 60

// platformOptions starts the service automatically at boot, without the
// delay Windows gives "automatic (delayed start)" services, so payments resume
// as soon as the terminal is up.
func (m *Manager) platformOptions() (kservice.KeyValue, error) {
	return kservice.KeyValue{
		"StartType":        "automatic",
		"DelayedAutoStart": false,
	}, nil
}

// install creates the service and its Event Log source through kardianos,
// then sets the recovery actions, which kardianos sets only as one action and
// never for failures other than crashes.
func (m *Manager) install() error {
	s, err := m.kservice()
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		if errors.Is(err, windows.ERROR_DUPLICATE_SERVICE_NAME) {
			return fmt.Errorf("cannot install the %s service: another service is already shown as %q; remove that one first: %w", m.Name, DisplayName, err)
		}
		return fmt.Errorf("cannot install the %s service; run as Administrator: %w", m.Name, err)
	}
	if err := setRecovery(m.Name); err != nil {
		return err
	}
	return nil
}

// setRecovery makes the Service Control Manager restart the service named
// name after every failure: a crash, and also a stop with an error code, as
// when the agent cannot start.
func setRecovery(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("cannot reach the Service Control Manager; run as Administrator: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("cannot open the %s service to set its recovery actions; run as Administrator: %w", name, err)
	}
	defer s.Close()
	if err := s.SetRecoveryActions(recoveryActions, recoveryResetPeriod); err != nil {
		return fmt.Errorf("cannot set the recovery actions of the %s service; run as Administrator: %w", name, err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("cannot make the %s service restart after a failed start; run as Administrator: %w", name, err)
	}
	return nil
}

// checkOwnInstall allows uninstall whoever installed the service: the
// installer's own uninstall removes what is left.
func (m *Manager) checkOwnInstall(Status) error { return nil }

// uninstall deletes the service and its Event Log source. It does not go
// through kardianos, which reports a failure after deleting the service when
// the Event Log source is already gone.
func (m *Manager) uninstall() error {
	sm, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("cannot reach the Service Control Manager; run as Administrator: %w", err)
	}
	defer sm.Disconnect()
	s, err := sm.OpenService(m.Name)
	if err != nil {
		return fmt.Errorf("cannot open the %s service to remove it; run as Administrator: %w", m.Name, err)
	}
	defer s.Close()
	if err := s.Delete(); err != nil {
		return fmt.Errorf("cannot remove the %s service; run as Administrator: %w", m.Name, err)
	}
	err = eventlog.Remove(m.Name)
	if err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return fmt.Errorf("removed the %s service but not its Event Log source; delete HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\posagent as Administrator: %w", m.Name, err)
	}
	return nil
}

// Status asks the Service Control Manager about the service with the least
// rights that answer, so that a technician without Administrator rights can
// still look.
func (m *Manager) Status() (Status, error) {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return Status{}, fmt.Errorf("cannot reach the Service Control Manager: %w", err)
	}
	sm := &mgr.Mgr{Handle: h}
	defer sm.Disconnect()
	name, err := windows.UTF16PtrFromString(m.Name)
	if err != nil {
		return Status{}, fmt.Errorf("service name %q is not valid: %w", m.Name, err)
	}
	sh, err := windows.OpenService(h, name, windows.SERVICE_QUERY_CONFIG|windows.SERVICE_QUERY_STATUS)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return Status{State: "not installed"}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("cannot open the %s service: %w", m.Name, err)
	}
	s := &mgr.Service{Name: m.Name, Handle: sh}
	defer s.Close()
	st := Status{Installed: true}
	q, err := s.Query()
	if err != nil {
		return st, fmt.Errorf("cannot query the state of the %s service: %w", m.Name, err)
	}
	st.State = stateName(q.State)
	st.Running = q.State != svc.Stopped
	c, err := queryConfig(sh)
	if err != nil {
		return st, fmt.Errorf("cannot read the configuration of the %s service: %w", m.Name, err)
	}
	st.Definition = windows.UTF16PtrToString(c.BinaryPathName)
	if words, err := windows.DecomposeCommandLine(st.Definition); err == nil && len(words) > 1 {
		st.ConfigPath = configArg(words[1:])
	}
	return st, nil
}

// queryConfig reads the basic configuration of the service h. Unlike
// mgr.Service.Config it asks for nothing beyond it, which is all Status
// needs.
func queryConfig(h windows.Handle) (*windows.QUERY_SERVICE_CONFIG, error) {
	n := uint32(1024)
	for {
		buf := make([]byte, n)
		c := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0]))
		err := windows.QueryServiceConfig(h, c, n, &n)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) {
			return nil, err
		}
	}
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "starting"
	case svc.StopPending:
		return "stopping"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continuing"
	case svc.PausePending:
		return "pausing"
	case svc.Paused:
		return "paused"
	}
	return strings.ToLower(fmt.Sprintf("state %d", s))
}
