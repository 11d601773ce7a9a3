package resources

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"xhad/dsl"
	"xhad/internal/runner"
)

// LVMFilterWarnings checks, for every group that has both a DRBD resource
// and an LVM volume group ("LVM over DRBD"), that the LVM configuration at
// lvmConf rejects the DRBD backing devices. If LVM scans a backing device it
// sees the same physical volume twice (on the backing device and on
// /dev/drbdN) and may activate the volume group on the raw disk, bypassing
// replication. The backing device comes from `drbdadm sh-ll-dev RES`. The
// result is a list of warnings; none means nothing to say.
func LVMFilterWarnings(ctx context.Context, p *dsl.Plan, r runner.Runner, lvmConf string) []string {
	var warnings []string
	patterns, found, err := readLVMFilter(lvmConf)
	if err != nil {
		return []string{fmt.Sprintf("cannot check the LVM filter: %v", err)}
	}
	for _, g := range p.Groups {
		hasLVM := false
		var drbds []string
		for _, res := range g.Resources {
			switch {
			case res.LVM != nil:
				hasLVM = true
			case res.DRBD != nil:
				drbds = append(drbds, res.DRBD.Resource)
			}
		}
		if !hasLVM {
			continue
		}
		for _, name := range drbds {
			out, err := r.Run(ctx, runner.Cmd{Path: p.Tools.Drbdadm, Args: []string{"sh-ll-dev", name}})
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("group %s: cannot learn the backing device of DRBD resource %s to check the LVM filter: %v", g.Name, name, err))
				continue
			}
			for _, dev := range strings.Fields(string(out.Stdout)) {
				if !found {
					warnings = append(warnings, fmt.Sprintf("group %s: %s has no filter or global_filter, so LVM also scans %s, the backing device of DRBD resource %s; add to its devices section: global_filter = [ \"r|^%s$|\" ]", g.Name, lvmConf, dev, name, regexp.QuoteMeta(dev)))
					continue
				}
				if accepted(patterns, dev) {
					warnings = append(warnings, fmt.Sprintf("group %s: the LVM filter in %s accepts %s, the backing device of DRBD resource %s; reject it first: \"r|^%s$|\"", g.Name, lvmConf, dev, name, regexp.QuoteMeta(dev)))
				}
			}
		}
	}
	return warnings
}

type lvmPattern struct {
	accept bool
	re     *regexp.Regexp
}

// accepted applies LVM's rule: the first pattern that matches decides; a
// device no pattern matches is accepted.
func accepted(patterns []lvmPattern, dev string) bool {
	for _, p := range patterns {
		if p.re.MatchString(dev) {
			return p.accept
		}
	}
	return true
}

var filterLine = regexp.MustCompile(`^\s*(global_filter|filter)\s*=\s*\[(.*)\]`)

// readLVMFilter returns the patterns of global_filter (or, without it,
// filter) from an lvm.conf; found is false when neither is set.
func readLVMFilter(path string) ([]lvmPattern, bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	lists := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if m := filterLine.FindStringSubmatch(line); m != nil {
			lists[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, err
	}
	list, ok := lists["global_filter"]
	if !ok {
		list, ok = lists["filter"]
	}
	if !ok {
		return nil, false, nil
	}
	var out []lvmPattern
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(list, -1) {
		s := q[1]
		if len(s) < 3 || (s[0] != 'a' && s[0] != 'r') {
			return nil, true, fmt.Errorf("%s: filter pattern %q is not a|regex| or r|regex|", path, s)
		}
		delim := s[1]
		end := strings.LastIndexByte(s, delim)
		if end <= 1 {
			return nil, true, fmt.Errorf("%s: filter pattern %q has no closing %c", path, s, delim)
		}
		re, err := regexp.Compile(s[2:end])
		if err != nil {
			return nil, true, fmt.Errorf("%s: filter pattern %q: %w", path, s, err)
		}
		out = append(out, lvmPattern{accept: s[0] == 'a', re: re})
	}
	return out, true, nil
}
