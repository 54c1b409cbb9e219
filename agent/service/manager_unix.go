//go:build !windows

package service

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	kservice "github.com/kardianos/service"
)

// unitDir is where `posagent service install` writes the unit, the folder
// systemd keeps for units the administrator adds. Packages put theirs in
// /lib/systemd/system (or /usr/lib/systemd/system), which uninstall leaves to
// the package manager.
const unitDir = "/etc/systemd/system"

// User is the system account the service runs as; the unit names it, and
// install creates it in the dialout group when it is missing.
const User = "posagent"

// systemctlTimeout bounds each systemctl call, which can hang when systemd
// itself is stuck.
const systemctlTimeout = 30 * time.Second

// platformOptions makes kardianos write our unit instead of its own template,
// which restarts only after 120 s. kardianos renders the script with its
// template engine; the unit holds no template actions, so it is written as
// Unit returns it.
func (m *Manager) platformOptions() (kservice.KeyValue, error) {
	unit, err := Unit(m.Executable, m.ConfigPath)
	if err != nil {
		return nil, err
	}
	return kservice.KeyValue{"SystemdScript": unit}, nil
}

func (m *Manager) install() error {
	if err := ensureUser(); err != nil {
		return err
	}
	s, err := m.kservice()
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("cannot install the posagent unit in %s; run as root: %w", unitDir, err)
	}
	return nil
}

// checkOwnInstall refuses to remove a unit a package installed: the package
// manager owns that file and would otherwise think it is still there.
func (m *Manager) checkOwnInstall(st Status) error {
	if filepath.Dir(st.Definition) != unitDir {
		return fmt.Errorf("the posagent service was installed by a package (%s); remove the package instead (apt remove posagent or dnf remove posagent)", st.Definition)
	}
	return nil
}

func (m *Manager) uninstall() error {
	s, err := m.kservice()
	if err != nil {
		return err
	}
	if err := s.Uninstall(); err != nil {
		return fmt.Errorf("cannot remove the posagent unit from %s; run as root: %w", unitDir, err)
	}
	return nil
}

// ensureUser creates the system user the unit runs as, in the dialout group
// that owns serial ports, unless it exists.
func ensureUser() error {
	if _, err := user.Lookup(User); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), systemctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "useradd", "--system", "--user-group",
		"--groups", "dialout", "--home-dir", "/var/lib/posagent", "--no-create-home",
		"--shell", "/usr/sbin/nologin", "--comment", "posagent payment agent", User)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cannot create the system user %s (%s); run as root, or create it with useradd: %w", User, strings.TrimSpace(string(out)), err)
	}
	return nil
}

// Status asks systemd about the unit, and reads the configuration path from
// the unit file's ExecStart line.
func (m *Manager) Status() (Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), systemctlTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", "show", m.Name+".service",
		"--property=LoadState,ActiveState,SubState,FragmentPath").Output()
	if err != nil {
		return Status{}, fmt.Errorf("cannot ask systemd about the posagent service; is systemd running?: %w", err)
	}
	st := unitStatus(parseProperties(string(out)))
	if st.Installed {
		unit, err := os.ReadFile(st.Definition)
		if err != nil {
			return st, fmt.Errorf("cannot read the unit file %s; run as root: %w", st.Definition, err)
		}
		if words := execStartWords(string(unit)); len(words) > 1 {
			st.ConfigPath = configArg(words[1:])
		}
	}
	return st, nil
}

// unitStatus reads the unit's state from the properties systemctl show
// gives: LoadState, ActiveState, SubState and FragmentPath.
func unitStatus(props map[string]string) Status {
	st := Status{
		Installed:  props["LoadState"] != "not-found" && props["FragmentPath"] != "",
		State:      props["ActiveState"],
		Definition: props["FragmentPath"],
	}
	if sub := props["SubState"]; sub != "" && sub != st.State {
		st.State += " (" + sub + ")"
	}
	switch props["ActiveState"] {
	case "active", "activating", "reloading", "deactivating":
		st.Running = true
	}
	return st
}

// parseProperties reads the KEY=VALUE lines systemctl show prints.
func parseProperties(out string) map[string]string {
	props := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			props[k] = v
		}
	}
	return props
}
