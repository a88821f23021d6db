#!/bin/bash
# The Debian packages, as a user of Debian 12 gets them: `cpack -G DEB` in
# a build folder configured for /usr (the preset `deb`) makes attrace and
# libattrace-dev; `apt-get install ./attrace_*.deb ./libattrace-dev_*.deb`
# installs both, then:
#   - each package's files are where Debian puts them, and only there (no
#     development file in attrace; man pages gzipped);
#   - the installed programs are used: version, a sample decoded exactly as
#     the build tree decodes it, the extcap seen by tshark with its help
#     link on the installed README, the Wireshark plugin loaded by tshark
#     as a non-root user when the package has one;
#   - libattrace-dev is used: pkg-config finds attrace and attrace-trace
#     without help, a small program (embed.c) builds against them and
#     decodes the sample to the exchanges the installed attrace finds;
# and both are removed again, so that what runs later uses the build tree.
# Needs root (CI runs it from .ci/run).
#   bash deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2")
fail() { echo "deb: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "deb: needs root (apt-get install)" >&2
  exit 2
fi
packages=(attrace libattrace-dev)
for p in "${packages[@]}"; do
  if dpkg -s "$p" > /dev/null 2>&1; then
    fail "a package $p is installed already: remove it first"
  fi
done

rm -f "$build"/attrace_*.deb "$build"/libattrace-dev_*.deb
(cd "$build" && cpack -G DEB > cpack.log 2>&1) || { cat "$build/cpack.log"; fail "cpack -G DEB"; }
declare -A deb
for p in "${packages[@]}"; do
  found=("$build/${p}"_*_*.deb)
  if [ "${#found[@]}" -ne 1 ] || [ ! -f "${found[0]}" ]; then
    fail "cpack made no single ${p}_*.deb"
  fi
  deb[$p]=${found[0]}
  echo "deb: $(basename "${deb[$p]}"), depends on $(dpkg-deb -f "${deb[$p]}" Depends)"
done
version=$(dpkg-deb -f "${deb[attrace]}" Version)
[ "$(dpkg-deb -f "${deb[libattrace-dev]}" Version)" = "$version" ] ||
  fail "libattrace-dev's version is not attrace's ($version)"
dpkg-deb -f "${deb[libattrace-dev]}" Depends | tr ',' '\n' | sed 's/^ *//' | grep -qx "attrace (= $version)" ||
  fail "libattrace-dev does not depend on attrace (= $version)"

work=$(mktemp -d)
chmod 755 "$work"

# lintian, Debian's own package checker: no error and no warning but the
# three that wait on the maintainers (a license for the copyright file, a
# real address for Maintainer and the changelog).
command -v lintian > /dev/null || fail "lintian missing (apt-get install lintian)"
lintian --tag-display-limit 0 "${deb[attrace]}" "${deb[libattrace-dev]}" > "$work/lintian" 2>&1 || true
waiting='^[EW]: [a-z0-9.+-]+: (no-copyright-file|bogus-mail-host|bogus-mail-host-in-debian-changelog)( |$)'
if grep -E '^[EW]: ' "$work/lintian" | grep -Evq "$waiting"; then
  cat "$work/lintian"
  fail "lintian reports errors or warnings"
fi
echo "deb: lintian: no error or warning but $(grep -Ec "$waiting" "$work/lintian" || true) waiting on a license and an address"
cleanup() {
  apt-get remove -y --purge "${packages[@]}" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get install -y "${deb[attrace]}" "${deb[libattrace-dev]}" > "$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install"; }

# The files of each package.
dpkg -L attrace > "$work/attrace.files"
dpkg -L libattrace-dev > "$work/dev.files"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2> /dev/null || gcc -print-multiarch)
in_package() { grep -qx "$2" "$work/$1.files" || fail "$2 is not in the package $1"; }
for f in /usr/bin/attrace /usr/bin/attrace-sim /usr/share/doc/attrace/README.md \
         /usr/share/bash-completion/completions/attrace /usr/share/bash-completion/completions/attrace-sim; do
  in_package attrace "$f"
done
for page in attrace attrace-decode attrace-encode attrace-capture attrace-cert attrace-replay \
            attrace-diff attrace-sim attrace-extcap; do
  f=/usr/share/man/man1/$page.1.gz
  in_package attrace "$f"
  zcat "$f" | grep -q "^\.TH \"$page\" \"1\"" || fail "$f: no .TH header"
done
grep -q '/man/.*\.[0-9]$' "$work/attrace.files" && fail "uncompressed man pages in attrace"
for f in /usr/include/attrace/attrace.h /usr/include/attrace/trace.h \
         "/usr/lib/$multiarch/libattrace.a" "/usr/lib/$multiarch/libattrace-trace.a" \
         "/usr/lib/$multiarch/pkgconfig/attrace.pc" "/usr/lib/$multiarch/pkgconfig/attrace-trace.pc"; do
  in_package dev "$f"
