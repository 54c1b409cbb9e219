package device

import (
	"strings"
	"testing"
)

func TestPortConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  PortConfig
		want []string // substrings of the error, one per problem; none for a valid config
	}{
		{"path only", PortConfig{Path: "/dev/ttyUSB0"}, nil},
		{"full", PortConfig{Path: "COM3", Baud: 9600, Parity: "even", StopBits: 2}, nil},
		{"auto with usb", PortConfig{Path: "auto", USB: "0403:6001"}, nil},
		{"auto with usb and serial, any case", PortConfig{Path: "auto", USB: "0403:60aF:A50285bi"}, nil},
		{"no path", PortConfig{}, []string{"register.port is empty"}},
		{"auto without usb", PortConfig{Path: "auto"}, []string{"register.usb is empty"}},
		{"bad usb", PortConfig{Path: "auto", USB: "403:6001"}, []string{"not 4 hex digits"}},
		{"usb not hex", PortConfig{Path: "auto", USB: "04g3:6001"}, []string{"not 4 hex digits"}},
		{"usb with empty serial", PortConfig{Path: "auto", USB: "0403:6001:"}, []string{"empty serial"}},
		{"several problems", PortConfig{Path: "/dev/ttyS0", Baud: 300, Parity: "mark", StopBits: 3},
			[]string{"register.baud 300", "register.parity \"mark\"", "register.stop_bits 3"}},
		{"baud too high", PortConfig{Path: "/dev/ttyS0", Baud: 230400}, []string{"register.baud 230400"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems (%q), want %d", len(lines), err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("problem %q does not say %q", lines[i], w)
				}
			}
		})
	}
}

func TestMatchUSB(t *testing.T) {
	ports := []PortInfo{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", Serial: "A1"},
		{Name: "/dev/ttyUSB1", USB: true, VID: "0403", PID: "6001", Serial: "B2"},
		{Name: "/dev/ttyACM0", USB: true, VID: "2341", PID: "0043"},
		{Name: "COM7", USB: true, VID: "1A86", PID: "7523", Serial: ""},
	}
	cases := []struct {
		usb, want, err string
	}{
		{usb: "2341:0043", want: "/dev/ttyACM0"},
		{usb: "0403:6001:a1", want: "/dev/ttyUSB0"}, // serial compared in any case
		{usb: "0403:6001:B2", want: "/dev/ttyUSB1"},
		{usb: "1a86:7523", want: "COM7"}, // Windows reports uppercase
		{usb: "0403:6001", err: "2 serial ports match USB id 0403:6001 (/dev/ttyUSB0 usb=0403:6001:A1, /dev/ttyUSB1 usb=0403:6001:B2)"},
		{usb: "0403:6001:C3", err: "no serial port has USB id 0403:6001:C3"},
	}
	for _, tc := range cases {
		t.Run(tc.usb, func(t *testing.T) {
			id, err := parseUSB(tc.usb)
			if err != nil {
				t.Fatal(err)
			}
			got, err := matchUSB(ports, id)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestListPortsReportsLowercaseIDs(t *testing.T) {
	ports, err := ListPorts()
	if err != nil {
		t.Skipf("no port enumeration here: %v", err)
	}
	for _, p := range ports {
		if p.VID != strings.ToLower(p.VID) || p.PID != strings.ToLower(p.PID) {
			t.Errorf("%v: VID/PID not lowercase", p)
		}
	}
}
