#!/bin/bash
# Regenerates the samples into WORKDIR and compares them byte for byte with
# the committed ones. Fails on any difference, on a committed sample the
# generator no longer writes, on a written sample that is not committed, and
# when there is nothing to compare.
#
#   bash check-reproducible.sh GEN_BINARY SAMPLES_DIR WORKDIR
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 GEN_BINARY SAMPLES_DIR WORKDIR" >&2
  exit 2
fi
gen=$1 samples=$2 work=$3

rm -rf "$work"
mkdir -p "$work" || exit 1
if ! "$gen" -k "$samples/keys" -o "$work"; then
  echo "FAIL: the generator failed" >&2
  exit 1
fi

shopt -s nullglob
status=0 compared=0
for f in "$samples"/*.pcap; do
  name=$(basename "$f")
  if [ ! -f "$work/$name" ]; then
    echo "FAIL: $name is committed but the generator did not write it" >&2
    status=1
    continue
  fi
  if cmp "$f" "$work/$name"; then
    compared=$((compared + 1))
  else
    echo "FAIL: $name differs from what the generator writes" \
         "(regenerate: cmake --build --preset default --target samples)" >&2
    status=1
  fi
done
for f in "$work"/*.pcap; do
  name=$(basename "$f")
  if [ ! -f "$samples/$name" ]; then
    echo "FAIL: the generator writes $name, which is not committed" >&2
    status=1
  fi
done
if [ "$compared" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "FAIL: no samples to compare in $samples" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "ok: $compared samples reproduced byte for byte"
exit "$status"
