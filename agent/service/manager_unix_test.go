//go:build !windows

package service

import "testing"

func TestUnitStatusFromSystemctlShow(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want Status
	}{
		{
			"not installed",
			"LoadState=not-found\nActiveState=inactive\nSubState=dead\nFragmentPath=\n",
			Status{State: "inactive (dead)"},
		},
		{
			"running",
			"LoadState=loaded\nActiveState=active\nSubState=running\nFragmentPath=/lib/systemd/system/posagent.service\n",
			Status{Installed: true, Running: true, State: "active (running)", Definition: "/lib/systemd/system/posagent.service"},
		},
		{
			"waiting to restart after a failure",
			"LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nFragmentPath=/etc/systemd/system/posagent.service\n",
			Status{Installed: true, Running: true, State: "activating (auto-restart)", Definition: "/etc/systemd/system/posagent.service"},
		},
		{
			"failed",
			"LoadState=loaded\nActiveState=failed\nSubState=failed\nFragmentPath=/etc/systemd/system/posagent.service\n",
			Status{Installed: true, State: "failed", Definition: "/etc/systemd/system/posagent.service"},
		},
		{
			"stopped",
			"LoadState=loaded\nActiveState=inactive\nSubState=dead\nFragmentPath=/lib/systemd/system/posagent.service\n",
			Status{Installed: true, State: "inactive (dead)", Definition: "/lib/systemd/system/posagent.service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unitStatus(parseProperties(tt.out)); got != tt.want {
				t.Errorf("unitStatus = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUninstallLeavesPackagedUnitsToThePackageManager(t *testing.T) {
	m := &Manager{Name: Name}
	if err := m.checkOwnInstall(Status{Definition: "/lib/systemd/system/posagent.service"}); err == nil {
		t.Error("uninstall would remove a unit the package owns")
	}
	if err := m.checkOwnInstall(Status{Definition: "/etc/systemd/system/posagent.service"}); err != nil {
		t.Errorf("uninstall refused its own unit: %v", err)
	}
}
