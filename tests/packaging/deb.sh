#!/bin/bash
# The Debian package, as a user of Debian 12 gets it: `cpack -G DEB` in the
# build folder, `apt-get install ./attrace_*.deb`, then the installed
# programs are used (version, a sample decoded exactly as the build tree
# decodes it, the extcap seen by tshark, the Wireshark plugin loaded by
# tshark as a non-root user when the package has one), and the package is
# removed again, so that what runs later uses the build tree. Needs root
# (CI runs it from .ci/run).
#   bash deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2")
fail() { echo "deb: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "deb: needs root (apt-get install)" >&2
  exit 2
fi
if dpkg -s attrace > /dev/null 2>&1; then
  fail "a package attrace is installed already: remove it first"
fi

rm -f "$build"/attrace_*.deb
(cd "$build" && cpack -G DEB > cpack.log 2>&1) || { cat "$build/cpack.log"; fail "cpack -G DEB"; }
debs=("$build"/attrace_*_*.deb)
[ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ] || fail "cpack made no single attrace_*.deb"
deb=${debs[0]}
echo "deb: $(basename "$deb"), $(dpkg-deb -f "$deb" Depends)"

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  apt-get remove -y --purge attrace > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get install -y "$deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install"; }

[ "$(command -v attrace)" = /usr/bin/attrace ] || fail "attrace is not /usr/bin/attrace"
/usr/bin/attrace --version > "$work/version" || fail "attrace --version failed"
cat "$work/version"
[ "$(head -n 1 "$work/version")" = "attrace $(dpkg-deb -f "$deb" Version)" ] ||
  fail "attrace --version does not name the package's version"
[ -x /usr/bin/attrace-sim ] || fail "attrace-sim not installed"
for f in /usr/share/man/man1/attrace-decode.1 /usr/share/bash-completion/completions/attrace \
         /usr/include/attrace/attrace.h /usr/lib/pkgconfig/attrace.pc; do
  dpkg -L attrace | grep -qx "$f" || fail "$f is not in the package"
done

# A sample decoded by the installed binary, text and JSON, as the build
# tree decodes it; with --check the finding makes it exit 1.
sample=$src/samples/totallen-excludes-self.pcap
for mode in "" --json; do
  set +e
  /usr/bin/attrace decode --check $mode "$sample" > "$work/installed.out"
  rc=$?
  "$build/decoder/attrace" decode --check $mode "$sample" > "$work/tree.out"
  set -e
  [ "$rc" -eq 1 ] || fail "installed attrace decode --check $mode: exit $rc, want 1"
  cmp -s "$work/installed.out" "$work/tree.out" || fail "installed attrace decode $mode differs from the build tree's"
done
grep -q '"rule":"totallen_excludes_self"' "$work/installed.out" || fail "the sample's finding is missing"
echo "deb: installed attrace decodes $(basename "$sample"): totallen_excludes_self"

# What a user runs next, as a user: tshark lists the extcap's interfaces
# and, when the package carries the plugin, loads it.
as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work" "$@"; }
extcap=$(dpkg -L attrace | grep '/wireshark/extcap/attrace-extcap$') || fail "no extcap in the package"
if command -v tshark > /dev/null; then
  # tshark -D may exit non-zero for the capture devices nobody cannot open;
  # what matters is the extcap's interface in its list.
  as_user tshark -D > "$work/tshark-D" 2>&1 || true
  grep -q 'attrace-path' "$work/tshark-D" ||
    { cat "$work/tshark-D"; fail "tshark -D does not list attrace-path ($extcap)"; }
  echo "deb: tshark -D lists attrace-path (from $extcap)"
  plugin=$(dpkg -L attrace | grep '/wireshark/plugins/.*\.so$' || true)
  if [ -n "$plugin" ]; then
    as_user tshark -G plugins > "$work/plugins" 2>&1 || { cat "$work/plugins"; fail "tshark -G plugins"; }
    grep -qF "$plugin" "$work/plugins" ||
      { cat "$work/plugins"; fail "tshark -G plugins does not list $plugin"; }
    echo "deb: tshark -G plugins (as nobody) lists $plugin"
  else
    echo "deb: the package has no Wireshark plugin (not built): plugin check skipped"
  fi
fi

apt-get remove -y --purge attrace > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get remove"; }
[ ! -e /usr/bin/attrace ] || fail "/usr/bin/attrace left after removal"
echo "deb: removed again; all checks passed"
