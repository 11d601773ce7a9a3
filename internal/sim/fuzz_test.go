package sim

import (
	"slices"
	"testing"
)

func FuzzParseXLConfig(f *testing.F) {
	for _, seed := range []string{
		webCfg,
		"name='a'; memory=64\ndisk = [\n 'drbd:r0,xvda,w',\n]\n",
		"disk += ['x']\n",
		"name = \"unterminated\n",
		"[ ] = ;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		settings, err := parseXLConfig("f.cfg", text)
		if err != nil {
			return
		}
		// Whatever parses must also go through the domain extraction
		// without panicking.
		_, _ = domainFromConfig("f.cfg", settings)
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add("1 2026-11-22T10:00:00.001Z - init nodes=a,b")
	f.Add(`12 2026-11-22T10:00:00.012Z a refusal cmd="drbdadm primary r0" code=11 why="say \"no\"=x"`)
	f.Add(`3 2026-11-22T10:00:00+02:00 b set key="" value="tab\there"`)
	f.Fuzz(func(t *testing.T, line string) {
		first, err := parseEvent(line)
		if err != nil {
			return
		}
		again, err := parseEvent(first.String())
		if err != nil {
			t.Fatalf("the rendering %q of parsed %q does not parse: %v", first.String(), line, err)
		}
		if again.Seq != first.Seq || !again.Time.Equal(first.Time) || again.Node != first.Node || again.Kind != first.Kind ||
			!slices.Equal(again.Attrs, first.Attrs) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", first, again)
		}
	})
}
