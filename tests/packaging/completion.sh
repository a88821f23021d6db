#!/bin/bash
# The bash completion script completes commands, options and their values
# (as bash splits words: "--color=al" arrives as "--color" "=" "al").
#   bash completion.sh COMPLETION_SCRIPT
set -u
shopt -s extglob
compopt() { :; }   # only valid inside a real completion
# shellcheck source=/dev/null
source "$1" || exit 1
fail=0
check() { # FUNCTION EXPECTED WORDS...
  local fn=$1 want=$2
  shift 2
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  "$fn"
  local got="${COMPREPLY[*]}"
  if [ "$got" != "$want" ]; then
    echo "FAIL: ${COMP_WORDS[*]}: got '$got', want '$want'"
    fail=1
  fi
}
check _attrace 'decode' attrace dec
check _attrace 'encode' attrace enc
check _attrace '--version' attrace --v
check _attrace '--color=' attrace decode --col
check _attrace 'always' attrace decode --color = al
check _attrace 'auto always never' attrace decode --color =
check _attrace 'legacy newer' attrace decode --profile = ''
check _attrace 'write' attrace encode wr
check _attrace 'sha1 sha256' attrace encode write --sig sha
check _attrace '--index --imei --include-key' attrace encode write --i
check _attrace 'rtscts' attrace capture --flow rts
check _attrace '--reconnect' attrace capture --rec
check _attrace 'capture cert' attrace c
check _attrace 'list' attrace cert li
check _attrace '--no-verify --no-flow' attrace cert write --no
check _attrace '--frame' attrace cert write --fr
check _attrace '--escape' attrace cert list --esc
check _attrace_sim '--data-mode' attrace-sim --dat
check _attrace 'recorded' attrace replay x.pcap --pace rec
check _attrace '--only-secure' attrace replay x.pcap --only
check _attrace '--exact' attrace diff --ex
check _attrace '--list-rules' attrace decode --li
check _attrace_sim '--profile' attrace-sim --prof
check _attrace_sim 'newer' attrace-sim --profile n
[ "$fail" -eq 0 ] && echo "completion: all checks passed"
exit "$fail"
