#!/bin/bash
# End-to-end tests of `attrace diff` on the committed samples.
#
#   diff.sh ATTRACE MKTRACE SRCDIR WORKDIR
#
# Golden outputs (text and --json) for pairs of samples: the working
# provisioning against each failing variant; exit 1 for each. A sample
# against itself and against a copy re-cut into one-byte records: exit 0.
# Usage errors (exit 2); unreadable and damaged traces (exit 3, messages
# escaped like trace text). Hand-made traces (tests/cli/diff-cases, built
# with attrace-mktrace): a private-key unit that differs is shown by
# offset and size only, its byte only with --show-secrets; --channel; a
# newer module's frames checked with the profile guessed. The
# samples are real sessions: after
# samples/regenerate.sh the TCP port of the TLS scenarios changes, so
# rerun with UPDATE_GOLDEN=1 and review the diff of tests/cli/golden/diff-*.
#
# Needs: bash, coreutils, diff, python3.
set -u
if [ $# -ne 4 ]; then
    echo "usage: $0 ATTRACE MKTRACE SRCDIR WORKDIR" >&2
    exit 2
fi
ATTRACE=$1
MKTRACE=$2
SRC=$3
WORK=$4
S=$SRC/samples
GOLDEN=$SRC/tests/cli/golden
UPDATE=${UPDATE_GOLDEN:-0}
export LC_ALL=C
rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
cd "$WORK" || exit 1

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok    $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL  $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | head -n 60 | sed 's/^/      | /'
}

compare() {
    local name=$1 actual=$2 golden=$3
    if [ "$UPDATE" = 1 ]; then
        cp "$actual" "$golden"
        ok "$name (golden file written: review it)"
    elif [ ! -f "$golden" ]; then
        bad "$name" "golden file $golden is missing (UPDATE_GOLDEN=1 writes it)"
    elif diff -u "$golden" "$actual" > "$actual.diff"; then
        ok "$name"
    else
        bad "$name" "$(cat "$actual.diff")"
    fi
}

# expect_rc NAME WANT GOT [STDERR-FILE]
expect_rc() {
    if [ "$3" = "$2" ]; then ok "$1: exit $2"; else bad "$1: exit $3, expected $2" "$(cat "${4:-/dev/null}" 2>/dev/null)"; fi
}

# Copies a trace with every data record cut into one-byte records (same
# timestamp, direction, channel and pseudo-header).
recut() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
out = bytearray(data[:24])
pos = 24
while pos < len(data):
    ts_s, ts_ns, incl, orig = struct.unpack_from("<IIII", data, pos)
    pkt = data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
    # exported-PDU TLVs up to END_OF_OPT, then the 12-byte UART header
    p = 0
    while True:
        tag, ln = struct.unpack_from(">HH", pkt, p)
        p += 4 + ln
        if tag == 0:
            break
    head, payload = pkt[:p + 12], pkt[p + 12:]
    event = pkt[p + 1]
    pieces = [payload[i:i + 1] for i in range(len(payload))] if event == 0 and payload else [payload]
    for piece in pieces:
        rec = head + piece
        out += struct.pack("<IIII", ts_s, ts_ns, len(rec), len(rec)) + rec
open(dst, "wb").write(out)
PY
}

pairs="totallen-excludes-self other-imei wrong-key big-endian sha256-legacy sis66-wrong-secopt"
for b in $pairs; do
    name=diff-provisioning-ok--$b
    "$ATTRACE" diff "$S/provisioning-ok.pcap" "$S/$b.pcap" > "$name.txt" 2> "$name.err"
    expect_rc "$name" 1 $? "$name.err"
    sed "s|$S/||g" "$name.txt" > "$name.txt.n"
    compare "$name (text)" "$name.txt.n" "$GOLDEN/$name.txt"
    "$ATTRACE" diff --json "$S/provisioning-ok.pcap" "$S/$b.pcap" > "$name.json" 2> "$name.err"
    expect_rc "$name --json" 1 $? "$name.err"
    sed "s|$S/||g" "$name.json" > "$name.json.n"
    compare "$name (json)" "$name.json.n" "$GOLDEN/$name.json"
    if python3 -c '
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert objs[-1]["type"] == "summary" and not objs[-1]["same"]
assert all(o["type"] in ("difference", "only_in_a", "only_in_b") for o in objs[:-1])
assert objs[-1]["differences"] == sum(o["type"] == "difference" for o in objs)
' "$name.json" 2> "$name.py"; then ok "$name: JSON stream consistent"; else bad "$name: JSON stream" "$(cat "$name.py")"; fi
done

