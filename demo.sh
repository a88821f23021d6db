#!/usr/bin/env bash
# The newcomer's first command: installs the Debian packages attrace needs,
# builds it, and decodes the bundled failing provisioning trace.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/install-deps
else
  sudo bash .ci/install-deps
fi
cmake --preset default
cmake --build --preset default
./build/default/decoder/attrace decode samples/totallen-excludes-self.pcap
