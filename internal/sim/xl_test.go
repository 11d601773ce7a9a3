package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The sample of reference section 4 (QubesOS/qubes-issues#314), rebuilt:
// Domain-0 with 2253 MB and 4 VCPUs that has used 6169.5 s of CPU, and a
// blocked netvm of 200 MB with 148.5 s.
func TestXLListMatchesReferenceSample(t *testing.T) {
	p := newPair(t, InitOptions{Dom0MemoryMB: 2253, Dom0VCPUs: 4})
	// Domain-0 accrues 0.1 s of CPU per second since boot, a guest 0.01.
	p.clock.Advance(61695*time.Second - 14850*time.Second)
	cfg := p.cfg("netvm.cfg", "name = \"netvm\"\nmemory = 200\nvcpus = 1\n")
	p.must("a", "xl", "create", cfg)
	p.clock.Advance(14850 * time.Second)

	want := "Name                                        ID   Mem VCPUs\tState\tTime(s)\n" +
		"Domain-0                                     0  2253     4     r-----    6169.5\n" +
		"netvm                                        1   200     1     -b----     148.5\n"
	if got := p.must("a", "xl", "list"); got != want {
		t.Fatalf("xl list:\n got %q\nwant %q", got, want)
	}
	wantOne := "Name                                        ID   Mem VCPUs\tState\tTime(s)\n" +
		"netvm                                        1   200     1     -b----     148.5\n"
	for _, q := range []string{"netvm", "1"} {
		if got := p.must("a", "xl", "list", q); got != wantOne {
			t.Fatalf("xl list %s:\n got %q\nwant %q", q, got, wantOne)
		}
	}
	// The other node has its own domains.
	if got := p.must("b", "xl", "list"); strings.Contains(got, "netvm") {
		t.Fatalf("node b lists a domain of node a:\n%s", got)
	}
}

func TestXLListLongShape(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	p.must("a", "drbdadm", "primary", "r0")
	cfg := p.cfg("web.cfg", webCfg+"uuid = \"6f0c5a2e-1c1d-4d5e-9f00-0123456789ab\"\nvif = [ 'bridge=xenbr0,mac=00:16:3e:00:00:01' ]\non_crash = \"preserve\"\n")
	p.must("a", "xl", "create", cfg)
	want := `[
    {
        "domid": 0,
        "config": {
            "c_info": {
                "type": "pv",
                "name": "Domain-0",
                "uuid": "00000000-0000-0000-0000-000000000000"
            },
            "b_info": {
                "max_vcpus": 2,
                "max_memkb": 2097152,
                "target_memkb": 2097152
            }
        }
    },
    {
        "domid": 1,
        "config": {
            "c_info": {
                "type": "pv",
                "name": "web",
                "uuid": "6f0c5a2e-1c1d-4d5e-9f00-0123456789ab"
            },
            "b_info": {
                "max_vcpus": 2,
                "max_memkb": 524288,
                "target_memkb": 524288
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
                    "bridge": "xenbr0",
                    "mac": "00:16:3e:00:00:01"
                }
            ],
            "on_poweroff": "destroy",
            "on_reboot": "restart",
            "on_crash": "preserve"
        }
    }
]
`
	got := p.must("a", "xl", "list", "-l")
	if got != want {
		t.Fatalf("xl list -l:\n%s\nwant:\n%s", got, want)
	}
	var parsed []struct {
		Domid  int `json:"domid"`
		Config struct {
			CInfo struct{ Name string } `json:"c_info"`
			Disks []struct {
				PdevPath string `json:"pdev_path"`
			} `json:"disks"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(p.must("a", "xl", "list", "--long", "web")), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 1 || parsed[0].Domid != 1 || parsed[0].Config.CInfo.Name != "web" || parsed[0].Config.Disks[0].PdevPath != "/dev/drbd0" {
		t.Fatalf("xl list --long web: %+v", parsed)
	}
}

func TestXLRefusalsAndErrors(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	web := p.cfg("web.cfg", webCfg)
	noName := p.cfg("noname.cfg", "memory = 128\n")
	bad := p.cfg("bad.cfg", "name = \"x\"\nmemory = = 3\n")
	free := p.cfg("free.cfg", "name = \"free\"\nmemory = 64\n")
	p.must("a", "xl", "create", free) // domid 1
	p.ctl("domain", "a", "free", "no-pv")

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderr     string
		stdoutHead string
	}{
		{name: "list unknown name", args: []string{"list", "nosuch"}, code: 1,
			stderr: "nosuch is an invalid domain identifier (rc=-6)\n"},
		{name: "list missing id", args: []string{"list", "42"}, code: 1,
			stderr: "Error: Domain '42' does not exist.\n"},
		{name: "domid unknown", args: []string{"domid", "nosuch"}, code: 1,
			stderr: "Can't get domid of domain name 'nosuch', maybe this domain does not exist.\n"},
		{name: "domid known", args: []string{"domid", "free"}, code: 0, stdout: "1\n"},
		{name: "domid of Domain-0", args: []string{"domid", "Domain-0"}, code: 0, stdout: "0\n"},
		{name: "create unreadable", args: []string{"create", "/nonexistent/web.cfg"}, code: 3,
			stderr: "Failed to read config file: /nonexistent/web.cfg: No such file or directory\n"},
		{name: "create without name", args: []string{"create", noName}, code: 1,
			stderr: "Parsing config from " + noName + "\nDomain name must be specified.\n"},
		{name: "create unparsable", args: []string{"create", bad}, code: 1,
			stderr: "Parsing config from " + bad + "\n" + bad + ":2: config parsing error near `=': syntax error\nFailed to parse config: Invalid argument\n"},
		{name: "create duplicate", args: []string{"create", free}, code: 3,
			stderr: "Parsing config from " + free + "\n" +
				"libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain 2:Domain with name \"free\" already exists.\n" +
				"libxl: error: libxl_create.c:1309:initiate_domain_create: Domain 2:cannot make domain: -6\n"},
		{name: "create on a Secondary DRBD device", args: []string{"create", web}, code: 3,
			stderr: "Parsing config from " + web + "\n" +
				"libxl: error: libxl_device.c:1194:device_backend_callback: Domain 3:unable to add device with path /local/domain/0/backend/vbd/3/51712 - rc -3\n" +
				"libxl: error: libxl_create.c:1685:domcreate_launch_dm: Domain 3:unable to add disk devices\n"},
		{name: "shutdown without domain", args: []string{"shutdown"}, code: 1,
			stderr: "You must specify -a or a domain id.\n\n"},
		{name: "shutdown unknown", args: []string{"shutdown", "nosuch"}, code: 1,
			stderr: "nosuch is an invalid domain identifier (rc=-6)\n"},
		{name: "shutdown without PV drivers", args: []string{"shutdown", "free"}, code: 1,
			stderr: "Shutting down domain 1\n" +
				"PV control interface not available: external graceful shutdown not possible.\n" +
				"Use \"-F\" to fallback to ACPI power event.\n" +
				"shutdown failed (rc=-10)\n"},
		{name: "shutdown missing id", args: []string{"shutdown", "42"}, code: 1,
			stderr: "Shutting down domain 42\n" +
				"libxl: error: libxl_dom.c:37:libxl__domain_type: Domain 42:unable to get dominfo: No such process\n" +
				"shutdown failed (rc=-3)\n"},
		{name: "destroy without domain", args: []string{"destroy"}, code: 2,
			stderr: "'xl destroy' requires at least 1 argument.\n\n", stdoutHead: "Usage: xl [-vtTf] destroy [options] <Domain>\n\n\nTerminate a domain immediately.\n"},
		{name: "destroy unknown", args: []string{"destroy", "nosuch"}, code: 1,
			stderr: "nosuch is an invalid domain identifier (rc=-6)\n"},
		{name: "destroy Domain-0", args: []string{"destroy", "0"}, code: 1,
			stderr: "Not destroying domain 0; use -f to force.\nThis can only be done when using a disaggregated hardware domain and toolstack.\n\n"},
		{name: "destroy missing id", args: []string{"destroy", "42"}, code: 1,
			stderr: "libxl: error: libxl_domain.c:1181:libxl__destroy_domid: Domain 42:Non-existant domain\n" +
				"libxl: error: libxl_domain.c:1135:domain_destroy_callback: Domain 42:Unable to destroy guest\n" +
				"libxl: error: libxl_domain.c:1062:domain_destroy_cb: Domain 42:Destruction of domain failed\n" +
				"destroy failed (rc=-21)\n"},
		{name: "unknown subcommand", args: []string{"migrate", "free", "b"}, code: 1, stderr: "command not implemented\n"},
		{name: "unknown option", args: []string{"list", "-x"}, code: 2, stderr: "option `x' not supported.\n"},
		{name: "unknown global option", args: []string{"-q", "list"}, code: 1, stderr: "unknown global option\n"},
		{name: "no subcommand", args: nil, code: 1, stdoutHead: "Usage xl [-vfNtT] <subcommand> [args]\n"},
		{name: "list too many", args: []string{"list", "a", "b"}, code: 1, stdoutHead: "Usage: xl [-vtT] list [options] [Domain]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := p.run("a", "xl", tc.args...)
			if code != tc.code || errOut != tc.stderr {
				t.Fatalf("xl %v: exit %d, stderr %q\nwant exit %d, stderr %q", tc.args, code, errOut, tc.code, tc.stderr)
			}
			if tc.stdoutHead != "" {
				if !strings.HasPrefix(out, tc.stdoutHead) {
					t.Fatalf("stdout %q does not start with %q", out, tc.stdoutHead)
				}
			} else if out != tc.stdout {
				t.Fatalf("stdout %q, want %q", out, tc.stdout)
			}
		})
	}
	refusals := p.kinds(kindRefusal)
	if len(refusals) != 3 {
		t.Fatalf("journal refusals (want duplicate, DRBD not Primary, no PV): %q", refusals)
	}
}

func TestXLCreateExtraArgsAndOptions(t *testing.T) {
	p := newPair(t, InitOptions{})
	cfg := p.cfg("x.cfg", "name = \"x\"\nmemory = 64\n")
	_, errOut, code := p.run("a", "xl", "create", cfg, `name="renamed"`, "memory=96")
	if code != 0 || errOut != "Parsing config from "+cfg+"\n" {
		t.Fatalf("create with k=v: exit %d stderr %q", code, errOut)
	}
	if got := p.must("a", "xl", "list", "renamed"); !strings.Contains(got, "renamed                                      1    96     1     -b----") {
		t.Fatalf("k=v arguments not applied:\n%s", got)
	}
	// -q: no "Parsing config" line; -p: left paused.
	cfg2 := p.cfg("y.cfg", "name = \"y\"\n")
	_, errOut, code = p.run("a", "xl", "create", "-q", "-p", cfg2)
	if code != 0 || errOut != "" {
		t.Fatalf("create -q -p: exit %d stderr %q", code, errOut)
	}
	if got := p.must("a", "xl", "list", "y"); !strings.Contains(got, "--p---") {
		t.Fatalf("create -p did not leave the domain paused:\n%s", got)
	}
}

func TestXLShutdownCompletesAfterDelay(t *testing.T) {
	p := newPair(t, InitOptions{})
	p.ctl("set", "shutdown-delay", "5s")
	p.must("a", "xl", "create", p.cfg("x.cfg", "name = \"x\"\n"))
	_, errOut, code := p.run("a", "xl", "shutdown", "x")
	if code != 0 || errOut != "Shutting down domain 1\n" {
		t.Fatalf("shutdown: exit %d stderr %q", code, errOut)
	}
	p.clock.Advance(4999 * time.Millisecond)
	if _, _, code := p.run("a", "xl", "list", "x"); code != 0 {
		t.Fatal("domain gone before the shutdown delay passed")
	}
	p.clock.Advance(time.Millisecond)
	_, errOut, code = p.run("a", "xl", "list", "x")
	if code != 1 || errOut != "x is an invalid domain identifier (rc=-6)\n" {
		t.Fatalf("after the delay: exit %d stderr %q", code, errOut)
	}
	stops := p.kinds(kindDomainStop)
	if len(stops) != 1 || stops[0] != "a domain-stop dom=x id=1 how=shutdown" {
		t.Fatalf("journal: %q", stops)
	}
}

func TestXLShutdownWait(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		mode   string
		code   int
		stderr string
	}{
		{"wait for shutdown", []string{"shutdown", "-w", "x"}, "normal", 0,
			"Shutting down domain 1\nWaiting for 1 domains\nDomain 1 has been shut down, reason code 0\n"},
		{"wait for death", []string{"shutdown", "-ww", "x"}, "normal", 0,
			"Shutting down domain 1\nWaiting for 1 domains\nDomain 1 has been shut down, reason code 0\n" +
				"Domain 1 continue waiting for death\nDomain 1 has been destroyed\n"},
		{"guest ignores it: bounded", []string{"shutdown", "--wait", "x"}, "ignore-shutdown", 1,
			"Shutting down domain 1\nWaiting for 1 domains\n" +
				"xhad sim xl: stopped waiting after 3s (shutdown-wait); domain 1 is still there (real xl -w waits forever)\n"},
		{"all domains", []string{"shutdown", "-a", "-w"}, "normal", 0,
			"Shutting down domain 1\nWaiting for 1 domains\nDomain 1 has been shut down, reason code 0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, InitOptions{})
			p.ctl("set", "shutdown-delay", "1s")
			p.ctl("set", "shutdown-wait", "3s")
			p.ctl("domain", "a", "x", tc.mode) // before the domain exists: applied at create
			p.must("a", "xl", "create", "-q", p.cfg("x.cfg", "name = \"x\"\n"))
			start := p.clock.Now()
			_, errOut, code := p.run("a", "xl", tc.args...)
			if code != tc.code || errOut != tc.stderr {
				t.Fatalf("exit %d stderr %q\nwant exit %d stderr %q", code, errOut, tc.code, tc.stderr)
			}
			waited := p.clock.Now().Sub(start)
			if tc.code == 0 && (waited < time.Second || waited > 2*time.Second) {
				t.Fatalf("waited %s of simulated time for a 1s shutdown", waited)
			}
		})
	}
}