name=diff-all-provisioning-ok--wrong-key
"$ATTRACE" diff --all "$S/provisioning-ok.pcap" "$S/wrong-key.pcap" > "$name.txt" 2> "$name.err"
expect_rc "$name" 1 $? "$name.err"
compare "$name (text)" "$name.txt" "$GOLDEN/$name.txt"

# The other way round: exchanges only in B.
name=diff-totallen-excludes-self--provisioning-ok
"$ATTRACE" diff "$S/totallen-excludes-self.pcap" "$S/provisioning-ok.pcap" > "$name.txt" 2> "$name.err"
expect_rc "$name" 1 $? "$name.err"
compare "$name (text)" "$name.txt" "$GOLDEN/$name.txt"

# The same session: with itself, and with itself cut into one-byte records.
for s in provisioning-ok totallen-excludes-self sis66-wrong-secopt; do
    "$ATTRACE" diff "$S/$s.pcap" "$S/$s.pcap" > same.txt 2> same.err
    rc=$?
    expect_rc "$s vs itself" 0 $rc same.err
    recut "$S/$s.pcap" "$s-1byte.pcap"
    "$ATTRACE" diff "$S/$s.pcap" "$s-1byte.pcap" > recut.txt 2> recut.err
    rc=$?
    expect_rc "$s vs its one-byte re-cut" 0 $rc recut.err
    if [ "$(head -c 5 recut.txt)" = "same:" ] && [ "$(wc -l < recut.txt)" = 1 ]; then
        ok "$s vs re-cut: one summary line"
    else
        bad "$s vs re-cut: output" "$(cat recut.txt)"
    fi
    "$ATTRACE" diff --json "$s-1byte.pcap" "$S/$s.pcap" > recut.json 2> recut.err
    expect_rc "$s re-cut vs sample --json" 0 $? recut.err
done

# Hand-made traces: key redaction and channels.
CASES=$SRC/tests/cli/diff-cases
for t in key-a key-b channel3 newer-a newer-b; do
    "$MKTRACE" "$CASES/$t.txt" "$t.pcap" || bad "mktrace $t"
done
"$MKTRACE" "$SRC/tests/cli/cases/multichannel.txt" multichannel.pcap || bad "mktrace multichannel"
run_golden() { # NAME WANT-RC ARGS...
    local name=$1 want=$2
    shift 2
    "$ATTRACE" diff "$@" > "$name.out" 2> "$name.err"
    expect_rc "$name" "$want" $? "$name.err"
    cat "$name.err" >> "$name.out"
    compare "$name" "$name.out" "$GOLDEN/$name.txt"
}
run_golden diff-key 1 key-a.pcap key-b.pcap
run_golden diff-key-show-secrets 1 --show-secrets key-a.pcap key-b.pcap
run_golden diff-key-json 1 --json key-a.pcap key-b.pcap
if grep -q 'CC\|CE\|204\|206' diff-key.out diff-key-json.out; then
    bad "diff-key: key bytes printed without --show-secrets" "$(cat diff-key.out diff-key-json.out)"
else
    ok "diff-key: no key byte without --show-secrets"
fi
run_golden diff-multichannel-self 0 multichannel.pcap multichannel.pcap
run_golden diff-channel-3-self 0 --channel=3 multichannel.pcap multichannel.pcap
run_golden diff-channel3-vs-channel0 1 multichannel.pcap channel3.pcap
# A newer module (guessed, as attrace decode guesses it): the second
# DELETE's index differs, and index 15 is no index_range problem in A.
run_golden diff-newer 1 newer-a.pcap newer-b.pcap

