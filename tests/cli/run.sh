#!/bin/bash
# End-to-end tests of `attrace decode`.
#
#   run.sh ATTRACE MKTRACE SRCDIR WORKDIR
#
# For every tests/cli/cases/NAME.txt script: build the trace with
# attrace-mktrace, decode it (text with --color=never, and --json), compare
# both with tests/cli/golden/NAME.txt / NAME.json exactly, and check the
# JSON field by field: generic consistency plus the exact values asserted
# in cases/NAME.check. A "# attrace-flags: ..." line in a script adds
# options to both runs. The committed samples/*.pcap are decoded the same
# way (golden/sample-NAME.*, cases/sample-NAME.check). Then: standard
# input, streaming, key redaction, usage errors (exit 2), unreadable and
# damaged traces (exit 3).
#
# UPDATE_GOLDEN=1 rewrites the golden files from the current output (read
# every changed line before committing them).
#
# Needs: bash, coreutils, diff, grep, python3 (json module only).

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

TYPES = {"exchange", "urc", "frame", "invalid", "unexpected", "trace_event", "summary"}
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
env = {"ex": ex, "urc": urc, "frame": frame, "inv": inv, "unexpected": unexpected,
       "tev": tev, "problems": problems, "unit": unit, "summary": summary,
       "objs": objs, "of": of}
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

nsamples=0
for sample in "$SRC"/samples/*.pcap; do
    [ -e "$sample" ] || continue
    nsamples=$((nsamples + 1))
    decode_pair "sample-$(basename "$sample" .pcap)" "$sample"
done
[ $nsamples -eq 0 ] && echo "note  no samples/*.pcap: sample decoding not tested"

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
usage_case "decode --json=yes" decode --json=yes "$any"

# Help and version: exit 0 on stdout.
if out=$("$ATTRACE" --help 2>&1) && grep -q '^  decode ' <<< "$out"; then ok "attrace --help"
else bad "attrace --help" "$out"; fi
if out=$("$ATTRACE" decode --help 2>&1) && grep -q -- '--json' <<< "$out" &&
   grep -q -- '--show-secrets' <<< "$out" && grep -q -- '--color' <<< "$out"; then
    ok "attrace decode --help"
else bad "attrace decode --help" "$out"; fi
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
