#!/bin/bash
# Parallel provisioning benchmark (issue 10, section 6): one recorded
# provisioning session (client certificate and key at index 0, three server
# certificates at 1..3) replayed by `attrace replay --only-secure` onto 1, 4
# and 16 attrace-sim modules at once, each at a simulated 115200 baud
# (--byte-time-us 87). The 1-module run is the baseline of the same run.
# Reports per N: wall time of the replay, its ratio to N=1, and the CPU
# time (user+sys) of the attrace process per module.
#
#   bash tests/bench/provision/run.sh BUILD_DIR
#
# Builds nothing; needs bash and awk.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../../.." && pwd)
sim=$build/simulator/attrace-sim
attrace=$build/decoder/attrace
keys=$src/samples/keys
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_sims() { # N IMEI-SUFFIX...: N simulators with fresh stores, links in $work/N/ttyI
    local n=$1 i
    mkdir -p "$work/$n"
    for i in $(seq "$n"); do
        "$sim" --store "$work/$n/store$i" --link "$work/$n/tty$i" --log "$work/$n/sim$i.log" \
            --byte-time-us 87 --imei 358240051111110 > /dev/null &
        pids+=($!)
    done
    for i in $(seq "$n"); do
        for _ in $(seq 100); do [ -e "$work/$n/tty$i" ] && break; sleep 0.05; done
    done
}

stop_sims() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

# The recording: the four writes against one simulator, as it saw them.
mkdir -p "$work/rec"
"$sim" --store "$work/rec/store" --link "$work/rec/tty" --log "$work/rec/sim.log" \
    --imei 358240051111110 -w "$work/rec/session.pcap" > /dev/null &
pids+=($!)
for _ in $(seq 100); do [ -e "$work/rec/tty" ] && break; sleep 0.05; done
"$attrace" cert write --port "$work/rec/tty" --index 0 --cert "$keys/client.crt.der" \
    --key "$keys/client.key.der" --no-verify > /dev/null
i=1
for c in tlsca ca1 ca2; do
    "$attrace" cert write --port "$work/rec/tty" --index $i --cert "$keys/$c.crt.der" \
        --key "$keys/client.key.der" --no-verify > /dev/null
    i=$((i + 1))
done
stop_sims
rec=$work/rec/session.pcap

printf '%-8s %12s %10s %22s\n' modules "wall (s)" "vs 1" "attrace CPU/module (ms)"
base=''
for n in 1 4 16; do
    start_sims "$n"
    args=()
    for i in $(seq "$n"); do args+=(--port "$work/$n/tty$i"); done
    t0=$EPOCHREALTIME
    # times of the child (attrace) only: user and sys in a subshell
    out=$(bash -c '"$@" > "$0"; echo "exit $?"; times' "$work/$n/replay.out" "$attrace" \
          replay "$rec" --only-secure "${args[@]}")
    t1=$EPOCHREALTIME
    stop_sims
    if ! grep -q "^exit 0$" <<< "$out" ||
       ! grep -q "$n port.*, $n as recorded" "$work/$n/replay.out"; then
        cat "$work/$n/replay.out" >&2
        echo "$0: the replay onto $n modules failed" >&2
        exit 1
    fi
    # the second line of `times`: children's user and sys, e.g. 0m0.123s 0m0.045s
    cpu=$(echo "$out" | tail -1 | awk '{
        split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f", (u[1]*60+u[2]+s[1]*60+s[2])*1000 }')
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    [ -z "$base" ] && base=$wall
    awk -v n="$n" -v w="$wall" -v b="$base" -v c="$cpu" \
        'BEGIN { printf "%-8s %12.3f %10.2f %22.1f\n", n, w, w / b, c / n }'
done
