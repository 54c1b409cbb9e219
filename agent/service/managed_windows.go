//go:build windows

package service

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// underManager reports whether the process was started by the Service Control
// Manager: whether its parent is services.exe.
//
// kardianos/service and x/sys/windows/svc also require the parent to run in
// session 0. Every services.exe on Windows does, so the extra condition
// changes nothing there, but wine runs its services.exe in another session,
// and with it posagent.exe, installed by its msi under wine, would take
// itself for a console program and never report to the service manager.
func underManager() bool {
	parent, err := parentImage()
	return err == nil && strings.EqualFold(parent, "services.exe")
}

// parentImage returns the file name of the parent process's executable.
func parentImage() (string, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(snap)
	names := make(map[uint32]string)
	var ppid uint32
	self := uint32(os.Getpid())
	entry := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &entry); err == nil; err = windows.Process32Next(snap, &entry) {
		names[entry.ProcessID] = windows.UTF16ToString(entry.ExeFile[:])
		if entry.ProcessID == self {
			ppid = entry.ParentProcessID
		}
	}
	if err != windows.ERROR_NO_MORE_FILES {
		return "", err
	}
	return names[ppid], nil
}