func TestXLCreateAndDestroyDelaysShowIntermediateStates(t *testing.T) {
	p := newPair(t, InitOptions{})
	p.ctl("set", "create-delay", "50ms")
	p.ctl("set", "destroy-delay", "30ms")
	var seen []string
	p.clock.onSleep = func(d time.Duration) {
		// The command sleeps without the lock: another command can look.
		list, _, _ := p.run("a", "xl", "list", "x")
		seen = append(seen, d.String()+" "+strings.Fields(strings.Split(list, "\n")[1])[4])
	}
	cfg := p.cfg("x.cfg", "name = \"x\"\n")
	start := p.clock.Now()
	p.must("a", "xl", "create", cfg)
	p.must("a", "xl", "destroy", "x")
	want := []string{"50ms --p---", "30ms -----d"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("states seen during the delays: %q, want %q", seen, want)
	}
	if got := p.clock.Now().Sub(start); got != 80*time.Millisecond {
		t.Fatalf("create+destroy cost %s of simulated time, want the 80ms of delays", got)
	}
	wantEvents := []string{"a domain-start dom=x id=1 cfg=" + cfg, "a domain-running dom=x id=1", "a domain-stop dom=x id=1 how=destroy"}
	if got := p.kinds(kindDomainStart, kindDomainRunning, kindDomainStop); strings.Join(got, "|") != strings.Join(wantEvents, "|") {
		t.Fatalf("journal %q\nwant %q", got, wantEvents)
	}
}

