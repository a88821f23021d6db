#!/bin/bash
# attrace-provision on the module driver, end to end: every scenario of
# samples/regenerate.sh is recorded again against a fresh attrace-sim into
# WORKDIR (each run fails unless the module answered as the scenario
# expects), and the new recordings must show exactly what the committed
# samples show (tests/cli/samples.sh: findings, decoded values and the
# findings' text).
#
#   provision_e2e.sh BUILD_DIR SRCDIR WORKDIR
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_DIR SRCDIR WORKDIR" >&2
    exit 2
fi
build=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work/samples" "$work/tests/cli/golden"
SAMPLES_OUT=$work/samples bash "$src/samples/regenerate.sh" "$build" > "$work/regenerate.log" 2>&1 || {
    cat "$work/regenerate.log"
    echo "provision_e2e: a scenario did not go as expected" >&2
    exit 1
}
cp "$src/samples/expected-findings.txt" "$work/samples/"
cp "$src/tests/cli/golden/samples-findings.txt" "$work/tests/cli/golden/"
bash "$src/tests/cli/samples.sh" "$build/decoder/attrace" "$work"
