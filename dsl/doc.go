// Package dsl turns xhad's configuration file (TOML, kebab-case keys) into a
// validated, typed Plan, the only form of the configuration the daemon and
// `xhad check-config` read.
//
// Load and Parse report every problem of a file at once, as an *Errors whose
// lines read FILE:LINE:COL: KEY: what is wrong; what to write instead. A
// valid Plan has every default filled in (Keys documents them, and is the one
// table the parser takes its fixed defaults from), durations also converted
// to decision-loop ticks, every resource's dependencies resolved, and every
// cross-reference checked. Load also checks the secret files the plan names
// (owner, mode 0600, size); Parse can leave that out and then touches no
// file. RenderText, WriteTOML and the Plan's MarshalJSON print a plan for a
// sysadmin, as a config file, and as JSON (durations as "500ms").
package dsl
