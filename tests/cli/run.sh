#!/bin/bash
# End-to-end tests of `attrace decode` and `attrace encode`.
#
#   run.sh ATTRACE MKTRACE SRCDIR WORKDIR
#
# For every tests/cli/cases/NAME.txt script: build the trace with
# attrace-mktrace, decode it (text with --color=never, and --json), compare
# both with tests/cli/golden/NAME.txt / NAME.json exactly, and check the
# JSON field by field: generic consistency plus the exact values asserted
# in cases/NAME.check. A "# attrace-flags: ..." line in a script adds
# options to both runs. The committed samples/*.pcap (real sessions,
# recorded again at will) are decoded without golden files: generic JSON
# checks plus cases/sample-NAME.check where present. Then: `attrace
# encode` (frames from samples/keys and keys made here with openssl:
# the sample's frame reproduced, determinism, mode 0600, every refusal
# with and without --force, unusable inputs, the frames decoded back with
# golden/encode-roundtrip.* and golden/client-cert.*), --client-cert,
# --check exit codes, standard input, streaming, key redaction, usage
# errors (exit 2), unreadable and damaged traces (exit 3).
#
# UPDATE_GOLDEN=1 rewrites the golden files from the current output (read
# every changed line before committing them).
#
# Needs: bash, coreutils, diff, grep, python3, openssl.

set -u

if [ $# -ne 4 ]; then
    echo "usage: $0 ATTRACE MKTRACE SRCDIR WORKDIR" >&2
    exit 2
fi
ATTRACE=$1
MKTRACE=$2
SRC=$3
WORK=$4
CASES=$SRC/tests/cli/cases
GOLDEN=$SRC/tests/cli/golden
UPDATE=${UPDATE_GOLDEN:-0}

rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
export LC_ALL=C
unset NO_COLOR

pass=0
fail=0
failed_names=()

ok() {
    pass=$((pass + 1))
    echo "ok    $1"
}

bad() {
    fail=$((fail + 1))
    failed_names+=("$1")
    echo "FAIL  $1"
    if [ $# -gt 1 ] && [ -n "$2" ]; then
        printf '%s\n' "$2" | head -n 200 | sed 's/^/      | /'
    fi
}

# compare NAME ACTUAL GOLDEN
compare() {
    local name=$1 actual=$2 golden=$3
    if [ "$UPDATE" = 1 ]; then
        cp "$actual" "$golden"
        ok "$name (golden file written: review it)"
    elif [ ! -f "$golden" ]; then
        bad "$name" "golden file $golden is missing (UPDATE_GOLDEN=1 writes it; review it)"
    elif diff -u "$golden" "$actual" > "$actual.diff"; then
        ok "$name"
    else
        bad "$name" "$(cat "$actual.diff")"
    fi
}

# ------------------------------------------------------------------
# The JSON checker: generic consistency of the NDJSON stream, then the
# assertions of a .check file (one Python expression per line; "A == B"
# lines print both sides on mismatch).
# ------------------------------------------------------------------
CHECKER=$WORK/checkjson.py
cat > "$CHECKER" <<'PYEOF'
import json, sys

TYPES = {"exchange", "urc", "frame", "invalid", "unexpected", "trace_event", "finding", "summary"}
PROBLEMS = {1: "header_truncated", 2: "totallen_short", 3: "totallen_long",
            4: "paramnum_mismatch", 5: "unit_len_under_4", 6: "unit_past_frame",
            7: "unknown_param", 8: "duplicate_param", 9: "index_range",
            10: "index_size", 11: "cert_too_large", 12: "key_too_large",
            13: "key_index_not_0", 14: "string_unterminated", 15: "imei_not_digits",
            16: "signature_not_base64", 17: "signature_not_last",
            18: "trailing_bytes", 19: "unknown_cmd", 20: "index_missing",
            21: "cert_missing", 22: "big_endian", 23: "too_many_units",
            24: "unused_bytes"}

errors = []
def err(msg):
    errors.append(msg)

path = sys.argv[1]
check = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
secrets = "--show-secrets" in sys.argv[3:]

objs = []
with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            err("line %d is not JSON: %s" % (n, e))
            continue
        if not isinstance(o, dict) or o.get("type") not in TYPES:
            err("line %d: not an object with a known type" % n)
            continue
        objs.append(o)

def of(t):
    return [o for o in objs if o["type"] == t]

if not objs or objs[-1]["type"] != "summary" or len(of("summary")) != 1:
    err("the last object (and only that one) must be the summary")
summary = objs[-1] if objs else {}

# Ids, references, counts.
frames = {o["id"]: o for o in of("frame")}
urcs = {o["id"]: o for o in of("urc")}
invalids = {o["id"]: o for o in of("invalid")}
for kind, table in (("frame", frames), ("urc", urcs), ("invalid", invalids)):
    if sorted(table) != list(range(1, len(table) + 1)):
        err("%s ids are not 1..n in order" % kind)
last_id = {}
for x in of("exchange"):
    ch = x["channel"]
    if x["id"] != last_id.get(ch, 0) + 1:
        err("exchange ids of channel %d are not consecutive at %d" % (ch, x["id"]))
    last_id[ch] = x["id"]
    for key, table in (("frames", frames), ("urcs", urcs), ("invalid", invalids)):
        for i in x[key]:
            if i not in table:
                err("exchange %d refers to missing %s %d" % (x["id"], key, i))
            elif table[i]["exchange"] != x["id"]:
                err("%s %d does not point back to exchange %d" % (key, i, x["id"]))
    if x["duration_ns"] != max(0, x["ts_end_ns"] - x["ts_start_ns"]):
        err("exchange %d: duration_ns is not ts_end_ns - ts_start_ns" % x["id"])
    if x["failed"] != (x["final"] is not None and x["final"]["kind"] in
                       ("ERROR", "+CME ERROR", "+CMS ERROR", "NO DIALTONE", "BUSY", "NO ANSWER")
                       or (x["secure_result"] is not None
                           and x["secure_result"]["result"] not in ("end_ok", "ready"))):
        err("exchange %d: 'failed' does not follow from final/secure_result" % x["id"])
counts = {"exchanges": len(of("exchange")), "urcs": len(of("urc")),
          "frames": len(of("frame")), "invalid": len(of("invalid")),
          "unexpected": len(of("unexpected")), "trace_events": len(of("trace_event")),
          "errors": len([x for x in of("exchange") if x["failed"]]),
          "unanswered": len([x for x in of("exchange") if x["end_reason"] != "result"]),
          "frames_with_problems": len([f for f in of("frame")
                                       if f.get("problems") or f.get("problems_dropped")])}
for k, v in counts.items():
    if summary.get(k) != v:
        err("summary %s is %r, the stream has %d" % (k, summary.get(k), v))

# Frames: units inside the bytes present, stable problem names, redaction.
for fr in of("frame"):
    if "units" not in fr:
        continue
    lo, hi = fr["offset"], fr["offset"] + fr["bytes_present"]
    for u in fr["units"]:
        if not (lo + 6 <= u["offset"] and u["value_offset"] + u["value_len"] <= hi):
            err("frame %d: unit at %d outside the frame's bytes" % (fr["id"], u["offset"]))
        if u["id"] == 5:
            v = u["value"]
            if v.get("size") != u["value_len"]:
                err("frame %d: key size %r != value_len %d" % (fr["id"], v.get("size"), u["value_len"]))
            if secrets:
                if v.get("redacted") is not False or len(v.get("hex", "")) != 2 * u["value_len"]:
                    err("frame %d: --show-secrets must give the key's hex" % fr["id"])
            elif v.get("redacted") is not True or "hex" in v:
                err("frame %d: key bytes not redacted" % fr["id"])
    for p in fr["problems"]:
        if PROBLEMS.get(p["code"]) != p["name"]:
            err("frame %d: problem code %d has name %r" % (fr["id"], p["code"], p["name"]))
    # What the analyzer made of it: present for every decoded frame, and
    # only for units the frame has; the key's bytes never.
    names = {u["name"] for u in fr["units"]}
    for k, unit_name in (("certificate", "cert"), ("key", "key"), ("signature", "signature")):
        if k not in fr:
            err("frame %d: no %r" % (fr["id"], k))
        elif fr[k] is not None and unit_name not in names:
            err("frame %d: %r without a %s unit" % (fr["id"], k, unit_name))
    key = fr.get("key")
    if key is not None and (key.get("redacted") is not (not secrets) or "hex" in key):
        err("frame %d: the key object must say redacted=%s and hold no bytes" % (fr["id"], not secrets))
    sig = fr.get("signature")
    if sig is not None and sig["matches"] is not None and not sig["checked"]:
        err("frame %d: a signature verdict without a check" % fr["id"])

# Findings: complete, stable rule ids, counted in the summary, pointing
# at exchanges that exist.
import re
FINDING_KEYS = ["type", "rule", "severity", "channel", "exchange", "dir", "offset", "ts", "ts_ns", "what", "fix"]
exchange_ids = {(x["channel"], x["id"]) for x in of("exchange")}
by_sev = {"error": 0, "warning": 0, "info": 0}
for fd in of("finding"):
    if list(fd) != FINDING_KEYS:
        err("finding keys %r, expected %r" % (list(fd), FINDING_KEYS))
        continue
    if not re.fullmatch(r"[a-z][a-z0-9_]*", fd["rule"]):
        err("finding rule id %r is not a stable identifier" % fd["rule"])
    if fd["severity"] not in by_sev:
        err("finding %s: severity %r" % (fd["rule"], fd["severity"]))
    else:
        by_sev[fd["severity"]] += 1
    if fd["dir"] not in ("te_to_me", "me_to_te"):
        err("finding %s: dir %r" % (fd["rule"], fd["dir"]))
    if not fd["what"] or not fd["fix"]:
        err("finding %s: empty what or fix" % fd["rule"])
    if fd["exchange"] is not None and (fd["channel"], fd["exchange"]) not in exchange_ids:
        err("finding %s: exchange %r does not exist" % (fd["rule"], fd["exchange"]))
if summary.get("findings") != by_sev:
    err("summary findings %r, the stream has %r" % (summary.get("findings"), by_sev))

# Time stamps: ISO text and integer agree.
import datetime
def iso_ns(s):
    d = datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 10**9 + int(s[20:29])
for o in objs:
    for a, b in (("ts", "ts_ns"), ("ts_start", "ts_start_ns"), ("ts_end", "ts_end_ns")):
        if a in o and iso_ns(o[a]) != o[b]:
            err("%s %s: %s %s != %s %d" % (o["type"], o.get("id", ""), a, o[a], b, o[b]))

# The case's own assertions.
def ex(n, ch=0):
    for x in of("exchange"):
        if x["id"] == n and x["channel"] == ch:
            return x
    raise KeyError("no exchange %d on channel %d" % (n, ch))
def urc(n): return urcs[n]
def frame(n): return frames[n]
def inv(n): return invalids[n]
def unexpected(n): return of("unexpected")[n - 1]
def tev(n): return of("trace_event")[n - 1]
def problems(n): return [p["name"] for p in frames[n]["problems"]]
def unit(n, name): return [u for u in frames[n]["units"] if u["name"] == name][0]
def findings(): return of("finding")
def rules(): return [(f["rule"], f["severity"]) for f in of("finding")]
env = {"ex": ex, "urc": urc, "frame": frame, "inv": inv, "unexpected": unexpected,
       "tev": tev, "problems": problems, "unit": unit, "summary": summary,
       "objs": objs, "of": of, "findings": findings, "rules": rules}
nchecks = 0
if check:
    with open(check, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            nchecks += 1
            where = "%s:%d: %s" % (check.rsplit("/", 1)[-1], n, line)
            try:
                sides = line.split(" == ", 1) if " == " in line else None
                try:
                    if sides:
                        compile(sides[0], "lhs", "eval")
                        compile(sides[1], "rhs", "eval")
                except SyntaxError:
                    sides = None  # "==" inside an expression
                if sides:
                    got, want = eval(sides[0], env), eval(sides[1], env)
                    if got != want:
                        err("%s\n    expected %r\n    got      %r" % (where, want, got))
                elif not eval(line, env):
                    err("%s: false" % where)
            except Exception as e:
                err("%s: %s: %s" % (where, type(e).__name__, e))
    if nchecks == 0:
        err("%s holds no assertion" % check)

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PYEOF

# check_json NAME OUTPUT CHECKFILE|- [--show-secrets]
check_json() {
    local name=$1 out=$2 chk=$3
    shift 3
    local msg
    if msg=$(python3 "$CHECKER" "$out" "$chk" "$@" 2>&1); then
        ok "$name"
    else
        bad "$name" "$msg"
    fi
}

# decode_pair NAME TRACE FLAGS... : text and JSON runs against golden files
decode_pair() {
    local name=$1 trace=$2
    shift 2
    local out=$WORK/$name rc
    "$ATTRACE" decode --color=never "$@" "$trace" > "$out.txt" 2> "$out.txt.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$out.txt.err" ]; then
        bad "$name: text" "exit status $rc; stderr: $(cat "$out.txt.err")"
    elif [[ " $* " != *" --color=always "* ]] && grep -q $'\x1b' "$out.txt"; then
        # Neither colors nor escape sequences from the trace reach the terminal.
        bad "$name: text" "ESC byte in the output without --color=always"
    else
        compare "$name: text" "$out.txt" "$GOLDEN/$name.txt"
    fi
    "$ATTRACE" decode --json "$@" "$trace" > "$out.json" 2> "$out.json.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$out.json.err" ]; then
        bad "$name: json" "exit status $rc; stderr: $(cat "$out.json.err")"
        return
    fi
    compare "$name: json" "$out.json" "$GOLDEN/$name.json"
    local chk=$CASES/$name.check
    if [ ! -f "$chk" ]; then
        bad "$name: json fields" "$chk is missing: every case asserts its decoded values"
    else
        local sec=()
        case " $* " in *" --show-secrets "*) sec=(--show-secrets) ;; esac
        check_json "$name: json fields" "$out.json" "$chk" "${sec[@]}"
    fi
}

