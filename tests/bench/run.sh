#!/bin/bash
# Decoder benchmark (method: tests/bench/README.md). Builds nothing.
#
#   bash tests/bench/run.sh BUILD_DIR
#
# Environment: BENCH_MB (trace size in 10^6 bytes, default 256),
# BENCH_DIR (where the trace is kept between runs, default
# ${TMPDIR:-/tmp}/attrace-bench-$UID), BENCH_ROUNDS (default 5).
# Exit status: 0 all targets met, 1 a target missed, 2 error.
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
attrace=$build/decoder/attrace
gen=$build/tests/attrace-bench-gen
reader=$build/tests/attrace-bench-read
mb=${BENCH_MB:-256}
rounds=${BENCH_ROUNDS:-5}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/attrace-bench-$UID}
trace=$dir/bench-${mb}MB.pcap
target_mbps=200          # attrace decode, MB of trace per CPU second
target_json_ratio=1.5    # attrace decode --json CPU time / attrace decode's
target_rss_kb=$((32 * 1024))

for f in "$attrace" "$gen" "$reader"; do
  if [ ! -x "$f" ]; then
    echo "$0: $f missing: build attrace, attrace-bench-gen and attrace-bench-read first" >&2
    exit 2
  fi
done
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  echo "$0: needs GNU time as /usr/bin/time (Debian package 'time')" >&2
  exit 2
fi
mkdir -p "$dir" || exit 2
if [ ! -s "$trace" ]; then
  echo "generating $trace ..." >&2
  "$gen" -o "$trace.tmp" -s "$mb" && mv "$trace.tmp" "$trace" || exit 2
fi
bytes=$(stat -c %s "$trace") || exit 2

names=("cat" "trace reader alone" "attrace decode" "attrace decode --json")
commands=("cat $trace"
          "$reader $trace"
          "$attrace decode $trace"
          "$attrace decode --json $trace")

# One run: wall seconds (bash's clock), CPU seconds (user + system, from
# wait4's rusage through GNU time) and peak RSS (KiB), stdout discarded.
# Appends "wall cpu rss" to the contender's results file.
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
run_once() {
  local i=$1 t0 t1
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2086
  if ! /usr/bin/time -f '%U %S %M' -o "$tmp/time" ${commands[$i]} > /dev/null; then
    echo "$0: '${commands[$i]}' failed" >&2
    exit 2
  fi
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" '{ printf "%.3f %.2f %d\n", b - a, $1 + $2, $3 }' \
    "$tmp/time" >> "$tmp/result-$i"
}

# Interleaved rounds: every contender once per round, in turn, so that load
# from other programs falls on all of them alike; medians, not minima.
cat "$trace" > /dev/null # warm the page cache for every contender
for ((r = 0; r < rounds; r++)); do
  for i in "${!names[@]}"; do
    run_once "$i"
  done
done

# median COLUMN FILE
median() {
  sort -n -k "$1" "$2" | awk -v c="$1" '{ v[NR] = $c }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -a wall cpu rss
for i in "${!names[@]}"; do
  wall[$i]=$(median 1 "$tmp/result-$i")
  cpu[$i]=$(median 2 "$tmp/result-$i")
  rss[$i]=$(sort -n -k 3 "$tmp/result-$i" | tail -n 1 | awk '{ print $3 }')
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? b / 1e6 / s : 0) }'; }

echo
printf 'trace: %s (%s bytes); medians of %d interleaved rounds\n' "$trace" "$bytes" "$rounds"
printf '%-22s %7s %6s %6s %6s | %6s %6s %6s %6s | %7s\n' "" "wall s" "MB/s" "x cat" "x read" "CPU s" "MB/s" "x cat" "x read" "peak MB"
for i in "${!names[@]}"; do
  printf '%-22s %7s %6s %6s %6s | %6s %6s %6s %6s | %7s\n' "${names[$i]}" \
    "${wall[$i]}" "$(mbps "${wall[$i]}")" "$(ratio "${wall[$i]}" "${wall[0]}")" "$(ratio "${wall[$i]}" "${wall[1]}")" \
    "${cpu[$i]}" "$(mbps "${cpu[$i]}")" "$(ratio "${cpu[$i]}" "${cpu[0]}")" "$(ratio "${cpu[$i]}" "${cpu[1]}")" \
    "$(awk -v k="${rss[$i]}" 'BEGIN { printf "%.1f", k / 1024 }')"
done
json_ratio=$(awk -v a="${cpu[3]}" -v b="${cpu[2]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
echo "attrace decode --json / attrace decode: ${json_ratio}x CPU time"

# Targets, judged on CPU time: on a shared machine wall time measures the
# neighbours as much as the decoder.
status=0
decode_mbps=$(mbps "${cpu[2]}")
if [ "$decode_mbps" -lt "$target_mbps" ]; then
  echo "MISSED: attrace decode at $decode_mbps MB/s of CPU time, target $target_mbps"
  status=1
fi
if awk -v r="$json_ratio" -v t="$target_json_ratio" 'BEGIN { exit !(r > t) }'; then
  echo "MISSED: attrace decode --json takes ${json_ratio}x the CPU time of human output, target ${target_json_ratio}x"
  status=1
fi
for i in 2 3; do
  if [ "${rss[$i]}" -gt "$target_rss_kb" ]; then
    echo "MISSED: ${names[$i]}: peak RSS over $((target_rss_kb / 1024)) MB"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "targets met: decode >= $target_mbps MB/s, --json <= ${target_json_ratio}x, peak RSS <= $((target_rss_kb / 1024)) MB"
exit "$status"
