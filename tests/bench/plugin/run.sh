#!/bin/bash
# Wireshark plugin benchmark (by hand, not a ctest; method: README.md here).
#
#   bash tests/bench/plugin/run.sh BUILD_DIR
#
# tshark -r TRACE and tshark -r TRACE -V, each with the attrace plugin from
# BUILD_DIR and without any plugin (the records' payload then shows as
# exported-PDU bytes), on the benchmark trace of tests/bench/run.sh.
# Prints the ratios plugin / no plugin of CPU time, wall time and peak RSS.
#
# Environment: BENCH_MB (trace size in 10^6 bytes, default 256), BENCH_DIR
# (where the trace is kept, default ${TMPDIR:-/tmp}/attrace-bench-$UID, as
# tests/bench/run.sh), BENCH_ROUNDS (default 3).
# Exit status: 0 targets met, 1 a target missed, 2 error.
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
plugins=$build/wireshark-plugin/plugins
gen=$build/tests/attrace-bench-gen
mb=${BENCH_MB:-256}
rounds=${BENCH_ROUNDS:-3}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/attrace-bench-$UID}
trace=$dir/bench-${mb}MB.pcap
max_time_ratio=1.3
max_rss_ratio=1.5

if [ ! -f "$plugins/4.0/epan/attrace.so" ] || [ ! -x "$gen" ]; then
  echo "$0: build the plugin (attrace_wireshark) and attrace-bench-gen in $build first" >&2
  exit 2
fi
for tool in tshark /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "$0: $tool missing" >&2; exit 2; }
done
mkdir -p "$dir" || exit 2
if [ ! -s "$trace" ]; then
  echo "generating $trace ..." >&2
  "$gen" -o "$trace.tmp" -s "$mb" && mv "$trace.tmp" "$trace" || exit 2
fi

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/no-plugins" "$work/home"
chmod 755 "$work" "$work/no-plugins" "$work/home"
# tshark ignores WIRESHARK_PLUGIN_DIR when run as root: as root it runs in
# a user namespace of its own, where it is nobody (as the plugin test).
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(unshare -U)

# tshark_run PLUGIN_DIR ARGS...: one run, stdout discarded; appends
# "cpu_s wall_s peak_kib" to $work/out.
tshark_run() {
  local pdir=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  env HOME="$work/home" XDG_CONFIG_HOME="$work/home" WIRESHARK_PLUGIN_DIR="$pdir" \
    /usr/bin/time -f '%U %S %M' -o "$work/time" "${as_user[@]}" tshark "$@" > /dev/null \
    || { echo "$0: tshark $* failed" >&2; exit 2; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" '{ printf "%.2f %.3f %d\n", $1 + $2, b - a, $3 }' "$work/time"
}

# The plugin must really be in use (and absent from the baseline).
first=$(env HOME="$work/home" WIRESHARK_PLUGIN_DIR="$plugins" "${as_user[@]}" \
  tshark -r "$trace" -c 3 -T fields -e frame.protocols 2>&1 | tail -n 1)
case $first in *attrace*) ;; *) echo "$0: tshark does not load $plugins: $first" >&2; exit 2 ;; esac

labels=("tshark -r" "tshark -r, plugin" "tshark -r -V" "tshark -r -V, plugin")
pdirs=("$work/no-plugins" "$plugins" "$work/no-plugins" "$plugins")
extra=("" "" "-V" "-V")
cat "$trace" > /dev/null # from the page cache for every run
# Interleaved rounds: every run once per round, so that the load of other
# programs falls on all alike; medians (the highest RSS) over the rounds.
for ((r = 1; r <= rounds; r++)); do
  for i in "${!labels[@]}"; do
    # shellcheck disable=SC2086
    tshark_run "${pdirs[$i]}" -r "$trace" ${extra[$i]} >> "$work/result-$i"
  done
  echo "round $r of $rounds done" >&2
done

# summary COLUMN FILE: the median of a column (cpu, wall) or its maximum (rss).
summary() {
  sort -n -k "$1" "$2" | awk -v c="$1" '{ v[NR] = $c }
    END { if (c == 3) print v[NR]; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -a cpu wall rss
for i in "${!labels[@]}"; do
  cpu[$i]=$(summary 1 "$work/result-$i")
  wall[$i]=$(summary 2 "$work/result-$i")
  rss[$i]=$(summary 3 "$work/result-$i")
done
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# paired_ratio WITH BASE: the median over the rounds of each round's CPU
# ratio. The two runs of a round are seconds apart, so a change of load
# between rounds falls on both; the ratio of the medians mixes rounds.
paired_ratio() {
  paste -d ' ' "$work/result-$1" "$work/result-$2" |
    awk '{ print ($4 > 0 ? $1 / $4 : 0) }' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2];
                              else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
printf 'trace: %s (%s bytes); medians of %d interleaved rounds, peak RSS the highest\n' \
  "$trace" "$(stat -c %s "$trace" 2>/dev/null || wc -c < "$trace")" "$rounds"
printf '%-22s %8s %8s %9s\n' "" "CPU s" "wall s" "peak MB"
for i in "${!labels[@]}"; do
  printf '%-22s %8s %8s %9s\n' "${labels[$i]}" "${cpu[$i]}" "${wall[$i]}" \
    "$(awk -v k="${rss[$i]}" 'BEGIN { printf "%.1f", k / 1024 }')"
done
status=0
echo
for base in 0 2; do
  with=$((base + 1))
  rm=$(div "${cpu[$with]}" "${cpu[$base]}")
  rc=$(paired_ratio "$with" "$base")
  rw=$(div "${wall[$with]}" "${wall[$base]}")
  rr=$(div "${rss[$with]}" "${rss[$base]}")
  printf '%-14s plugin / none: CPU %sx (median of the rounds'"'"' ratios; ratio of the medians %sx), wall %sx, peak RSS %sx\n' \
    "${labels[$base]}" "$rc" "$rm" "$rw" "$rr"
  # Judged on CPU time, paired by round: on a shared machine wall time
  # measures the neighbours as much as tshark (on an idle machine the two
  # agree).
  if awk -v r="$rc" -v t="$max_time_ratio" 'BEGIN { exit !(r > t) }'; then
    echo "MISSED: ${labels[$base]}: ${rc}x the CPU time, target ${max_time_ratio}x"
    status=1
  fi
  if awk -v r="$rr" -v t="$max_rss_ratio" 'BEGIN { exit !(r > t) }'; then
    echo "MISSED: ${labels[$base]}: ${rr}x the peak RSS, target ${max_rss_ratio}x"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "targets met: at most ${max_time_ratio}x the CPU time and ${max_rss_ratio}x the peak RSS"
exit "$status"