# Usage errors.
"$ATTRACE" diff "$S/provisioning-ok.pcap" 2> u.err > /dev/null; expect_rc "one trace only" 2 $? u.err
"$ATTRACE" diff a b c 2> u.err > /dev/null; expect_rc "three traces" 2 $? u.err
"$ATTRACE" diff --channel=x a b 2> u.err > /dev/null; expect_rc "--channel=x" 2 $? u.err
"$ATTRACE" diff --bogus a b 2> u.err > /dev/null; expect_rc "unknown option" 2 $? u.err
"$ATTRACE" diff - - 2> u.err > /dev/null; expect_rc "both on standard input" 2 $? u.err
"$ATTRACE" diff --help > help.txt; expect_rc "--help" 0 $?
grep -q "Exit status" help.txt && ok "--help text" || bad "--help text"

# Unreadable and damaged traces: exit 3; names escaped like trace text.
"$ATTRACE" diff "$S/provisioning-ok.pcap" "$(printf 'no\033such')" > /dev/null 2> e.err
expect_rc "missing file" 3 $? e.err
if grep -q 'no\\x1Bsuch' e.err && ! grep -q "$(printf '\033')" e.err; then
    ok "missing file: name escaped"
else
    bad "missing file: name escaped" "$(cat -v e.err)"
fi
size=$(wc -c < "$S/provisioning-ok.pcap")
head -c $((size - 7)) "$S/provisioning-ok.pcap" > damaged.pcap
"$ATTRACE" diff "$S/provisioning-ok.pcap" damaged.pcap > d.txt 2> d.err
expect_rc "damaged trace" 3 $? d.err
grep -q "damaged.pcap" d.err && ok "damaged trace: named" || bad "damaged trace: named" "$(cat d.err)"
grep -q "^different: \|^same: " d.txt && ok "damaged trace: compared up to the damage" || bad "damaged trace: output" "$(cat d.txt)"

# Key bytes the core found by content (a key unit under another ParamId, a
# key sent as a text line) are never printed by diff, in any mode, though
# the traces differ in them. Trace B changes one byte of the private scalar.
"$MKTRACE" "$SRC/tests/cli/cases/secret-damaged.txt" keyA.pcap
sed 's/1D 67 97 5C 5D/1D 67 97 5C 5E/g' "$SRC/tests/cli/cases/secret-damaged.txt" > keyB.txt
"$MKTRACE" keyB.txt keyB.pcap
for mode in "" "--all" "--json" "--all --json"; do
    # shellcheck disable=SC2086
    "$ATTRACE" diff $mode keyA.pcap keyB.pcap > k.out 2> k.err
    expect_rc "key by content ($mode): differs" 1 $? k.err
    if grep -qiE '1d ?67 ?97 ?5c|\\x1dg\\x97|x97\\x5c' k.out; then
        bad "key by content ($mode): no key bytes" "$(head -c 600 k.out)"
    else
        ok "key by content ($mode): no key bytes"
    fi
done

# --json escapes what a terminal would obey in trace text as attrace
# decode --json does: C1 controls (here CSI, C2 9B) and bidi overrides (E2
# 80 AE) as \uXXXX, never as raw bytes.
for v in 1 2; do
    printf '%s\n' '@=1714568400' \
        "> AT+X=\"\\xC2\\x9B31m\\xE2\\x80\\xAE$v\"\\r" \
        "< AT+X=\"\\xC2\\x9B31m\\xE2\\x80\\xAE$v\"\\r\\r\\n+X: \\xC2\\x9B$v\\r\\n\\r\\nOK\\r\\n" \
        > term-$v.txt
    "$MKTRACE" term-$v.txt term-$v.pcap || bad "mktrace term-$v"
done
"$ATTRACE" diff --json term-1.pcap term-2.pcap > term.out 2> term.err
expect_rc "terminal controls (--json): differs" 1 $? term.err
if python3 - term.out <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
assert b"\xc2\x9b" not in raw and b"\xe2\x80\xae" not in raw, "raw control bytes"
assert b"\\u009B" in raw and b"\\u202E" in raw, "no \\u escapes"
lines = [json.loads(l) for l in raw.splitlines()]
assert any(l.get("command") == 'AT+X="\u009b31m\u202e1"' for l in lines), "command text"
PY
then
    ok "terminal controls (--json): escaped as \\uXXXX"
else
    bad "terminal controls (--json): escaped as \\uXXXX" "$(cat -v term.out)"
fi

echo "diff: $pass passed, $fail failed"
[ "$fail" = 0 ]
