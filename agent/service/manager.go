package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	kservice "github.com/kardianos/service"
)

// Name is the name posagent is registered under with the service manager:
// the systemd unit posagent.service, the Windows service posagent and its
// Event Log source.
const Name = "posagent"

// DisplayName is the name the service shows in the Windows Services console.
// The installer registers the same one.
const DisplayName = "posagent payment agent"

// Manager installs, removes and controls one service that runs Executable
// with the configuration file ConfigPath.
type Manager struct {
	Name       string // the service name, normally Name
	Executable string // absolute path of the posagent executable
	ConfigPath string // absolute path of the configuration file
}

// NewManager returns the Manager for the running executable and the
// configuration file configPath, made absolute against the working folder:
// a service starts elsewhere (Windows services in System32), so a relative
// path would name another file there.
func NewManager(name, configPath string) (*Manager, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the path of the posagent executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	cfg, err := filepath.Abs(configPath)
	if err != nil {
		return nil, fmt.Errorf("cannot make the config path %s absolute; give the full path with -config: %w", configPath, err)
	}
	return &Manager{Name: name, Executable: exe, ConfigPath: cfg}, nil
}

// Status is what the service manager knows about the service.
type Status struct {
	Installed bool
	Running   bool
	// State is the service manager's own word for the state, such as
	// "active", "failed" or "stopped".
	State string
	// ConfigPath is the configuration file the installed service runs
	// with, read from its command line; "" when not installed or not named.
	ConfigPath string
	// Definition is where the service is defined: the unit file on Linux,
	// the registered command line on Windows.
	Definition string
}

// ErrInstalled is returned by Install when the service is already installed.
var ErrInstalled = errors.New("the posagent service is already installed")

// ErrNotInstalled is returned by Uninstall, Start, Stop and Restart when the
// service is not installed.
var ErrNotInstalled = errors.New("the posagent service is not installed")

// Install registers the service with the service manager so that it starts at
// boot and comes back after every failure.
func (m *Manager) Install() error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if st.Installed {
		return fmt.Errorf("%w (%s); run 'posagent service uninstall' first to install it anew", ErrInstalled, st.Definition)
	}
	return m.install()
}

// Uninstall stops the service if it runs and removes it from the service
// manager. The configuration and the payment store stay where they are.
func (m *Manager) Uninstall() error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if !st.Installed {
		return ErrNotInstalled
	}
	if err := m.checkOwnInstall(st); err != nil {
		return err
	}
	if st.Running {
		if err := m.Stop(); err != nil {
			return err
		}
	}
	return m.uninstall()
}

// Start asks the service manager to start the service.
func (m *Manager) Start() error { return m.control("start", kservice.Service.Start) }

// Stop asks the service manager to stop the service and waits for it to end.
func (m *Manager) Stop() error { return m.control("stop", kservice.Service.Stop) }

// Restart stops the service if it runs and starts it again.
func (m *Manager) Restart() error { return m.control("restart", kservice.Service.Restart) }

func (m *Manager) control(verb string, do func(kservice.Service) error) error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if !st.Installed {
		return fmt.Errorf("cannot %s it: %w; install it with 'posagent service install'", verb, ErrNotInstalled)
	}
	s, err := m.kservice()
	if err != nil {
		return err
	}
	if err := do(s); err != nil {
		return fmt.Errorf("cannot %s the posagent service; run as root or Administrator and see its log: %w", verb, err)
	}
	return nil
}

// kservice returns the kardianos service for m. The program it is given is
// never run: Run in this package runs the agent.
func (m *Manager) kservice() (kservice.Service, error) {
	c, err := m.config()
	if err != nil {
		return nil, err
	}
	s, err := kservice.New(idle{}, c)
	if err != nil {
		return nil, fmt.Errorf("no service manager found (posagent needs systemd on Linux): %w", err)
	}
	return s, nil
}

// config is the service definition shared by the platforms; platformOptions
// adds what only one of them knows.
func (m *Manager) config() (*kservice.Config, error) {
	for _, p := range []string{m.Executable, m.ConfigPath} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("service path %q is not absolute; give the full path", p)
		}
	}
	opts, err := m.platformOptions()
	if err != nil {
		return nil, err
	}
	return &kservice.Config{
		Name:        m.Name,
		DisplayName: DisplayName,
		Description: "Carries payments between the cash register and Alipay.",
		Executable:  m.Executable,
		Arguments:   RunArgs(m.ConfigPath),
		Option:      opts,
	}, nil
}

// idle is the kardianos program for a Manager, which only controls the
// service and never runs it.
type idle struct{}

func (idle) Start(kservice.Service) error { return nil }
func (idle) Stop(kservice.Service) error  { return nil }
