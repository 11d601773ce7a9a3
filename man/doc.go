// Package man renders xhad's manual pages and shell completion scripts from
// the same sources the program uses, so the documentation cannot drift:
//
//   - Xhad8 renders xhad(8) from the command line definition (every visible
//     command, its arguments and flags with defaults and environment
//     variables) plus hand-written sections: DESCRIPTION, STATES, SIGNALS,
//     EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO.
//   - XhadToml5 renders xhad.toml(5) from dsl.Keys(): every key with its
//     type, default, unit, description and an example.
//   - BashCompletion and ZshCompletion return scripts that ask the installed
//     binary for candidates (urfave/cli's --generate-bash-completion).
//
// The pages are roff for the man(7) macros, clean under `mandoc -Tlint` and
// `groff -man -ww -z`. Their date is taken from SOURCE_DATE_EPOCH when set
// (reproducible builds), otherwise from the build time of the app or now.
package man
