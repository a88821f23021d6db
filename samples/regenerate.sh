#!/bin/bash
# Records the sample traces again: for each scenario, a fresh attrace-sim
# (empty store, IMEI 358240051111110, legacy profile) writes
# samples/<name>.pcap while attrace-provision runs the scenario against it.
# TLS scenarios also get an `openssl s_server -rev` on 127.0.0.1 with the
# test server certificate (samples/keys, TEST ONLY). Builds nothing.
#
#   bash samples/regenerate.sh BUILD_DIR [NAME...]
#
# Without NAMEs every sample is recorded. SAMPLES_OUT=DIR records into DIR
# instead of samples/ (ctest's provision_e2e does). Real sessions are not byte for
# byte reproducible (timestamps, read splits): ctest's samples_findings
# checks what the committed files show (samples/expected-findings.txt).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [NAME...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
keys=$here/keys
sim=$build/simulator/attrace-sim
prov=$build/samples/attrace-provision
for b in "$sim" "$prov"; do
  [ -x "$b" ] || { echo "$0: $b is missing: build first" >&2; exit 1; }
done
IMEI=358240051111110

# name | scenario | simulator options | client options | TLS server
samples=(
  "provisioning-ok|ok|--require-rtscts|--rtscts|tls"
  "totallen-excludes-self|totallen-excludes-self|--require-rtscts|--rtscts|"
  "big-endian|big-endian|--require-rtscts|--rtscts|"
  "wrong-key|wrong-key|--require-rtscts|--rtscts|"
  "other-imei|other-imei|--require-rtscts|--rtscts|"
  "sha256-legacy|sha256-legacy|--require-rtscts|--rtscts|"
  "xonxoff|xonxoff|--timeout-ms 2000||"
  "server-before-client|server-before-client|--require-rtscts|--rtscts|"
  "sis66-wrong-secopt|sis66-wrong-secopt|--require-rtscts|--rtscts|tls"
  "service-timeout|service-timeout|--timeout-ms 1500 --require-rtscts|--rtscts|"
)

work=$(mktemp -d)
sim_pid='' srv_pid=''
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for TEST... : up to 5 s for the condition to hold.
wait_for() {
  local i
  for i in $(seq 50); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

record() {
  local name=$1 scen=$2 simopts=$3 provopts=$4 tls=$5
  local dir=$work/$name out=${SAMPLES_OUT:-$here}/$name.pcap
  mkdir -p "$dir"
  local tlsopt=()
  if [ -n "$tls" ]; then
    local port
    port=$(free_port)
    openssl s_server -accept "127.0.0.1:$port" -cert "$keys/server.crt.pem" \
      -key "$keys/server.key.pem" -rev -quiet < /dev/null > "$dir/s_server.log" 2>&1 &
    srv_pid=$!
    wait_for port_open "$port" || { echo "$0: openssl s_server did not start" >&2; return 1; }
    tlsopt=(--tls-port "$port")
  fi
  # shellcheck disable=SC2086 # word splitting of the option lists is wanted
  "$sim" --link "$dir/tty" -w "$dir/trace.pcap" --store "$dir/store" --imei "$IMEI" \
    --log "$dir/sim.log" $simopts > "$dir/sim.out" &
  sim_pid=$!
  wait_for test -e "$dir/tty" || { echo "$0: attrace-sim did not start" >&2; return 1; }
  echo "== $name (scenario $scen)"
  local rc=0
  # shellcheck disable=SC2086
  "$prov" --port "$dir/tty" --keys "$keys" --scenario "$scen" $provopts "${tlsopt[@]}" \
    > "$dir/provision.out" 2>&1 || rc=$?
  sed 's/^/   /' "$dir/provision.out"
  sleep 0.2
  kill -TERM "$sim_pid"
  wait "$sim_pid" || { echo "$0: attrace-sim failed (log: $dir/sim.log)" >&2; rc=1; }
  sim_pid=''
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=''
  fi
  if [ "$rc" -ne 0 ]; then
    cat "$dir/sim.log" >&2
    echo "$0: $name: the session did not go as the scenario expects;" \
         "samples/$name.pcap left as it was" >&2
    return 1
  fi
  mv "$dir/trace.pcap" "$out"
}

status=0
for entry in "${samples[@]}"; do
  IFS='|' read -r name scen simopts provopts tls <<< "$entry"
  if [ $# -gt 0 ]; then
    want=0
    for n in "$@"; do [ "$n" = "$name" ] && want=1; done
    [ $want -eq 1 ] || continue
  fi
  record "$name" "$scen" "$simopts" "$provopts" "$tls" || status=1
done
exit $status