done
# attrace has no development file; libattrace-dev nothing else.
files_of() { while read -r f; do [ -d "$f" ] || echo "$f"; done < "$work/$1.files"; }
dev_file="^/usr/include/attrace/[a-z_]+\.h\$|^/usr/lib/$multiarch/libattrace(-trace)?\.a\$"
dev_file+="|^/usr/lib/$multiarch/pkgconfig/attrace(-trace)?\.pc\$"
dev_in_main=$(files_of attrace | grep -E "$dev_file|^/usr/include/|\.(a|h|pc)\$|/lib[^/]*\.so" || true)
[ -z "$dev_in_main" ] || fail "development files in attrace: $dev_in_main"
# Each package has its Debian changelog (lintian checks its form).
in_package attrace /usr/share/doc/attrace/changelog.gz
in_package dev /usr/share/doc/libattrace-dev/changelog.gz
other_in_dev=$(files_of dev | grep -vE "$dev_file|^/usr/share/doc/libattrace-dev/changelog\.gz\$" || true)
[ -z "$other_in_dev" ] || fail "libattrace-dev holds more than development files: $other_in_dev"
echo "deb: attrace has $(grep -c . "$work/attrace.files") paths and no development file;" \
     "libattrace-dev has the headers, libraries and .pc files"

[ "$(command -v attrace)" = /usr/bin/attrace ] || fail "attrace is not /usr/bin/attrace"
/usr/bin/attrace --version > "$work/version" || fail "attrace --version failed"
cat "$work/version"
[ "$(head -n 1 "$work/version")" = "attrace $version" ] ||
  fail "attrace --version does not name the package's version"

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

# libattrace-dev as a user of it: pkg-config with no PKG_CONFIG_PATH, a
# program built as a user builds one, the sample decoded by it to the
# exchanges the installed attrace reports.
unset PKG_CONFIG_PATH
[ "$(pkg-config --modversion attrace)" = "$version" ] || fail "pkg-config --modversion attrace"
flags=$(pkg-config --cflags --libs attrace) || fail "pkg-config --cflags --libs attrace"
echo "deb: pkg-config --cflags --libs attrace: $flags"
# The package's .pc files name /usr as it is: pkg-config leaves the system
# folders out, as for any library of the distribution.
[ "$(echo $flags)" = "-lattrace" ] ||
  fail "pkg-config --cflags --libs attrace gives '$flags', not just -lattrace"
trace_flags=$(pkg-config --cflags --libs attrace-trace) || fail "pkg-config attrace-trace"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$work/embed" "$src/tests/packaging/embed.c" \
  $trace_flags || fail "embed.c does not build against libattrace-dev ($trace_flags)"
"$work/embed" -d "$sample" > "$work/embed.out" || fail "embed -d $sample"
python3 - "$work/installed.out" > "$work/embed.want" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["type"] == "exchange":
        print(f'{o["command"]} -> {(o.get("final") or {}).get("line", "")}')
PY
[ -s "$work/embed.want" ] || fail "the installed attrace reports no exchange in the sample"
diff -u "$work/embed.want" "$work/embed.out" ||
  fail "a program linking libattrace decodes the sample otherwise than attrace"
echo "deb: embed.c built with '$trace_flags' decodes $(grep -c . "$work/embed.out") exchanges as attrace does"

# The extcap's help link is the installed README.
extcap=$(grep '/wireshark/extcap/attrace-extcap$' "$work/attrace.files") || fail "no extcap in the package"
help=$("$extcap" --extcap-interfaces | sed -n 's/^extcap .*{help=\([^}]*\)}.*/\1/p')
[ "$help" = "file:///usr/share/doc/attrace/README.md" ] ||
  fail "$extcap links its help to '$help', not the installed README"
echo "deb: attrace-extcap's help link is the installed README ($help)"

# What a user runs next, as a user: tshark lists the extcap's interfaces
# and, when the package carries the plugin, loads it.
as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work" "$@"; }
if command -v tshark > /dev/null; then
  # tshark -D may exit non-zero for the capture devices nobody cannot open;
  # what matters is the extcap's interface in its list.
  as_user tshark -D > "$work/tshark-D" 2>&1 || true
  grep -q 'attrace-path' "$work/tshark-D" ||
    { cat "$work/tshark-D"; fail "tshark -D does not list attrace-path ($extcap)"; }
  echo "deb: tshark -D lists attrace-path (from $extcap)"
  plugin=$(grep '/wireshark/plugins/.*\.so$' "$work/attrace.files" || true)
  if [ -n "$plugin" ]; then
    as_user tshark -G plugins > "$work/plugins" 2>&1 || { cat "$work/plugins"; fail "tshark -G plugins"; }
    grep -qF "$plugin" "$work/plugins" ||
      { cat "$work/plugins"; fail "tshark -G plugins does not list $plugin"; }
    echo "deb: tshark -G plugins (as nobody) lists $plugin"
  else
    echo "deb: the package has no Wireshark plugin (not built): plugin check skipped"
  fi
fi

apt-get remove -y --purge "${packages[@]}" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get remove"; }
[ ! -e /usr/bin/attrace ] || fail "/usr/bin/attrace left after removal"
[ ! -e /usr/include/attrace ] || fail "/usr/include/attrace left after removal"
echo "deb: removed again; all checks passed"