func TestCtlDomainCrash(t *testing.T) {
	tests := []struct {
		onCrash string
		list    string // state letters after the crash, "" when gone
		events  string
	}{
		{"destroy", "", "a domain-start dom=x id=1|a domain-stop dom=x id=1 how=crash"},
		{"preserve", "---sc-", "a domain-start dom=x id=1"},
		{"restart", "-b----", "a domain-start dom=x id=1|a domain-stop dom=x id=1 how=crash|a domain-start dom=x id=2"},
	}
	for _, tc := range tests {
		t.Run(tc.onCrash, func(t *testing.T) {
			p := newPair(t, InitOptions{})
			p.must("a", "xl", "create", p.cfg("x.cfg", "name = \"x\"\non_crash = \""+tc.onCrash+"\"\n"))
			p.ctl("domain", "a", "x", "crash")
			out, _, code := p.run("a", "xl", "list", "x")
			switch {
			case tc.list == "" && code != 1:
				t.Fatalf("crashed domain still listed:\n%s", out)
			case tc.list != "" && (code != 0 || !strings.Contains(out, tc.list)):
				t.Fatalf("xl list x: exit %d\n%s\nwant state %s", code, out, tc.list)
			}
			var got []string
			for _, ev := range p.journal() {
				if ev.Kind == kindDomainStart || ev.Kind == kindDomainStop {
					line := ev.Node + " " + ev.Kind + " dom=" + ev.Attr("dom") + " id=" + ev.Attr("id")
					if h := ev.Attr("how"); h != "" {
						line += " how=" + h
					}
					got = append(got, line)
				}
			}
			if strings.Join(got, "|") != tc.events {
				t.Fatalf("journal %q, want %q", got, tc.events)
			}
		})
	}
}

