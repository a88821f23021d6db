# bash completion for attrace and attrace-sim.
# Installed under both names into bash-completion's completions folder,
# which loads it the first time either command is completed.

_attrace_opts_decode='--json --hex --show-secrets --color= --profile= --client-cert= --pause-warn-ms= --check --list-rules --help'
_attrace_opts_encode='--index --cert --key --passin --keypass --alias --imei --sig --profile --mode --thumbprint --include-key --force --output --help'
_attrace_opts_capture='--module --host --link --tap-te --tap-me --exec --baud --flow --data-bits --parity --stop-bits -w -C -W --reconnect --quiet --help'
_attrace_opts_port='--port --baud --rtscts --no-flow --crlf --timeout-ms --gap-ms --escape --profile --write --verbose --json'
_attrace_opts_cert="--index --cert --key --passin --keypass --alias --imei --sig --frame --no-verify --client-cert --output --help $_attrace_opts_port"
_attrace_opts_replay="--pace --channel --only-secure --keep-going --resign --key --passin --keypass --alias --help $_attrace_opts_port"
_attrace_opts_diff='--json --all --channel= --exact --show-secrets --help'
_attrace_opts_sim='--store --link --port --imei --profile --timeout-ms --seed --log --write --drop-rate --corrupt-rate --delay-ms --byte-time-us --require-rtscts --ok-after-error --data-mode --help'

# Completes a word that follows an option taking a value; returns 1 when
# the previous word takes none.
_attrace_value()
{
    local cur=$1 prev=$2
    case $prev in
        --color) COMPREPLY=($(compgen -W 'auto always never' -- "$cur")) ;;
        --profile) COMPREPLY=($(compgen -W 'legacy newer' -- "$cur")) ;;
        --sig) COMPREPLY=($(compgen -W 'sha1 sha256 none' -- "$cur")) ;;
        --pace) COMPREPLY=($(compgen -W 'recorded' -- "$cur")) ;;
        --flow) COMPREPLY=($(compgen -W 'none rtscts xonxoff' -- "$cur")) ;;
        --parity) COMPREPLY=($(compgen -W 'N E O M S' -- "$cur")) ;;
        --stop-bits) COMPREPLY=($(compgen -W '1 2' -- "$cur")) ;;
        --data-bits) COMPREPLY=($(compgen -W '5 6 7 8' -- "$cur")) ;;
        --passin) COMPREPLY=($(compgen -W 'env: file: prompt' -- "$cur")); compopt -o nospace ;;
        --module|--host|--tap-te|--tap-me|--port)
            COMPREPLY=($(compgen -f -- "${cur:-/dev/tty}")) ;;
        --store) COMPREPLY=($(compgen -d -- "$cur")) ;;
        --cert|--key|--frame|--client-cert|--output|-o|-w|--write|--log|--link)
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        --index|--imei|--alias|--mode|--exec|--baud|-C|-W|--timeout-ms|--seed|--drop-rate|--corrupt-rate|--delay-ms|--byte-time-us|--pause-warn-ms|--gap-ms|--channel)
            COMPREPLY=() ;;
        *) return 1 ;;
    esac
    return 0
}

# Completes "--opt=value" words of attrace decode.
_attrace_decode_eq()
{
    local cur=$1
    case $cur in
        --color=*) COMPREPLY=($(compgen -P --color= -W 'auto always never' -- "${cur#--color=}")) ;;
        --profile=*) COMPREPLY=($(compgen -P --profile= -W 'legacy newer' -- "${cur#--profile=}")) ;;
        --client-cert=*) COMPREPLY=($(compgen -P --client-cert= -f -- "${cur#--client-cert=}")) ;;
        *) return 1 ;;
    esac
    return 0
}

# Options (OPTS) for a word that starts with '-', else trace files.
_attrace_opts_or_traces()
{
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$1" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
    else
        COMPREPLY=($(compgen -f -X '!*.@(pcap|pcapng|cap)' -- "$cur") $(compgen -d -- "$cur"))
    fi
}

# The operation (OPERATIONS) right after the command, then its options (OPTS).
_attrace_operation()
{
    if [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "$1" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$2" -- "$cur"))
    fi
}

# Sets cur and prev, joining "--opt = value" (bash splits words at '=').
_attrace_words()
{
    cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$cur" = = ]; then
        cur=
    elif [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
}

_attrace()
{
    local cur prev
    _attrace_words
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W 'decode encode capture cert replay diff --help --version' -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]}
    [ "$cmd" = decode ] && _attrace_decode_eq "$cur" && return
    _attrace_value "$cur" "$prev" && return
    case $cmd in
        decode) _attrace_opts_or_traces "$_attrace_opts_decode" ;;
        replay) _attrace_opts_or_traces "$_attrace_opts_replay" ;;
        diff) _attrace_opts_or_traces "$_attrace_opts_diff" ;;
        encode) _attrace_operation 'write read delete --help' "$_attrace_opts_encode" ;;
        cert) _attrace_operation 'list write read delete --help' "$_attrace_opts_cert" ;;
        capture) COMPREPLY=($(compgen -W "$_attrace_opts_capture" -- "$cur")) ;;
    esac
}

_attrace_sim()
{
    local cur prev
    _attrace_words
    COMPREPLY=()
    _attrace_value "$cur" "$prev" && return
    COMPREPLY=($(compgen -W "$_attrace_opts_sim" -- "$cur"))
}

complete -F _attrace attrace
complete -F _attrace_sim attrace-sim
