#!/bin/bash
# Decoder benchmark (method: tests/bench/README.md). Builds nothing.
#
#   bash tests/bench/run.sh BUILD_DIR
#
# Environment: BENCH_MB (trace size in 10^6 bytes, default 256),
# BENCH_DIR (where the trace is kept between runs, default
# ${TMPDIR:-/tmp}/attrace-bench-$UID), BENCH_RUNS (default 3).
# Exit status: 0 all targets met, 1 a target missed, 2 error.
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
attrace=$build/decoder/attrace
gen=$build/tests/attrace-bench-gen
mb=${BENCH_MB:-256}
runs=${BENCH_RUNS:-3}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/attrace-bench-$UID}
trace=$dir/bench-${mb}MB.pcap
target_mbps=200
target_rss_kb=$((32 * 1024))

for f in "$attrace" "$gen"; do
  if [ ! -x "$f" ]; then
    echo "$0: $f missing: build the attrace and attrace-bench-gen targets first" >&2
    exit 2
  fi
done
mkdir -p "$dir" || exit 2
if [ ! -s "$trace" ]; then
  echo "generating $trace ..." >&2
  "$gen" -o "$trace.tmp" -s "$mb" && mv "$trace.tmp" "$trace" || exit 2
fi
bytes=$(stat -c %s "$trace") || exit 2

# Peak RSS: GNU time's %M (max resident set size, KiB) when /usr/bin/time
# is GNU time; otherwise VmHWM from /proc/PID/status, sampled every 10 ms
# while the command runs (the last sample before exit; marked "~").
if /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  rss_method=gnu-time
else
  rss_method=vmhwm-poll
fi

# run_once OUTVAR_SECONDS OUTVAR_RSS CMD...: one run, stdout discarded.
run_once() {
  local -n _secs=$1 _rss=$2
  shift 2
  local t0 t1 rc rssfile hwm pid
  rssfile=$(mktemp) || return 2
  t0=$EPOCHREALTIME
  if [ "$rss_method" = gnu-time ]; then
    /usr/bin/time -f %M -o "$rssfile" "$@" > /dev/null
    rc=$?
    t1=$EPOCHREALTIME
    _rss=$(tail -n 1 "$rssfile")
  else
    "$@" > /dev/null &
    pid=$!
    hwm=0
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
      [ -n "$v" ] && hwm=$v
      sleep 0.01
    done
    wait "$pid"
    rc=$?
    t1=$EPOCHREALTIME
    _rss="~$hwm"
  fi
  rm -f "$rssfile"
  _secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  return $rc
}

# measure NAME CMD...: best wall time of $runs runs, highest peak RSS.
declare -a names secs rsss
measure() {
  local name=$1 best="" worst_rss=0 s r i
  shift
  for ((i = 0; i < runs; i++)); do
    if ! run_once s r "$@"; then
      echo "$0: '$*' failed" >&2
      exit 2
    fi
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$s
    fi
    [ "${r#\~}" -gt "${worst_rss#\~}" ] && worst_rss=$r
  done
  names+=("$name") secs+=("$best") rsss+=("$worst_rss")
}

cat "$trace" > /dev/null # warm the page cache for every contender
measure "cat (baseline)" cat "$trace"
measure "attrace decode" "$attrace" decode "$trace"
measure "attrace decode --json" "$attrace" decode --json "$trace"

echo
printf 'trace: %s (%s bytes), best of %d runs, peak RSS by %s\n' "$trace" "$bytes" "$runs" "$rss_method"
printf '%-24s %9s %10s %12s\n' command "wall s" "MB/s" "peak RSS MB"
status=0
for i in "${!names[@]}"; do
  mbps=$(awk -v b="$bytes" -v s="${secs[$i]}" 'BEGIN { printf "%.1f", (s > 0 ? b / 1e6 / s : 0) }')
  rss=${rsss[$i]}
  rssmb=$(awk -v k="${rss#\~}" 'BEGIN { printf "%.1f", k / 1024 }')
  [ "${rss:0:1}" = "~" ] && rssmb="~$rssmb"
  printf '%-24s %9s %10s %12s\n' "${names[$i]}" "${secs[$i]}" "$mbps" "$rssmb"
  if [ "$i" -gt 0 ] && [ "${rss#\~}" -gt "$target_rss_kb" ]; then
    echo "  MISSED: peak RSS over $((target_rss_kb / 1024)) MB"
    status=1
  fi
  if [ "${names[$i]}" = "attrace decode" ] &&
     awk -v m="$mbps" -v t="$target_mbps" 'BEGIN { exit !(m < t) }'; then
    echo "  MISSED: below $target_mbps MB/s"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "targets met: decode >= $target_mbps MB/s, peak RSS <= $((target_rss_kb / 1024)) MB"
exit "$status"
