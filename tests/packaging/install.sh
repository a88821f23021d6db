#!/bin/bash
# `cmake --install` into a staging folder (DESTDIR) puts every piece where
# it belongs, and a program built against the installed headers and
# pkg-config files alone (embed.c) links libattrace and runs.
#   bash install.sh BUILD_DIR SOURCE_DIR WORK_DIR [CFLAGS]
# CFLAGS: what the libraries were built with that a program linking them
# needs too (the sanitizers of the asan preset).
set -u
build=$1 src=$2 work=$3 extra_cflags=${4:-}
rm -rf "$work" && mkdir -p "$work" || exit 1
root=$work/root prefix=/opt/attrace
fail() { echo "FAIL: $*"; exit 1; }

DESTDIR=$root cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }

p=$root$prefix
for f in bin/attrace bin/attrace-sim; do
  [ -x "$p/$f" ] || fail "$f not installed"
done
extcap=$(find "$root" -path '*/wireshark/extcap/attrace-extcap' -type f -perm -u+x)
[ -n "$extcap" ] || fail "attrace-extcap not installed into a wireshark/extcap folder"
completion=$(find "$root" -path '*/bash-completion/completions/attrace' -type f)
[ -n "$completion" ] || fail "no bash completion for attrace"
if command -v scdoc > /dev/null; then
  for page in attrace attrace-decode attrace-encode attrace-capture attrace-cert attrace-replay \
              attrace-diff attrace-sim attrace-extcap; do
    f=$(find "$p" -path "*/man1/$page.1.gz" -type f)
    [ -n "$f" ] || fail "man page $page(1) not installed as $page.1.gz"
    zcat "$f" | grep -q "^\.TH \"$page\" \"1\"" || fail "$f: no .TH header"
    # gzip -9n, as Debian's: no file name, no time stamp (flags and
    # MTIME 0), maximum compression (XFL 2).
    [ "$(od -An -tx1 -j3 -N6 "$f" | tr -d ' \n')" = 000000000002 ] ||
      fail "$f: not made by gzip -9n (header $(od -An -tx1 -N10 "$f"))"
  done
  [ -z "$(find "$p" -path '*/man1/*.1' -type f)" ] || fail "uncompressed man pages installed"
fi
[ -f "$p/share/doc/attrace/README.md" ] || fail "README.md not installed in share/doc/attrace"
"$p/bin/attrace" --version | head -n 1 | grep -qx 'attrace [0-9.]*' || fail "installed attrace --version"

# Build against the staging tree only: the .pc files find their prefix
# from their own folder.
pcdir=$(dirname "$(find "$p" -name attrace.pc)")
[ -f "$pcdir/attrace-trace.pc" ] || fail "attrace-trace.pc not installed"
export PKG_CONFIG_PATH=$pcdir
flags=$(pkg-config --cflags --libs attrace-trace) || fail "pkg-config attrace-trace"
case " $flags " in *" -I$root/"*) ;; *) fail "pkg-config points outside the staging tree: $flags" ;; esac
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Wpedantic -Werror $extra_cflags -o "$work/embed" "$src/tests/packaging/embed.c" $flags ||
  fail "embed.c does not build against the installed libattrace ($flags)"
"$work/embed" "$work/embed.pcap" > "$work/embed.out" || fail "embed did not run"
cat > "$work/embed.want" <<'WANT'
command AT+CGSN
echo AT+CGSN
response 358240051111110
end OK
attrace VERSION
WANT
version=$(pkg-config --modversion attrace)
sed -i "s/VERSION/$version/" "$work/embed.want"
diff -u "$work/embed.want" "$work/embed.out" || fail "embed's events"

# The core alone (as firmware uses it): no libpcap.
core_libs=$(pkg-config --libs attrace)
case "$core_libs" in *pcap*) fail "attrace.pc pulls in libpcap: $core_libs" ;; esac
echo "install: all checks passed ($flags)"
