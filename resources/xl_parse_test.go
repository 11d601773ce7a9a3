package resources

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// `xl list` from reference/drbd-xen.md section 4 (QubesOS/qubes-issues#314),
// byte for byte: TABs before State and Time(s) in the header.
const (
	xlListQubes = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n" +
		"Domain-0                                     0  2253     4     r-----    6169.5\n" +
		"netvm                                        1   200     1     -b----     148.5\n"
	xlRowDying = "(null)                                      20     0     1     --p--d    2083.7"
)

// xlRowf renders a row with xl's own printf format.
func xlRowf(name string, id, mem, vcpus int, state string, secs float64) string {
	return fmt.Sprintf("%-40s %5d %5d %5d     %s  %8.1f", name, id, mem, vcpus, state, secs)
}

func TestParseXLList(t *testing.T) {
	longName := strings.Repeat("x", 45)
	tests := []struct {
		name string
		in   string
		want []XLDomain
	}{
		{"reference sample", xlListQubes, []XLDomain{
			{Name: "Domain-0", ID: 0, MemMiB: 2253, VCPUs: 4, State: "r-----", CPUTime: 6169.5, Running: true},
			{Name: "netvm", ID: 1, MemMiB: 200, VCPUs: 1, State: "-b----", CPUTime: 148.5, Blocked: true},
		}},
		{"dying domain (freebsd-xen)", XLListHeader + "\n" + xlRowDying + "\n", []XLDomain{
			{Name: "(null)", ID: 20, MemMiB: 0, VCPUs: 1, State: "--p--d", CPUTime: 2083.7, Paused: true, Dying: true},
		}},
		{"crashed, shut down, watchdog", XLListHeader + "\n" +
			xlRowf("web", 7, 1024, 2, "---sc-", 12.5) + "\n" +
			xlRowf("db", 8, 2048, 2, "---s--", 3) + "\n" +
			xlRowf("mail", 9, 512, 1, "---sw-", 1) + "\n",
			[]XLDomain{
				{Name: "web", ID: 7, MemMiB: 1024, VCPUs: 2, State: "---sc-", CPUTime: 12.5, Shutdown: true, ShutdownReason: "crash", Crashed: true},
				{Name: "db", ID: 8, MemMiB: 2048, VCPUs: 2, State: "---s--", CPUTime: 3, Shutdown: true, ShutdownReason: "poweroff"},
				{Name: "mail", ID: 9, MemMiB: 512, VCPUs: 1, State: "---sw-", CPUTime: 1, Shutdown: true, ShutdownReason: "watchdog"},
			}},
		{"name longer than the column, name with a space", XLListHeader + "\n" +
			xlRowf(longName, 12, 128, 1, "rb----", 99999.9) + "\n" +
			xlRowf("my dom 2", 13, 64, 1, "------", 0) + "\n",
			[]XLDomain{
				{Name: longName, ID: 12, MemMiB: 128, VCPUs: 1, State: "rb----", CPUTime: 99999.9, Running: true, Blocked: true},
				{Name: "my dom 2", ID: 13, MemMiB: 64, VCPUs: 1, State: "------"},
			}},
		{"header only", XLListHeader + "\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXLList(tt.in)
			if err != nil {
				t.Fatalf("ParseXLList: %v\ninput:\n%s", err, tt.in)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseXLList\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseXLListRejectsOddOutput(t *testing.T) {
	tests := []struct {
		name, in, quoted string
	}{
		{"header with spaces instead of TABs", strings.ReplaceAll(xlListQubes, "\t", "    "), "VCPUs    State"},
		{"verbose header", XLListHeader + "   UUID                            Reason-Code\tSecurity Label\n", "Reason-Code"},
		{"bad state letter", XLListHeader + "\n" + xlRowf("web", 1, 1, 1, "x-----", 1) + "\n", "x-----"},
		{"bad shutdown reason", XLListHeader + "\n" + xlRowf("web", 1, 1, 1, "---sz-", 1) + "\n", "---sz-"},
		{"missing column", XLListHeader + "\nweb 1 1 r----- 1.0\n", "web 1 1 r----- 1.0"},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXLList(tt.in)
			if err == nil {
				t.Fatalf("ParseXLList(%q) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.quoted) {
				t.Fatalf("error %q does not quote %q", err, tt.quoted)
			}
		})
	}
}

// xlListLong is shaped like `xl list -l` with output_format="json": a
// pretty-printed array of {"domid", "config"} with the keys reference section
// 4 names (the reference has no verbatim sample of this output).
const xlListLong = `[
    {
        "domid": 0,
        "config": {
            "c_info": {
                "type": "pv",
                "name": "Domain-0"
            },
            "b_info": {
                "max_memkb": 2306048,
                "target_memkb": 2306048
            }
        }
    },
    {
        "domid": 5,
        "config": {
            "c_info": {
                "type": "pvh",
                "name": "web",
                "uuid": "5f2c5a7e-1d3b-4c3a-9a8e-0b6f2d9c1e44",
                "run_hotplug_scripts": "True"
            },
            "b_info": {
                "max_vcpus": 2,
                "avail_vcpus": [0, 1],
                "max_memkb": 1048576,
                "target_memkb": 1048576,
                "type.pvh": {}
            },
            "disks": [
                {
                    "pdev_path": "/dev/drbd0",
                    "vdev": "xvda",
                    "backend": "phy",
                    "format": "raw",
                    "readwrite": 1
                }
            ],
            "nics": [
                {
                    "devid": 0,
                    "mac": "00:16:3e:12:34:56",
                    "bridge": "xenbr0",
                    "script": "vif-bridge"
                }
            ],
            "on_poweroff": "destroy",
            "on_reboot": "restart",
            "on_crash": "destroy"
        }
    }
]
`

func TestParseXLListLong(t *testing.T) {
	got, err := ParseXLListLong([]byte(xlListLong))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Config = nil // compared separately
	}
	want := []XLDomainLong{
		{DomID: 0, Type: "pv", Name: "Domain-0", MaxMemKB: 2306048, TargetMemKB: 2306048},
		{DomID: 5, Type: "pvh", Name: "web", UUID: "5f2c5a7e-1d3b-4c3a-9a8e-0b6f2d9c1e44", MaxVCPUs: 2,
			MaxMemKB: 1048576, TargetMemKB: 1048576,
			Disks:      []XLDisk{{PdevPath: "/dev/drbd0", Vdev: "xvda", Backend: "phy", Format: "raw", Readwrite: 1}},
			NICs:       []XLNIC{{DevID: 0, MAC: "00:16:3e:12:34:56", Bridge: "xenbr0", Script: "vif-bridge"}},
			OnPoweroff: "destroy", OnReboot: "restart", OnCrash: "destroy"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseXLListLong\n got %+v\nwant %+v", got, want)
	}
	again, _ := ParseXLListLong([]byte(xlListLong))
	if !strings.Contains(string(again[1].Config), `"run_hotplug_scripts": "True"`) {
		t.Fatalf("Config does not keep the undecoded keys: %s", again[1].Config)
	}
}

func TestParseXLListLongRejectsOddOutput(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "  \n", "empty output"},
		{"sxp", "(domain\n    (domid 0)\n)\n", "SXP"},
		{"not an array", `{"domid": 1}`, "cannot unmarshal"},
		{"no domid", `[{"config": {}}]`, "no domid"},
		{"no config", `[{"domid": 3}]`, "domain 3 has no config"},
		{"wrong type", `[{"domid": 3, "config": {"c_info": {"name": 7}}}]`, "config of domain 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXLListLong([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseXLListLong(%q) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