func TestParseXLConfig(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    domainConfig
		wantErr string
	}{
		{name: "typical", text: "# c\nname = \"web\"\nmemory = 512\nvcpus = 2\ndisk = [ 'phy:/dev/drbd0,xvda,w' ]\n",
			want: domainConfig{name: "web", typ: "pv", memoryMB: 512, maxMemoryMB: 512, vcpus: 2,
				disks:      []Disk{{Target: "/dev/drbd0", Vdev: "xvda", Backend: "phy", Format: "raw", Write: true}},
				onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy"}},
		{name: "semicolons, multi-line list, trailing comma, later wins", text: "name='a'; name=\"b\"\nbuilder = 'hvm'\nmaxmem=1024;memory=256\n" +
			"disk = [\n  'drbd:r1,xvdb,r',\n  'vdev=xvdc, access=rw, target=/dev/vg0/x',\n]\n",
			want: domainConfig{name: "b", typ: "hvm", memoryMB: 256, maxMemoryMB: 1024, vcpus: 1,
				disks: []Disk{{Target: "r1", Vdev: "xvdb", Backend: "phy", Format: "raw", Script: "block-drbd", Write: false},
					{Target: "/dev/vg0/x", Vdev: "xvdc", Backend: "phy", Format: "raw", Write: true}},
				onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy"}},
		{name: "list append", text: "name='a'\ndisk=['/dev/sda1,raw,xvda,w']\ndisk += ['file:/img,xvdb,w']\n",
			want: domainConfig{name: "a", typ: "pv", memoryMB: 32, maxMemoryMB: 32, vcpus: 1,
				disks: []Disk{{Target: "/dev/sda1", Vdev: "xvda", Backend: "phy", Format: "raw", Write: true},
					{Target: "/img", Vdev: "xvdb", Backend: "qdisk", Format: "raw", Write: true}},
				onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy"}},
		{name: "unterminated string", text: "name = \"web\n", wantErr: "c.cfg:1: config parsing error near `\"web': syntax error"},
		{name: "missing value", text: "name =\n", wantErr: "c.cfg:1: config parsing error near `\n': syntax error"},
		{name: "memory not a number", text: "name='a'\nmemory='lots'\n", wantErr: "c.cfg:2: config parameter `memory' is not a valid number: \"lots\""},
		{name: "name is a list", text: "name=['a']\n", wantErr: "c.cfg:1: config parameter `name' is a list but should be a single value"},
		{name: "disk without vdev", text: "name='a'\ndisk=['phy:/dev/x']\n", wantErr: "c.cfg: disk spec \"phy:/dev/x\": no virtual device (vdev)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			settings, err := parseXLConfig("c.cfg", tc.text)
			var dc domainConfig
			if err == nil {
				dc, err = domainFromConfig("c.cfg", settings)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(struct{ A, B any }{dc.disks, []any{dc.name, dc.typ, dc.memoryMB, dc.maxMemoryMB, dc.vcpus, dc.onCrash}})
			wantJSON, _ := json.Marshal(struct{ A, B any }{tc.want.disks, []any{tc.want.name, tc.want.typ, tc.want.memoryMB, tc.want.maxMemoryMB, tc.want.vcpus, tc.want.onCrash}})
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("got  %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestVbdNumber(t *testing.T) {
	for vdev, want := range map[string]int{"xvda": 51712, "xvdb": 51728, "hda": 768, "hdb": 832, "sda": 2048, "sdb": 2064} {
		if got := vbdNumber(vdev); got != want {
			t.Errorf("vbdNumber(%s) = %d, want %d", vdev, got, want)
		}
	}
}

// TestXLDestroyOfAnUndestroyableDomain: with a stuck backend, `xl destroy`
// fails the way libxl reports it and the domain stays listed; a host crash
// still takes it away.
func TestXLDestroyOfAnUndestroyableDomain(t *testing.T) {
	p := newPair(t, InitOptions{})
	p.must("a", "xl", "create", "-q", p.cfg("x.cfg", "name = \"x\"\n"))
	p.ctl("domain", "a", "x", "undestroyable")
	_, errOut, code := p.run("a", "xl", "destroy", "x")
	want := "libxl: error: libxl_domain.c:1135:domain_destroy_callback: Domain 1:Unable to destroy guest\n" +
		"libxl: error: libxl_domain.c:1062:domain_destroy_cb: Domain 1:Destruction of domain failed\n" +
		"destroy failed (rc=-3)\n"
	if code != 1 || errOut != want {
		t.Fatalf("exit %d stderr %q\nwant exit 1 stderr %q", code, errOut, want)
	}
	if out, _, code := p.run("a", "xl", "list", "x"); code != 0 || !strings.Contains(out, "x ") {
		t.Fatalf("after the failed destroy: xl list x exit %d:\n%s", code, out)
	}
	p.ctl("host-crash", "a")
	if stops := p.kinds(kindDomainStop); len(stops) != 1 || stops[0] != "a domain-stop dom=x id=1 how=host-crash" {
		t.Fatalf("journal: %q", stops)
	}
}
