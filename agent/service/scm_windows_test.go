//go:build windows

package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/postest"
	"github.com/rs/zerolog"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// scmEnv turns on TestServiceLifecycle, which installs a real service: it
// needs Administrator rights and changes the machine, so it runs only where
// asked to (CI runs it under wine).
const scmEnv = "POSAGENT_TEST_SCM"

// scmTestName is the service the test installs.
const scmTestName = "posagent-scmtest"

// TestMain lets the test binary act as the service it installs: the Service
// Control Manager starts it as "EXE run -config DIR\PORT.toml". As the
// service it runs an agent that connects to the test on 127.0.0.1:PORT,
// says "running", and says "stopped" once its context is cancelled.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "run" && os.Args[2] == "-config" {
		os.Exit(serviceHelper(os.Args[3]))
	}
	os.Exit(m.Run())
}

func serviceHelper(configPath string) int {
	port := strings.TrimSuffix(filepath.Base(configPath), ".toml")
	port, fail := strings.CutSuffix(port, "-fail")
	// Run, as posagent run calls it: it must find that the Service Control
	// Manager started it, or the service never reports to it.
	// What Run logs goes to a file beside the configuration, for the test
	// to read once the service has stopped.
	logFile, err := os.Create(configPath + ".log")
	if err != nil {
		return 2
	}
	defer logFile.Close()
	err = Run(context.Background(), scmTestName, zerolog.New(logFile), func(ctx context.Context) error {
		conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return err
		}
		defer conn.Close()
		if fail {
			fmt.Fprintln(conn, "failing")
			return errors.New("the agent failed")
		}
		fmt.Fprintln(conn, "running")
		<-ctx.Done()
		fmt.Fprintln(conn, "stopped")
		return nil
	})
	if err != nil {
		return 1
	}
	return 0
}

