#!/usr/bin/env bash
# The newcomer's first command: installs the Debian packages attrace needs,
# builds it, starts the simulated module (attrace-sim) on a pseudo-terminal
# with an empty certificate store and a TLS test server on 127.0.0.1
# (openssl s_server with the test keys of samples/keys), provisions the
# module with attrace-provision (scenario ok, then the failing scenario
# totallen-excludes-self), stops the simulator and decodes the trace it
# recorded with `attrace decode`.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/install-deps
else
  sudo bash .ci/install-deps
fi
cmake --preset default
cmake --build --preset default

bin=build/default
work=$(mktemp -d)
sim_pid='' srv_pid=''
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo
echo "== openssl s_server on 127.0.0.1:$port (answers each line reversed)"
openssl s_server -accept "127.0.0.1:$port" -cert samples/keys/server.crt.pem \
  -key samples/keys/server.key.pem -rev -quiet < /dev/null > "$work/s_server.log" 2>&1 &
srv_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

echo
echo "== attrace-sim: a simulated module on a pseudo-terminal, recording $work/demo.pcap"
"$bin"/simulator/attrace-sim --store "$work/store" --link "$work/tty" \
  --imei 358240051111110 --require-rtscts --log "$work/sim.log" -w "$work/demo.pcap" &
sim_pid=$!
for _ in $(seq 50); do [ -e "$work/tty" ] && break; sleep 0.1; done

for scenario in ok totallen-excludes-self; do
  echo
  echo "== attrace-provision --scenario $scenario"
  "$bin"/samples/attrace-provision --port "$work/tty" --keys samples/keys \
    --scenario "$scenario" --rtscts --tls-port "$port"
done

kill -TERM "$sim_pid"
wait "$sim_pid"
sim_pid=''

echo
echo "== attrace decode $work/demo.pcap (the failing exchange and its diagnosis are near the end)"
"$bin"/decoder/attrace decode "$work/demo.pcap"

echo
echo "== the diagnosis again (attrace decode --check exits 1 on an error finding)"
"$bin"/decoder/attrace decode --check "$work/demo.pcap" | grep -A1 -E '^ +(error|warning|info) ' || true
