package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posagent/posagent/device"
)

func TestWritePorts(t *testing.T) {
	ports := []device.PortInfo{
		{Name: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", Serial: "A50285BI"},
		{Name: "/dev/ttyACM0", USB: true, VID: "10c4", PID: "ea60"},
		{Name: "/dev/ttyS0"},
	}
	var table bytes.Buffer
	if err := writePorts(&table, ports, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`PORT          VID:PID    SERIAL    REGISTER.USB`,
		`/dev/ttyUSB0  0403:6001  A50285BI  "0403:6001:A50285BI"`,
		`/dev/ttyACM0  10c4:ea60  -         "10c4:ea60"`,
		`/dev/ttyS0    -          -         -`,
	}
	if got := strings.Split(strings.TrimRight(table.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var js bytes.Buffer
	if err := writePorts(&js, ports, true); err != nil {
		t.Fatal(err)
	}
	var list []portJSON
	if err := json.Unmarshal(js.Bytes(), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, js.String())
	}
	if len(list) != 3 || list[0] != (portJSON{"/dev/ttyUSB0", true, "0403", "6001", "A50285BI"}) || list[2] != (portJSON{Name: "/dev/ttyS0"}) {
		t.Errorf("JSON = %+v", list)
	}
}

func TestWritePortsWithoutPorts(t *testing.T) {
	var table, js bytes.Buffer
	if err := writePorts(&table, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := writePorts(&js, nil, true); err != nil {
		t.Fatal(err)
	}
	if table.String() != "No serial ports found.\n" || strings.TrimSpace(js.String()) != "[]" {
		t.Errorf("table %q, JSON %q", table.String(), js.String())
	}
}

func TestPortsListsThisMachine(t *testing.T) {
	want, err := device.ListPorts()
	if err != nil {
		t.Skipf("this machine cannot list serial ports: %v", err)
	}
	r := runArgs(t, "ports", "-json")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got []portJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(got) != len(want) {
		t.Errorf("%d ports listed, device.ListPorts has %d", len(got), len(want))
	}
	if r := runArgs(t, "ports", "extra"); r.code != exitUsage {
		t.Errorf("ports extra: exit %d, want %d", r.code, exitUsage)
	}
}
