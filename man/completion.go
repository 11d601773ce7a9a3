package man

// BashCompletion returns a bash completion script for xhad, to be installed
// as /usr/share/bash-completion/completions/xhad. Command and flag names
// come from the xhad binary being completed (urfave/cli's
// --generate-bash-completion, which prints candidates and runs nothing), so
// the script never lists a command the installed version lacks. After
// --config, -c and --socket it completes file names; after maintenance, on
// and off. It never asks the binary once "--" was typed: urfave/cli then
// disables completion and would run the command itself.
func BashCompletion() string { return bashCompletion }

// ZshCompletion returns a zsh completion script for xhad (a #compdef file,
// to be installed as /usr/share/zsh/vendor-completions/_xhad). Like
// BashCompletion it asks the binary for candidates, and shows each
// command's one-line usage next to its name.
func ZshCompletion() string { return zshCompletion }

const bashCompletion = `# bash completion for xhad(8)                              -*- shell-script -*-
# Candidates come from the binary itself: "xhad ... --generate-bash-completion"
# prints the commands or flags possible at that point and runs nothing.

_xhad() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev=""
    if [[ $COMP_CWORD -gt 0 ]]; then
        prev="${COMP_WORDS[COMP_CWORD-1]}"
    fi
    COMPREPLY=()
    case "$prev" in
        --config|-c|--socket)
            COMPREPLY=( $(compgen -f -- "$cur") )
            return 0
            ;;
        maintenance)
            COMPREPLY=( $(compgen -W "on off" -- "$cur") )
            return 0
            ;;
    esac
    local -a words=( "${COMP_WORDS[@]:0:COMP_CWORD}" )
    local w opts
    # After "--" urfave/cli turns completion off and would RUN the command:
    # never ask the binary then.
    for w in "${words[@]}"; do
        [[ "$w" == "--" ]] && return 0
    done
    if [[ "$cur" == -* ]]; then
        # "-" asks for every flag ("--" itself would end the options).
        opts=$("${words[@]}" - --generate-bash-completion 2>/dev/null)
    else
        opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
    fi
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return 0
}
complete -o bashdefault -o default -F _xhad xhad
`

const zshCompletion = `#compdef xhad
# zsh completion for xhad(8). Candidates come from the binary itself:
# "xhad ... --generate-bash-completion" prints the commands (as name:usage
# when the environment variable 0 ends in zsh) or flags possible at that
# point and runs nothing.

_xhad() {
    local -a opts
    local cur prev
    cur=${words[CURRENT]}
    prev=${words[CURRENT-1]}
    case $prev in
        --config|-c|--socket)
            _files
            return
            ;;
        maintenance)
            opts=('on:stop acting, leave resources as they are' 'off:probe every resource and act again')
            _describe 'mode' opts
            return
            ;;
    esac
    # After "--" urfave/cli turns completion off and would RUN the command:
    # never ask the binary then.
    if (( ${words[(Ie)--]} )) && (( ${words[(Ie)--]} < CURRENT )); then
        _files
        return
    fi
    if [[ $cur == -* ]]; then
        # "-" asks for every flag ("--" itself would end the options).
        opts=("${(@f)$(env 0=zsh ${words[1,CURRENT-1]} - --generate-bash-completion 2>/dev/null)}")
    else
        opts=("${(@f)$(env 0=zsh ${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
    fi
    if [[ -n ${opts[1]} ]]; then
        _describe 'xhad' opts
    else
        _files
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _xhad "$@"
else
    compdef _xhad xhad
fi
`