flags_of() {
    sed -n 's/^# attrace-flags:[[:space:]]*//p' "$1" | head -n 1
}

# ------------------------------------------------------------------
# Crafted cases and samples
# ------------------------------------------------------------------
ncases=0
for script in "$CASES"/*.txt; do
    [ -e "$script" ] || continue
    name=$(basename "$script" .txt)
    ncases=$((ncases + 1))
    if ! msg=$("$MKTRACE" "$script" "$WORK/$name.pcap" 2>&1); then
        bad "$name: build trace" "$msg"
        continue
    fi
    # shellcheck disable=SC2046 # flags are words
    decode_pair "$name" "$WORK/$name.pcap" $(flags_of "$script")
done
if [ $ncases -eq 0 ]; then
    bad "cases" "no test case found in $CASES"
fi

# The samples are real sessions, recorded again by samples/regenerate.sh
# (new timestamps, new read splits), so they have no golden text: each must
# decode cleanly in both forms and pass the generic JSON checks, plus the
# field checks of cases/sample-NAME.check where there is one. What every
# sample shows is checked by ctest samples_findings (tests/cli/samples.sh).
decode_sample() { # NAME TRACE
    local name=$1 trace=$2 out=$WORK/$1 rc
    "$ATTRACE" decode --color=never "$trace" > "$out.txt" 2> "$out.txt.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$out.txt.err" ]; then
        bad "$name: text" "exit status $rc; stderr: $(cat "$out.txt.err")"
    elif grep -q $'\x1b' "$out.txt"; then
        bad "$name: text" "ESC byte in the output without --color=always"
    else
        ok "$name: text"
    fi
    "$ATTRACE" decode --json "$trace" > "$out.json" 2> "$out.json.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$out.json.err" ]; then
        bad "$name: json" "exit status $rc; stderr: $(cat "$out.json.err")"
        return
    fi
    local chk=$CASES/$name.check
    [ -f "$chk" ] || chk=-
    check_json "$name: json fields" "$out.json" "$chk"
}

nsamples=0
for sample in "$SRC"/samples/*.pcap; do
    [ -e "$sample" ] || continue
    nsamples=$((nsamples + 1))
    decode_sample "sample-$(basename "$sample" .pcap)" "$sample"
done
[ $nsamples -eq 0 ] && echo "note  no samples/*.pcap: sample decoding not tested"

# ------------------------------------------------------------------
# attrace encode: frames made from the test keys (samples/keys), decoded
# back; refusals, --force, file mode, determinism; --client-cert; --check
# ------------------------------------------------------------------
KEYS=$SRC/samples/keys
IMEI=358240051111110
ENC=$WORK/enc
mkdir -p "$ENC" || exit 1

# enc_ok NAME ARGS...: `attrace encode ARGS` must succeed silently.
enc_ok() {
    local name=$1 rc
    shift
    "$ATTRACE" encode "$@" > "$ENC/out" 2> "$ENC/err"
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$ENC/err" ]; then
        return 0
    fi
    bad "encode: $name" "exit status $rc; stderr: $(cat "$ENC/err")"
    return 1
}

# The stream bytes of one direction of a trace (python: pcap records,
# exported-PDU TLVs, the UART pseudo-header; data records only).
cat > "$WORK/stream.py" <<'PYEOF'
import struct, sys
path, want_dir, off, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d = open(path, "rb").read()
e = "<" if struct.unpack("<I", d[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else ">"
pos, out = 24, b""
while pos + 16 <= len(d):
    incl = struct.unpack(e + "I", d[pos + 8:pos + 12])[0]
    rec, pos, p, dirn = d[pos + 16:pos + 16 + incl], pos + 16 + incl, 0, None
    while True:
        tag, ln = struct.unpack(">HH", rec[p:p + 4])
        if tag == 35:
            dirn = struct.unpack(">I", rec[p + 4:p + 8])[0]
        p += 4 + ln
        if tag == 0:
            break
    if rec[p + 1] == 0 and dirn == want_dir:
        out += rec[p + 12:]
sys.stdout.buffer.write(out[off:off + length])
PYEOF

# The index-0 WRITE is the frame of samples/provisioning-ok.pcap byte for
# byte (attrace-provision, which recorded it, signs like the vendor tool,
# with these keys; the frame starts at TE offset 66).
if enc_ok "write index 0" write --index 0 --cert "$KEYS/client.crt.pem" --key "$KEYS/client.key.pem" \
       --imei $IMEI -o "$ENC/w0.bin"; then
    python3 "$WORK/stream.py" "$SRC/samples/provisioning-ok.pcap" 0 66 1513 > "$ENC/sample-w0.bin"
    if cmp -s "$ENC/w0.bin" "$ENC/sample-w0.bin"; then
        ok "encode: write index 0 equals the frame in samples/provisioning-ok.pcap"
    else
        bad "encode: write index 0 equals the frame in samples/provisioning-ok.pcap" \
            "$(cmp "$ENC/w0.bin" "$ENC/sample-w0.bin" 2>&1)"
    fi
fi
enc_ok "write index 1" write --index 1 --cert "$KEYS/ca1.crt.der" --key "$KEYS/client.key.der" \
    --imei $IMEI -o "$ENC/w1.bin"
enc_ok "delete index 1" delete --index 1 --key "$KEYS/client.key.pem" --imei $IMEI -o "$ENC/d1.bin"
enc_ok "unsigned delete (newer)" delete --index 2 --profile newer --sig none --mode preconfig_cert \
    --thumbprint --cert "$KEYS/ca2.crt.pem" -o "$ENC/dn.bin"

# Determinism, standard output, file mode.
if enc_ok "write index 0, again" write --index 0 --cert "$KEYS/client.crt.der" \
       --key "$KEYS/client.key.der" --imei $IMEI -o "$ENC/w0-again.bin" &&
   "$ATTRACE" encode write --index 0 --cert "$KEYS/client.crt.pem" --key "$KEYS/client.key.pem" \
       --imei $IMEI -o - 2> /dev/null | cat > "$ENC/w0-stdout.bin" &&
   cmp -s "$ENC/w0.bin" "$ENC/w0-again.bin" && cmp -s "$ENC/w0.bin" "$ENC/w0-stdout.bin"; then
    ok "encode: identical inputs give identical bytes (PEM or DER inputs, file or -o -)"
else
    bad "encode: identical inputs give identical bytes (PEM or DER inputs, file or -o -)"
fi
for _ in $(seq 1 100); do printf 'old and longer than the frame '; done > "$ENC/existing.bin"
chmod 644 "$ENC/existing.bin"
( umask 022
  "$ATTRACE" encode write --index 0 --cert "$KEYS/client.crt.pem" --key "$KEYS/client.key.pem" \
      --imei $IMEI -o "$ENC/mode.bin" &&
  "$ATTRACE" encode write --index 0 --cert "$KEYS/client.crt.pem" --key "$KEYS/client.key.pem" \
      --imei $IMEI -o "$ENC/existing.bin" ) 2> "$ENC/mode.err"
if [ "$(stat -c %a "$ENC/mode.bin" 2>/dev/null)" = 600 ] &&
   [ "$(stat -c %a "$ENC/existing.bin")" = 600 ] &&
   cmp -s "$ENC/mode.bin" "$ENC/w0.bin" && cmp -s "$ENC/existing.bin" "$ENC/w0.bin"; then
    ok "encode: output file mode 0600 (new under umask 022, and a replaced 0644 file)"
else
    bad "encode: output file mode 0600 (new under umask 022, and a replaced 0644 file)" \
        "modes $(stat -c %a "$ENC/mode.bin" "$ENC/existing.bin" 2>&1 | tr '\n' ' '); $(cat "$ENC/mode.err")"
fi
if msg=$(python3 - "$ATTRACE" "$KEYS" <<'PYEOF'
import os, pty, subprocess, sys
attrace, keys = sys.argv[1], sys.argv[2]
master, slave = pty.openpty()
p = subprocess.run([attrace, "encode", "delete", "--index", "1", "--key", keys + "/client.key.pem",
                    "--imei", "358240051111110", "-o", "-"],
                   stdout=slave, stderr=subprocess.PIPE)
os.close(slave)
os.set_blocking(master, False)
try:
    out = os.read(master, 4096)
except OSError:
    out = b""
os.close(master)
if p.returncode != 2 or out or b"terminal" not in p.stderr:
    print("exit %d, %d bytes on the terminal, stderr %r" % (p.returncode, len(out), p.stderr))
    sys.exit(1)
PYEOF
); then ok "encode: -o - to a terminal refused (exit 2, nothing written)"
else bad "encode: -o - to a terminal refused (exit 2, nothing written)" "$msg"; fi

# What the module would refuse: exit 2 and no file; with --force, a
# warning and the frame. A certificate over the legacy limit (2048 bytes)
# is made here with openssl (long subjectAltName).
BIG=$ENC/big.crt.pem
sans=$(for i in $(seq 1 60); do printf 'DNS:host%03d.a-rather-long-domain-name.example.com,' "$i"; done)
if ! openssl req -x509 -newkey rsa:1024 -nodes -keyout "$ENC/big.key.pem" -subj "/CN=big" \
        -days 3650 -addext "subjectAltName=${sans%,}" -out "$BIG" 2> "$ENC/big.err"; then
    bad "openssl: a certificate over 2048 bytes" "$(cat "$ENC/big.err")"
fi
refusal() { # NAME PATTERN ARGS...
    local name=$1 pat=$2 rc
    shift 2
    rm -f "$ENC/refused.bin"
    "$ATTRACE" encode "$@" -o "$ENC/refused.bin" > "$ENC/out" 2> "$ENC/err"
    rc=$?
    if [ $rc -ne 2 ] || [ -e "$ENC/refused.bin" ] || ! grep -q -- "refused: .*$pat" "$ENC/err" ||
       ! grep -q -- '--force' "$ENC/err"; then
        bad "encode refuses: $name" "exit status $rc; stderr: $(cat "$ENC/err")"
        return
    fi
    "$ATTRACE" encode "$@" --force -o "$ENC/forced-$name.bin" > "$ENC/out" 2> "$ENC/err"
    rc=$?
    if [ $rc -eq 0 ] && [ -s "$ENC/forced-$name.bin" ] && grep -q -- "warning: .*$pat" "$ENC/err" &&
       ! grep -q refused "$ENC/err"; then
        ok "encode refuses: $name (exit 2; --force writes it)"
    else
        bad "encode refuses: $name (exit 2; --force writes it)" "exit status $rc; stderr: $(cat "$ENC/err")"
    fi
}
C1=(--cert "$KEYS/ca1.crt.pem")
K=(--key "$KEYS/client.key.pem")
refusal index-legacy "index 11 is outside the legacy profile's range 0..10" \
    write --index 11 "${C1[@]}" "${K[@]}" --imei $IMEI
refusal index-newer "index 31 is outside the newer profile's range 0..30" \
    delete --index 31 --profile newer --sig none
refusal key-index "a private key travels only in a write of index 0" \
    write --index 1 "${C1[@]}" "${K[@]}" --include-key --imei $IMEI
refusal cert-size "the certificate is [0-9]* bytes, over the legacy profile's limit of 2048 bytes" \
    write --index 1 --cert "$BIG" "${K[@]}" --imei $IMEI
refusal no-cert "a write carries the certificate to store" \
    write --index 1 "${K[@]}" --imei $IMEI
refusal imei-short "IMEI '35824005111111' is not 15 digits" \
    delete --index 1 "${K[@]}" --imei 35824005111111
refusal imei-letters "IMEI '35824005111111X' is not 15 digits" \
    delete --index 1 "${K[@]}" --imei 35824005111111X
refusal no-imei "a signed frame carries the module's IMEI" \
    delete --index 1 "${K[@]}"
refusal unsigned-legacy "legacy modules accept only signed frames" \
    delete --index 2 --sig none
refusal key-not-cert "does not belong to the certificate of index 0" \
    write --index 0 "${C1[@]}" "${K[@]}" --imei $IMEI

# The forced frames decode with the problem the module would see.
{
    printf '@=1793610000\n'
    for f in index-legacy key-index cert-size; do
        printf '%s\n' '> AT^SBNW=is_cert,1\r' \
            '< AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n' \
            "> file: forced-$f.bin" '@+200ms' '< \r\nSECURE CMD ERROR\r\n\r\nERROR\r\n' '@+100ms'
    done
} > "$ENC/forced.script"
printf '%s\n' \
    'problems(1) == ["index_range"]' \
    'unit(1, "index")["value"] == 11' \
    'problems(2) == ["key_index_not_0"]' \
    '[u["name"] for u in frame(2)["units"]] == ["index", "cert", "key", "imei", "signature"]' \
    'problems(3) == ["cert_too_large"]' \
    'frame(3)["certificate"]["size"] > 2048' > "$ENC/forced.check"
if "$MKTRACE" "$ENC/forced.script" "$ENC/forced.pcap" 2> "$ENC/err" &&
   "$ATTRACE" decode --json "$ENC/forced.pcap" > "$ENC/forced.json" 2>> "$ENC/err"; then
    check_json "encode --force: the frames decode with the module's objection" "$ENC/forced.json" "$ENC/forced.check"
else
    bad "encode --force: the frames decode with the module's objection" "$(cat "$ENC/err")"
fi

# Inputs that cannot be used: exit 3, no file.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ENC/ec.key.pem" 2> /dev/null
PWK=$ENC/client.enc.pem
PW=test-password-1 openssl pkcs8 -topk8 -in "$KEYS/client.key.pem" -passout env:PW -out "$PWK" 2> /dev/null
unusable() { # NAME PATTERN ARGS...
    local name=$1 pat=$2 rc
    shift 2
    rm -f "$ENC/unusable.bin"
    "$ATTRACE" encode "$@" -o "$ENC/unusable.bin" > "$ENC/out" 2> "$ENC/err"
    rc=$?
    if [ $rc -eq 3 ] && [ ! -e "$ENC/unusable.bin" ] && grep -q -- "$pat" "$ENC/err" &&
       ! grep -q 'wrong-password-2' "$ENC/err"; then
        ok "encode: exit 3: $name"
    else
        bad "encode: exit 3: $name" "exit status $rc; stderr: $(cat "$ENC/err")"
    fi
}
unusable "missing certificate file" "no-such.crt" \
    write --index 1 --cert "$ENC/no-such.crt" "${K[@]}" --imei $IMEI
unusable "missing key file" "no-such.key" \
    write --index 1 "${C1[@]}" --key "$ENC/no-such.key" --imei $IMEI
unusable "certificate file that is no certificate" "client.key.der" \
    write --index 1 --cert "$KEYS/client.key.der" "${K[@]}" --imei $IMEI
PW=wrong-password-2 unusable "wrong password (env:)" "client.enc.pem" \
    write --index 1 "${C1[@]}" --key "$PWK" --passin env:PW --imei $IMEI
unusable "EC key for an RSA signature" "RSA" \
    delete --index 1 --key "$ENC/ec.key.pem" --imei $IMEI
if PW=test-password-1 "$ATTRACE" encode delete --index 1 --key "$PWK" --passin env:PW --imei $IMEI \
       -o "$ENC/d1-enc.bin" 2> "$ENC/err" && cmp -s "$ENC/d1-enc.bin" "$ENC/d1.bin"; then
    ok "encode: encrypted key with --passin env: signs like the plain key"
else
    bad "encode: encrypted key with --passin env: signs like the plain key" "$(cat "$ENC/err")"
fi

# Round trip: the frames wrapped in secure-command exchanges (mktrace's
# "> file:"), decoded with golden output and field checks.
secure_exchange() { # FRAME-FILE RESULT
    printf '%s\n' '@+100ms' '> AT^SBNW=is_cert,1\r' '@+1ms' \
        '< AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n' '@+20ms' \
        "> file: $1" '@+200ms' "< \\r\\n$2\\r\\n\\r\\nOK\\r\\n"
}
imei_exchange() {
    printf '%s\n' '> AT+CGSN\r' '@+1ms' "< AT+CGSN\\r\\r\\n$IMEI\\r\\n\\r\\nOK\\r\\n"
}
{ printf '@=1793610000\n'; imei_exchange
  secure_exchange w0.bin "SECURE CMD END OK"
  secure_exchange w1.bin "SECURE CMD END OK"
  secure_exchange d1.bin "SECURE CMD END OK"; } > "$ENC/roundtrip.script"
if "$MKTRACE" "$ENC/roundtrip.script" "$ENC/roundtrip.pcap" 2> "$ENC/err"; then
    decode_pair encode-roundtrip "$ENC/roundtrip.pcap"
else
    bad "encode-roundtrip: build trace" "$(cat "$ENC/err")"
fi
{ printf '@=1793610000\n'; secure_exchange dn.bin "SECURE CMD END OK"; } > "$ENC/newer.script"
thumb=$(openssl x509 -in "$KEYS/ca2.crt.pem" -outform DER | sha1sum | cut -c1-40)
printf '%s\n' \
    '[u["name"] for u in frame(1)["units"]] == ["mode", "thumbprint", "index"]' \
    'unit(1, "mode")["value"] == "preconfig_cert"' \
    "unit(1, \"thumbprint\")[\"value\"] == \"$thumb\"" \
    'unit(1, "index")["value"] == 2' \
    'frame(1)["cmd_name"] == "DELETE"' \
    'frame(1)["problems"] == []' \
    'frame(1)["signature"] == None' \
    'summary["findings"]["error"] == 0' > "$ENC/newer.check"
if [ ${#thumb} -eq 40 ] && "$MKTRACE" "$ENC/newer.script" "$ENC/newer.pcap" 2> "$ENC/err" &&
   "$ATTRACE" decode --json --profile=newer "$ENC/newer.pcap" > "$ENC/newer.json" 2>> "$ENC/err"; then
    check_json "encode: unsigned DELETE with mode and thumbprint decodes back" "$ENC/newer.json" "$ENC/newer.check"
else
    bad "encode: unsigned DELETE with mode and thumbprint decodes back" "$(cat "$ENC/err")"
fi

# --pause-warn-ms: the DELETE frame sent in two halves 1.5 s apart.
head -c 100 "$ENC/d1.bin" > "$ENC/d1-a.bin"
tail -c +101 "$ENC/d1.bin" > "$ENC/d1-b.bin"
{ printf '@=1793610000\n'; imei_exchange
  printf '%s\n' '@+100ms' '> AT^SBNW=is_cert,1\r' '@+1ms' \
      '< AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n' '@+20ms' \
      '> file: d1-a.bin' '@+1500ms' '> file: d1-b.bin' '@+200ms' '< \r\nSECURE CMD ERROR\r\n\r\nERROR\r\n'
} > "$ENC/pause.script"
if "$MKTRACE" "$ENC/pause.script" "$ENC/pause.pcap" 2> "$ENC/err"; then
    for ms in default 1500 1501; do
        flags=()
        [ $ms != default ] && flags=(--pause-warn-ms=$ms)
        "$ATTRACE" decode --json "${flags[@]}" "$ENC/pause.pcap" > "$ENC/pause-$ms.json" 2> "$ENC/err"
        want=1
        [ $ms = 1501 ] && want=0
        printf '%s\n' "len([f for f in findings() if f[\"rule\"] == \"frame_pause\"]) == $want" \
            'frame(1)["problems"] == []' 'frame(1)["length"] == 209' > "$ENC/pause-$ms.check"
        [ $want = 1 ] && printf '%s\n' \
            '[(f["severity"], f["exchange"], f["dir"]) for f in findings() if f["rule"] == "frame_pause"] == [("warning", 2, "te_to_me")]' \
            '"1.500 s" in [f for f in findings() if f["rule"] == "frame_pause"][0]["what"]' >> "$ENC/pause-$ms.check"
        check_json "--pause-warn-ms ${ms}: a 1.5 s pause inside a frame is reported: $([ $want = 1 ] && echo yes || echo no)" \
            "$ENC/pause-$ms.json" "$ENC/pause-$ms.check"
    done
else
    bad "pause: build trace" "$(cat "$ENC/err")"
fi

# --client-cert: a server-certificate WRITE signed by the client key, in a
# trace that does not show the client certificate. Only the given
# certificate verifies it.
{ printf '@=1793610000\n'; imei_exchange; secure_exchange w1.bin "SECURE CMD END OK"; } > "$ENC/clientcert.script"
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$ENC/other.key.pem" -subj "/CN=other" \
    -days 3650 -out "$ENC/other.crt.pem" 2> /dev/null
if "$MKTRACE" "$ENC/clientcert.script" "$ENC/clientcert.pcap" 2> "$ENC/err"; then
    decode_pair client-cert "$ENC/clientcert.pcap" --client-cert "$KEYS/client.crt.der"
    printf '%s\n' \
        'frame(1)["signature"]["checked"] == False' \
        'frame(1)["signature"]["matches"] == None' \
        'frame(1)["signature"]["base64_ok"] == True' > "$ENC/nocert.check"
    "$ATTRACE" decode --json "$ENC/clientcert.pcap" > "$ENC/nocert.json" 2> "$ENC/err"
    check_json "--client-cert absent: the signature is not checked" "$ENC/nocert.json" "$ENC/nocert.check"
    printf '%s\n' \
        'frame(1)["signature"]["checked"] == True' \
        'frame(1)["signature"]["length_ok"] == True' \
        'frame(1)["signature"]["matches"] == False' > "$ENC/othercert.check"
    "$ATTRACE" decode --json --client-cert "$ENC/other.crt.pem" "$ENC/clientcert.pcap" \
        > "$ENC/othercert.json" 2> "$ENC/err"
    check_json "--client-cert of another key: the signature does not match" "$ENC/othercert.json" "$ENC/othercert.check"
else
    bad "client-cert: build trace" "$(cat "$ENC/err")"
fi
"$ATTRACE" decode --client-cert "$ENC/no-such.pem" "$SRC/samples/provisioning-ok.pcap" > "$ENC/out" 2> "$ENC/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -s "$ENC/out" ] && grep -q 'no-such.pem' "$ENC/err"; then
    ok "exit 2: --client-cert of a missing file"
else
    bad "exit 2: --client-cert of a missing file" "exit status $rc; stderr: $(cat "$ENC/err")"
fi

# --check: exit 1 when there is an error finding; damaged input (3) wins.
check_exit() { # NAME WANT ARGS...
    local name=$1 want=$2 rc
    shift 2
    "$ATTRACE" decode "$@" > "$WORK/check.out" 2> "$WORK/check.err"
    rc=$?
    if [ $rc -eq "$want" ]; then ok "--check: exit $want: $name"
    else bad "--check: exit $want: $name" "exit status $rc; stderr: $(cat "$WORK/check.err")"; fi
}
FAILING=$SRC/samples/totallen-excludes-self.pcap
GOOD=$SRC/samples/provisioning-ok.pcap
check_exit "failing sample, text" 1 --check --color=never "$FAILING"
if cmp -s "$WORK/check.out" "$WORK/sample-totallen-excludes-self.txt"; then
    ok "--check: the output is the same as without it"
else
    bad "--check: the output is the same as without it"
fi
check_exit "failing sample, --json" 1 --check --json "$FAILING"
"$ATTRACE" decode --color=always "$FAILING" > "$WORK/failing.color" 2>&1
if grep -q -F $'\e[1;31merror\e[0m \e[1mtotallen_excludes_self\e[0m at TE+32: ' "$WORK/failing.color" &&
   grep -q -F $'1 finding: \e[1;31m1 error\e[0m, 0 warnings, 0 info' "$WORK/failing.color"; then
    ok "findings colored by severity (--color=always)"
else
    bad "findings colored by severity (--color=always)" "$(grep -a -E 'totallen_excludes_self|finding' "$WORK/failing.color" | cat -v)"
fi
check_exit "failing sample without --check" 0 --color=never "$FAILING"
check_exit "good sample" 0 --check "$GOOD"
check_exit "good sample, --json" 0 --check --json "$GOOD"
# A successful session with a newer module (unsigned frames, index 15),
# no --profile: the module's acceptance makes it "newer", nothing is an
# error.
check_exit "newer module, guessed from its answers" 0 --check --color=never "$WORK/newer-unsigned.pcap"
check_exit "newer module, guessed from its answers, --json" 0 --check --json "$WORK/newer-unsigned.pcap"
size=$(stat -c %s "$FAILING")
head -c $((size - 3)) "$FAILING" > "$WORK/failing-truncated.pcap"
check_exit "damaged trace with an error finding" 3 --check --color=never "$WORK/failing-truncated.pcap"
if grep -q '^ *error ' "$WORK/check.out" && grep -q 'Stopped early' "$WORK/check.out"; then
    ok "--check: damaged trace: the findings before the damage are printed"
else
    bad "--check: damaged trace: the findings before the damage are printed" "$(cat "$WORK/check.out")"
fi

# ------------------------------------------------------------------
# The rule table: --list-rules (text and JSON) and the README's list
# ------------------------------------------------------------------
"$ATTRACE" decode --list-rules > "$WORK/rules.txt" 2> "$WORK/rules.err"
rc=$?
awk '/^<!-- rules: attrace decode --list-rules -->$/ {on = 1; next}
     /^<!-- end rules -->$/ {on = 0}
     on && !/^```/' "$SRC/README.md" > "$WORK/rules.readme"
if [ $rc -ne 0 ] || [ ! -s "$WORK/rules.txt" ]; then
    bad "--list-rules" "exit status $rc; stderr: $(cat "$WORK/rules.err")"
elif diff -u "$WORK/rules.readme" "$WORK/rules.txt" > "$WORK/rules.diff"; then
    ok "README rule list is the output of --list-rules"
else
    bad "README rule list is the output of --list-rules" "paste the output of attrace decode --list-rules between the markers in README.md:
$(cat "$WORK/rules.diff")"
fi
"$ATTRACE" decode --list-rules --json > "$WORK/rules.json" 2> "$WORK/rules.err"
if python3 - "$WORK/rules.json" "$WORK/rules.txt" <<'PY'
import json, sys
rules = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read().splitlines()
ids = [r["id"] for r in rules]
assert len(ids) == len(set(ids)), "duplicate rule ids"
assert all(r["type"] == "rule" and r["severity"] in ("error", "warning", "info")
           and r["summary"] and r["fix"] for r in rules)
assert len(text) == 3 * len(rules)
for i, r in enumerate(rules):
    assert text[3 * i] == "%s (%s)" % (r["id"], r["severity"]), text[3 * i]
    assert text[3 * i + 1] == "    " + r["summary"]
    assert text[3 * i + 2] == "    fix: " + r["fix"]
for rid, sev in (("totallen_excludes_self", "error"), ("host_side_missing", "warning"),
                 ("tls_server_not_trusted", "error"), ("sbnr_mismatch", "warning")):
    assert {r["id"]: r["severity"] for r in rules}[rid] == sev, rid
PY
then ok "--list-rules --json: the same table as the text"
else bad "--list-rules --json: the same table as the text" "$(cat "$WORK/rules.err")"; fi
"$ATTRACE" decode --list-rules "$GOOD" > /dev/null 2> "$WORK/rules.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--list-rules takes no TRACE' "$WORK/rules.err"; then
    ok "--list-rules with a TRACE: usage error"
else
    bad "--list-rules with a TRACE: usage error" "exit status $rc; stderr: $(cat "$WORK/rules.err")"
fi

# ------------------------------------------------------------------
# Standard input: same output as the file, for every crafted case
# ------------------------------------------------------------------
msgs=""
for script in "$CASES"/*.txt; do
    name=$(basename "$script" .txt)
    [ -f "$WORK/$name.pcap" ] && [ -f "$WORK/$name.txt" ] || continue
    # shellcheck disable=SC2046
    cat "$WORK/$name.pcap" | "$ATTRACE" decode --color=never $(flags_of "$script") - \
        > "$WORK/$name.stdin.txt" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || ! cmp -s "$WORK/$name.txt" "$WORK/$name.stdin.txt"; then
        msgs+="$name (exit $rc): $(diff "$WORK/$name.txt" "$WORK/$name.stdin.txt" | head -n 5)"$'\n'
    fi
done
if [ -z "$msgs" ]; then ok "stdin: 'cat x.pcap | attrace decode -' equals the file's output"
else bad "stdin: 'cat x.pcap | attrace decode -' equals the file's output" "$msgs"; fi

# ------------------------------------------------------------------
# Streaming: an exchange is printed while the writer still holds the
# pipe open (stdout is a pipe, so output is flushed per record).
# ------------------------------------------------------------------
cat > "$WORK/stream-a.script" <<'EOF'
> AT+CGSN\r
< AT+CGSN\r\r\n358240051111110\r\n\r\nOK\r\n
EOF
{ cat "$WORK/stream-a.script"; printf '%s\n' '@+1s' '> AT+CSQ\r' '< \r\n+CSQ: 18,99\r\n\r\nOK\r\n'; } \
    > "$WORK/stream-b.script"
if "$MKTRACE" "$WORK/stream-a.script" "$WORK/stream-a.pcap" &&
   "$MKTRACE" "$WORK/stream-b.script" "$WORK/stream-b.pcap"; then
    lena=$(stat -c %s "$WORK/stream-a.pcap")
    if ! head -c "$lena" "$WORK/stream-b.pcap" | cmp -s - "$WORK/stream-a.pcap"; then
        bad "streaming" "stream-a.pcap is not a prefix of stream-b.pcap"
    else
        rm -f "$WORK/fifo" "$WORK/stream.out"
        mkfifo "$WORK/fifo"
        ( "$ATTRACE" decode --color=never - < "$WORK/fifo" | cat > "$WORK/stream.out" ) &
        reader=$!
        exec 3> "$WORK/fifo"
        head -c "$lena" "$WORK/stream-b.pcap" >&3
        seen=0
        for _ in $(seq 1 100); do
            if grep -q '= OK' "$WORK/stream.out" 2>/dev/null; then seen=1; break; fi
            sleep 0.1
        done
        early=$(cat "$WORK/stream.out")
        tail -c +"$((lena + 1))" "$WORK/stream-b.pcap" >&3
        exec 3>&-
        wait $reader
        if [ $seen -eq 1 ] && ! grep -q 'AT+CSQ' <<< "$early" &&
           grep -q '+CSQ: 18,99' "$WORK/stream.out"; then
            ok "streaming: exchange 1 printed before the rest of the trace arrived"
        else
            bad "streaming: exchange 1 printed before the rest of the trace arrived" \
                "output while the pipe was open:"$'\n'"$early"$'\n'"final output:"$'\n'"$(cat "$WORK/stream.out")"
        fi
    fi
else
    bad "streaming" "could not build the traces"
fi

# ------------------------------------------------------------------
# Key redaction: the key unit of secure-problems holds "SECRETKEYBYTES"
# DE AD BE EF. No output shows them unless --show-secrets.
# ------------------------------------------------------------------
KEYTRACE=$WORK/secure-problems.pcap
leaks() { # FILE: prints the key patterns found in it
    grep -a -o -i -E 'SECRETKEY|5345435245544b4559|53 45 43 52 45 54 4b 45 59|de ?ad ?be ?ef|\\xDE\\xAD' "$1" | sort -u | tr '\n' ' '
}
if [ -f "$KEYTRACE" ] && grep -q -a SECRETKEYBYTES "$KEYTRACE"; then
    msgs=""
    i=0
    for flags in "" "--hex" "--json" "--json --hex" "--hex --color=always"; do
        i=$((i + 1))
        # shellcheck disable=SC2086
        "$ATTRACE" decode --color=never $flags "$KEYTRACE" > "$WORK/redact.$i" 2>&1
        found=$(leaks "$WORK/redact.$i")
        [ -n "$found" ] && msgs+="decode $flags shows key bytes: $found"$'\n'
    done
    if [ -z "$msgs" ]; then ok "key bytes redacted in text, --hex, --json, --json --hex"
    else bad "key bytes redacted in text, --hex, --json, --json --hex" "$msgs"; fi

    "$ATTRACE" decode --color=never --hex --show-secrets "$KEYTRACE" > "$WORK/secrets.txt" 2>&1
    "$ATTRACE" decode --json --show-secrets "$KEYTRACE" > "$WORK/secrets.json" 2>&1
    if grep -q 'SECRETKEY' "$WORK/secrets.txt" && grep -q 'de ad be ef' "$WORK/secrets.txt" &&
       grep -q '"hex":"5345435245544b45594259544553deadbeef"' "$WORK/secrets.json"; then
        ok "--show-secrets shows the key bytes (text --hex and JSON)"
    else
        bad "--show-secrets shows the key bytes (text --hex and JSON)" "$(grep -n -i -E 'key|hex' "$WORK/secrets.txt" | head -n 20)"
    fi
    check_json "--show-secrets: JSON consistency" "$WORK/secrets.json" - --show-secrets
else
    bad "key redaction" "$KEYTRACE missing or without the key pattern"
fi

# The sample's real PKCS#8 key (samples/keys/client.key.der): no 8-byte
# run of it in any output without --show-secrets (hexdump bytes are joined
# across lines first), all of it with.
SAMPLE=$SRC/samples/provisioning-ok.pcap
KEYDER=$SRC/samples/keys/client.key.der
if [ -f "$SAMPLE" ] && [ -f "$KEYDER" ]; then
    "$ATTRACE" decode --color=never --hex "$SAMPLE" > "$WORK/key.hex.txt" 2>&1
    "$ATTRACE" decode --json --hex "$SAMPLE" > "$WORK/key.hex.json" 2>&1
    "$ATTRACE" decode --color=never --hex --show-secrets "$SAMPLE" > "$WORK/key.shown.txt" 2>&1
    "$ATTRACE" decode --json --show-secrets "$SAMPLE" > "$WORK/key.shown.json" 2>&1
    if msg=$(python3 - "$KEYDER" "$WORK"/key.hex.txt "$WORK"/key.hex.json \
                       "$WORK"/key.shown.txt "$WORK"/key.shown.json <<'PYEOF'
import re, sys
key = open(sys.argv[1], "rb").read().hex()
def dumped(path):
    # hex bytes of every hexdump line, joined; plus the raw text (JSON)
    text = open(path, encoding="utf-8", errors="replace").read()
    rows = re.findall(r"^ +[0-9a-f]{8,} +((?:[0-9a-f]{2} +)+) *\|", text, re.M)
    return "".join(r.replace(" ", "") for r in rows) + "\n" + text.lower()
# The key holds the public modulus too, which the certificate shows: only
# runs that are not in the certificate are secret.
cert = open(sys.argv[1].replace("client.key.der", "client.crt.der"), "rb").read().hex()
secret = [key[i:i + 16] for i in range(0, len(key) - 16, 2) if key[i:i + 16] not in cert]
if len(secret) < 100:
    print("too few secret-only runs in the key: %d" % len(secret))
    sys.exit(1)
def runs(hay):
    return sum(1 for r in secret if r in hay)
hidden = [runs(dumped(p)) for p in sys.argv[2:4]]
shown = [key in dumped(p) for p in sys.argv[4:6]]
if hidden != [0, 0] or shown != [True, True]:
    print("8-byte key runs found without --show-secrets (text, json): %s; "
          "whole key shown with it (text, json): %s" % (hidden, shown))
    sys.exit(1)
PYEOF
    ); then
        ok "sample key (client.key.der) never shown without --show-secrets"
    else
        bad "sample key (client.key.der) never shown without --show-secrets" "$msg"
    fi
else
    echo "note  samples/provisioning-ok.pcap or its key missing: sample key redaction not tested"
fi

# ------------------------------------------------------------------
# --color=auto: colors only on a terminal, with TERM not "dumb" and
# NO_COLOR unset (run on a pseudo-terminal)
# ------------------------------------------------------------------
if [ -f "$WORK/color.pcap" ]; then
    if msg=$(python3 - "$ATTRACE" "$WORK/color.pcap" <<'PYEOF'
import os, pty, subprocess, sys
attrace, trace = sys.argv[1], sys.argv[2]
def run(args, env_set, env_del, tty=True):
    env = dict(os.environ)
    env.update(env_set)
    for k in env_del:
        env.pop(k, None)
    if not tty:
        return subprocess.run([attrace, "decode"] + args + [trace], env=env,
                              stdout=subprocess.PIPE, check=True).stdout
    master, slave = pty.openpty()
    p = subprocess.Popen([attrace, "decode"] + args + [trace], env=env,
                         stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    if p.wait() != 0:
        raise SystemExit("exit status %d" % p.returncode)
    return out
cases = [
    ("tty, TERM=xterm", [], {"TERM": "xterm"}, ["NO_COLOR"], True, True),
    ("tty, TERM unset", [], {}, ["NO_COLOR", "TERM"], True, True),
    ("tty, TERM=dumb", [], {"TERM": "dumb"}, ["NO_COLOR"], True, False),
    ("tty, NO_COLOR=1", [], {"TERM": "xterm", "NO_COLOR": "1"}, [], True, False),
    ("tty, NO_COLOR empty", [], {"TERM": "xterm", "NO_COLOR": ""}, [], True, False),
    ("tty, --color=never", ["--color=never"], {"TERM": "xterm"}, ["NO_COLOR"], True, False),
    ("tty, --json", ["--json"], {"TERM": "xterm"}, ["NO_COLOR"], True, False),
    ("pipe, TERM=xterm", [], {"TERM": "xterm"}, ["NO_COLOR"], False, False),
    ("pipe, --color=always", ["--color=always"], {"TERM": "dumb", "NO_COLOR": "1"}, [], False, True),
    ("pipe, --color", ["--color"], {"TERM": "dumb"}, [], False, True),
]
wrong = []
for name, args, env_set, env_del, tty, want in cases:
    got = b"\x1b[" in run(args, env_set, env_del, tty)
    if got != want:
        wrong.append("%s: colors %s, expected %s" % (name, got, want))
if wrong:
    print("\n".join(wrong))
    sys.exit(1)
PYEOF
    ); then ok "--color=auto/always/never on a terminal and a pipe"
    else bad "--color=auto/always/never on a terminal and a pipe" "$msg"; fi
fi

# ------------------------------------------------------------------
# Channel table limit: 256 channels are decoded, records of further ones
# are skipped with one warning and counted.
# ------------------------------------------------------------------
for n in $(seq 0 257); do printf 'ch %d\n> AT\\r\n' "$n"; done > "$WORK/channels.script"
if "$MKTRACE" "$WORK/channels.script" "$WORK/channels.pcap"; then
    "$ATTRACE" decode --json "$WORK/channels.pcap" > "$WORK/channels.json" 2> "$WORK/channels.err"
    rc=$?
    if [ $rc -eq 0 ] && [ "$(grep -c 'warning: more than 256 channels' "$WORK/channels.err")" -eq 1 ] &&
       tail -n 1 "$WORK/channels.json" | grep -q '"channels":256,' &&
       tail -n 1 "$WORK/channels.json" | grep -q '"skipped_records":2,' &&
       tail -n 1 "$WORK/channels.json" | grep -q '"exchanges":256,'; then
        ok "256 channels decoded, further ones skipped with a warning"
    else
        bad "256 channels decoded, further ones skipped with a warning" \
            "exit status $rc; stderr: $(cat "$WORK/channels.err"); summary: $(tail -n 1 "$WORK/channels.json")"
    fi
else
    bad "channel limit" "could not build the trace"
fi

# ------------------------------------------------------------------
# Usage errors: exit 2, nothing on stdout, a message and a hint to --help
# ------------------------------------------------------------------
any=$WORK/secure-problems.pcap
usage_case() { # DESCRIPTION ARGS...
    local desc=$1
    shift
    "$ATTRACE" "$@" > "$WORK/usage.out" 2> "$WORK/usage.err"
    local rc=$?
    if [ $rc -eq 2 ] && [ ! -s "$WORK/usage.out" ] && grep -q '^attrace' "$WORK/usage.err" &&
       grep -q -- '--help' "$WORK/usage.err"; then
        ok "exit 2: $desc"
    else
        bad "exit 2: $desc" "exit status $rc; stdout: $(head -c 300 "$WORK/usage.out"); stderr: $(cat "$WORK/usage.err")"
    fi
}
usage_case "no command"
usage_case "unknown command" frobnicate
usage_case "unknown global option" --frobnicate
usage_case "decode without a trace"  decode
usage_case "decode with two traces" decode "$any" "$any"
usage_case "decode with an unknown option" decode --frobnicate "$any"
usage_case "decode with an unknown short option" decode -z "$any"
usage_case "decode --color=sometimes" decode --color=sometimes "$any"
usage_case "decode --profile=ancient" decode --profile=ancient "$any"
usage_case "decode --profile without value" decode "$any" --profile
usage_case "decode --client-cert ''" decode --client-cert '' "$any"
# decode parses --profile and --client-cert with the parser of encode, cert,
# replay and diff (frameopts.c): the same words, exactly.
usage_exact() { # DESCRIPTION EXPECTED-FIRST-LINE ARGS...
    local desc=$1 want=$2
    shift 2
    "$ATTRACE" "$@" > "$WORK/usage.out" 2> "$WORK/usage.err"
    local rc=$? got
    got=$(head -n 1 "$WORK/usage.err")
    if [ $rc -eq 2 ] && [ ! -s "$WORK/usage.out" ] && [ "$got" = "$want" ]; then
        ok "exit 2, exact message: $desc"
    else
        bad "exit 2, exact message: $desc" "exit status $rc; want '$want'; stderr: $(cat "$WORK/usage.err")"
    fi
}
usage_exact "decode --profile=ancient" \
    "attrace decode: unknown profile 'ancient' (known: legacy, newer)" \
    decode --profile=ancient "$any"
usage_exact "encode --profile ancient" \
    "attrace encode: unknown profile 'ancient' (known: legacy, newer)" \
    encode delete --index 1 --profile ancient -o "$WORK/u.bin"
usage_exact "decode --client-cert ''" "attrace decode: --client-cert needs a file name" \
    decode --client-cert '' "$any"
usage_case "decode --json=yes" decode --json=yes "$any"
usage_case "decode --pause-warn-ms=0" decode --pause-warn-ms=0 "$any"
usage_case "decode --pause-warn-ms=soon" decode --pause-warn-ms=soon "$any"
usage_case "encode without operation" encode --index 1 -o "$WORK/u.bin"
usage_case "encode with an unknown operation" encode revise --index 1 -o "$WORK/u.bin"
usage_case "encode with two operations" encode delete read --index 1 -o "$WORK/u.bin"
usage_case "encode without --index" encode delete --sig none -o "$WORK/u.bin"
usage_case "encode --index 70000" encode delete --index 70000 --sig none -o "$WORK/u.bin"
usage_case "encode --index -1" encode delete --index -1 --sig none -o "$WORK/u.bin"
usage_case "encode without -o" encode delete --index 1 --sig none --profile newer
usage_case "encode --sig md5" encode delete --index 1 --sig md5 -o "$WORK/u.bin"
usage_case "encode --profile ancient" encode delete --index 1 --profile ancient -o "$WORK/u.bin"
usage_case "encode signed without --key" encode delete --index 1 --imei 358240051111110 -o "$WORK/u.bin"
usage_case "encode --passin without --key" encode delete --index 1 --sig none --passin env:X -o "$WORK/u.bin"
usage_case "encode --keypass without --key" encode delete --index 1 --sig none --keypass env:X -o "$WORK/u.bin"
usage_case "encode --alias without --key" encode delete --index 1 --sig none --alias mykey -o "$WORK/u.bin"
usage_case "encode --alias ''" encode delete --index 1 --key "$SRC/samples/keys/client.jks" --alias '' -o "$WORK/u.bin"
usage_case "encode delete with --cert" encode delete --index 1 --cert "$SRC/samples/keys/ca1.crt.pem" --sig none -o "$WORK/u.bin"
usage_case "encode with an unknown option" encode delete --index 1 --frobnicate -o "$WORK/u.bin"
if [ -e "$WORK/u.bin" ]; then bad "encode: usage errors write no file" "$WORK/u.bin exists"
else ok "encode: usage errors write no file"; fi

# Help and version: exit 0 on stdout.
if out=$("$ATTRACE" --help 2>&1) && grep -q '^  decode ' <<< "$out"; then ok "attrace --help"
else bad "attrace --help" "$out"; fi
if out=$("$ATTRACE" decode --help 2>&1) && grep -q -- '--json' <<< "$out" &&
   grep -q -- '--show-secrets' <<< "$out" && grep -q -- '--color' <<< "$out"; then
    ok "attrace decode --help"
else bad "attrace decode --help" "$out"; fi
if out=$("$ATTRACE" --help 2>&1) && grep -q '^  encode ' <<< "$out"; then ok "attrace --help lists encode"
else bad "attrace --help lists encode" "$out"; fi
if out=$("$ATTRACE" decode --help 2>&1) && grep -q -- '--check' <<< "$out" &&
   grep -q -- '--client-cert' <<< "$out" && grep -q -- '--pause-warn-ms' <<< "$out"; then
    ok "attrace decode --help: --check, --client-cert, --pause-warn-ms"
else bad "attrace decode --help: --check, --client-cert, --pause-warn-ms" "$out"; fi
if out=$("$ATTRACE" encode --help 2>&1) && grep -q -- '--passin' <<< "$out" &&
   grep -q -- '--force' <<< "$out" && grep -q 'passin env:' <<< "$out" &&
   ! grep -q -- '--passin pass:' <<< "$out"; then
    ok "attrace encode --help (examples take passwords from env: or file:)"
else bad "attrace encode --help" "$out"; fi
if out=$("$ATTRACE" --version 2>&1) && grep -q -E '^attrace [0-9]+\.[0-9]+\.[0-9]+$' <<< "$out"; then
    ok "attrace --version"
else bad "attrace --version" "$out"; fi

# ------------------------------------------------------------------
# Exit 3: unreadable input, damaged trace (output before the damage kept)
# ------------------------------------------------------------------
unreadable_case() { # DESCRIPTION FILE
    "$ATTRACE" decode --color=never "$2" > "$WORK/u.out" 2> "$WORK/u.err"
    local rc=$?
    if [ $rc -eq 3 ] && [ ! -s "$WORK/u.out" ] && grep -q -F "attrace: $2" "$WORK/u.err"; then
        ok "exit 3: $1"
    else
        bad "exit 3: $1" "exit status $rc; stdout: $(head -c 300 "$WORK/u.out"); stderr: $(cat "$WORK/u.err")"
    fi
}
unreadable_case "missing file" "$WORK/no-such-trace.pcap"
printf 'not a trace\n' > "$WORK/text.pcap"
unreadable_case "not a pcap file" "$WORK/text.pcap"
: > "$WORK/empty.pcap"
unreadable_case "empty file" "$WORK/empty.pcap"

# Truncated: secure-problems without its last 3 bytes (inside the last record).
if [ -f "$WORK/secure-problems.pcap" ] && [ -f "$WORK/cme.pcap" ]; then
    # cme.pcap: seven exchanges; cut inside the last record.
    size=$(stat -c %s "$WORK/cme.pcap")
    head -c $((size - 3)) "$WORK/cme.pcap" > "$WORK/truncated.pcap"
    "$ATTRACE" decode --color=never "$WORK/truncated.pcap" > "$WORK/trunc.out" 2> "$WORK/trunc.err"
    rc=$?
    # Every exchange but the last is complete and printed as in the golden run.
    if [ $rc -eq 3 ] &&
       grep -q -E "^attrace: $WORK/truncated.pcap: record 14: " "$WORK/trunc.err" &&
       [ "$(wc -l < "$WORK/trunc.err")" -eq 1 ] &&
       grep -q -F '<- +CME ERROR: 10' "$WORK/trunc.out" &&
       grep -q -F '+CME ERROR 10: SIM not inserted' "$WORK/trunc.out" &&
       grep -q -F '<- +CMS ERROR: 330' "$WORK/trunc.out" &&
       grep -q -F -- '-> AT+XYZ' "$WORK/trunc.out" &&
       grep -q -F '= no final result (stream_end)' "$WORK/trunc.out" &&
       grep -q -F 'Stopped early: ' "$WORK/trunc.out" &&
       diff <(sed -n '/^#6 /,/^$/p' "$WORK/cme.txt") <(sed -n '/^#6 /,/^$/p' "$WORK/trunc.out") > /dev/null; then
        ok "exit 3: truncated trace, everything before the damage printed"
    else
        bad "exit 3: truncated trace, everything before the damage printed" \
            "exit status $rc; stderr: $(cat "$WORK/trunc.err")"$'\n'"$(cat "$WORK/trunc.out")"
    fi
    "$ATTRACE" decode --json "$WORK/truncated.pcap" > "$WORK/trunc.json" 2> "$WORK/trunc.json.err"
    rc=$?
    cat > "$WORK/trunc.check" <<'EOF'
summary["complete"] == False
"record 14" in summary["error"]
summary["records"] == 13
summary["exchanges"] == 7
ex(6)["final"]["kind"] == "+CMS ERROR"
ex(6)["final"]["code"] == 330
ex(7)["command"] == "AT+XYZ"
ex(7)["end_reason"] == "stream_end"
ex(7)["final"] == None
EOF
    if [ $rc -eq 3 ]; then check_json "exit 3: truncated trace, JSON before the damage" "$WORK/trunc.json" "$WORK/trunc.check"
    else bad "exit 3: truncated trace, JSON before the damage" "exit status $rc"; fi

    # Same through standard input.
    cat "$WORK/truncated.pcap" | "$ATTRACE" decode --color=never - > "$WORK/trunc.stdin" 2> "$WORK/trunc.stdin.err"
    rc=$?
    if [ $rc -eq 3 ] && grep -q -E '^attrace: standard input: record 14: ' "$WORK/trunc.stdin.err" &&
       grep -q -F -- '-> AT+XYZ' "$WORK/trunc.stdin"; then
        ok "exit 3: truncated trace on standard input"
    else
        bad "exit 3: truncated trace on standard input" "exit status $rc; stderr: $(cat "$WORK/trunc.stdin.err")"
    fi
else
    bad "exit 3: truncated trace" "the cme and secure-problems traces were not built"
fi

# ------------------------------------------------------------------
echo "cli: $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    printf 'failed: %s\n' "${failed_names[@]}"
    exit 1
fi
exit 0