func TestServiceLifecycle(t *testing.T) {
	m, ln := testService(t, scmTestName, "")

	wine := underWine()
	if err := m.Install(); err != nil {
		// wine 8 has no SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, which every
		// Windows since Vista has; all that comes before it is done.
		if !wine || !errors.Is(err, windows.ERROR_INVALID_LEVEL) {
			t.Fatalf("Install: %v", err)
		}
		t.Logf("under wine: %v", err)
	}
	if err := m.Install(); !errors.Is(err, ErrInstalled) {
		t.Errorf("second Install = %v, want ErrInstalled", err)
	}
	st, err := m.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Installed || st.Running || st.ConfigPath != m.ConfigPath {
		t.Errorf("Status after install = %+v, want installed, not running, config %s", st, m.ConfigPath)
	}
	checkServiceSettings(t, scmTestName, wine)
	checkEventSource(t, scmTestName, true)

	if err := m.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	conn := accept(t, ln)
	lines := bufio.NewScanner(conn)
	expectLine(t, lines, "running")
	if st, err := m.Status(); err != nil || !st.Running {
		t.Errorf("Status while running = %+v, %v; want running", st, err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	expectLine(t, lines, "stopped")

	if err := m.Uninstall(); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if st, err := m.Status(); err != nil || st.Installed {
		t.Errorf("Status after uninstall = %+v, %v; want not installed", st, err)
	}
	checkEventSource(t, scmTestName, false)
	if err := m.Uninstall(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Uninstall = %v, want ErrNotInstalled", err)
	}
}

// TestFailedServiceReportsAnErrorExitCode has the agent fail on its own: the
// service must end with a service-specific exit code, the kind of stop that
// counts as a failure for the recovery actions.
func TestFailedServiceReportsAnErrorExitCode(t *testing.T) {
	m, ln := testService(t, scmTestName+"-fail", "-fail")
	if err := m.Install(); err != nil && !(underWine() && errors.Is(err, windows.ERROR_INVALID_LEVEL)) {
		t.Fatalf("Install: %v", err)
	}
	// Wine's service manager may answer the start of a service that fails
	// at once with ERROR_SERVICE_REQUEST_TIMEOUT when the process ends
	// before it sees the start reported (seen on a loaded machine); the
	// process ran all the same, which the line below proves, and what
	// this test checks comes after.
	if err := m.Start(); err != nil && !(underWine() && errors.Is(err, windows.ERROR_SERVICE_REQUEST_TIMEOUT)) {
		t.Fatalf("Start: %v", err)
	}
	conn := accept(t, ln)
	lines := bufio.NewScanner(conn)
	expectLine(t, lines, "failing")
	// The connection ends when the process does, after it reported its end.
	if lines.Scan() {
		t.Fatalf("unexpected %q from the failing service", lines.Text())
	}
	sm, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Disconnect()
	s, err := sm.OpenService(m.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := s.Query()
	if err != nil {
		t.Fatal(err)
	}
	if q.State != svc.Stopped || q.Win32ExitCode != uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR) || q.ServiceSpecificExitCode != 1 {
		t.Errorf("service status %+v, want stopped with service-specific exit code 1", q)
	}
	// A service has no stderr: the error it ended with must be in its log.
	logged, err := os.ReadFile(m.ConfigPath + ".log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), `"error":"the agent failed"`) {
		t.Errorf("the service's log does not name the failure; it holds:\n%s", logged)
	}
}

// checkServiceSettings reads back what Install set: automatic start without
// delay, and restarts after every failure.
func checkServiceSettings(t *testing.T, name string, wine bool) {
	t.Helper()
	sm, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Disconnect()
	s, err := sm.OpenService(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := queryConfig(s.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if c.StartType != mgr.StartAutomatic {
		t.Errorf("start type %d, want automatic (%d)", c.StartType, mgr.StartAutomatic)
	}
	if wine {
		// wine 8 keeps neither the delayed start setting nor recovery
		// actions; Windows does.
		return
	}
	if full, err := s.Config(); err != nil || full.DelayedAutoStart {
		t.Errorf("delayed start %v (%v), want false", full.DelayedAutoStart, err)
	}
	actions, err := s.RecoveryActions()
	if err != nil {
		t.Fatalf("RecoveryActions: %v", err)
	}
	if !slices.Equal(actions, recoveryActions) {
		t.Errorf("recovery actions %+v, want %+v", actions, recoveryActions)
	}
	if reset, err := s.ResetPeriod(); err != nil || reset != recoveryResetPeriod {
		t.Errorf("reset period %d (%v), want %d", reset, err, recoveryResetPeriod)
	}
	if on, err := s.RecoveryActionsOnNonCrashFailures(); err != nil || !on {
		t.Errorf("recovery on non-crash failures %v (%v), want true", on, err)
	}
}

func checkEventSource(t *testing.T, name string, want bool) {
	t.Helper()
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\EventLog\Application\`+name, registry.QUERY_VALUE)
	if err == nil {
		k.Close()
	}
	if got := err == nil; got != want {
		t.Errorf("Event Log source %s registered = %v, want %v (%v)", name, got, want, err)
	}
}

// underWine reports whether the test runs under wine, whose ntdll has
// wine_get_version.
// testService returns the Manager of a test service named name that runs
// this test binary as the service helper, and the listener the helper
// connects to. It skips the test unless scmEnv is set, and removes the
// service when the test ends.
//
// The helper's configuration path is PORT+suffix+".toml", in a folder with a
// space in its name, where the helper writes its log. The configuration
// itself need not exist: the helper reads only the port and the suffix from
// its name. (t.TempDir is not used: wine cannot remove it.)
func testService(t *testing.T, name, suffix string) (*Manager, net.Listener) {
	t.Helper()
	if os.Getenv(scmEnv) == "" {
		t.Skipf("set %s=1 to install a test service (needs Administrator rights)", scmEnv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(os.Getenv("SystemDrive")+`\`, "posagent test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	m := &Manager{Name: name, Executable: exe, ConfigPath: filepath.Join(dir, port+suffix+".toml")}
	t.Cleanup(func() {
		if st, err := m.Status(); err == nil && st.Installed {
			if err := m.Uninstall(); err != nil {
				t.Errorf("Uninstall: %v", err)
			}
		}
		os.Remove(m.ConfigPath + ".log")
	})
	return m, ln
}

func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(postest.Guard))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("the service did not connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(postest.Guard))
	return conn
}

func expectLine(t *testing.T, lines *bufio.Scanner, want string) {
	t.Helper()
	if !lines.Scan() {
		t.Fatalf("no %q from the service: %v", want, lines.Err())
	}
	if got := lines.Text(); got != want {
		t.Fatalf("service said %q, want %q", got, want)
	}
}
