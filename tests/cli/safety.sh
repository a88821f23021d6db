#!/bin/bash
# Lossless and safe output, files and processes (issue 8, sections 4-5):
# exact messages and exit statuses of the real programs.
#
#   safety.sh ATTRACE MKTRACE ATTRACE_SIM ATTRACE_EXTCAP SRCDIR WORKDIR
#
# Needs: bash, coreutils, python3, openssl.

set -u

if [ $# -ne 6 ]; then
    echo "usage: $0 ATTRACE MKTRACE ATTRACE_SIM ATTRACE_EXTCAP SRCDIR WORKDIR" >&2
    exit 2
fi
ATTRACE=$1
MKTRACE=$2
SIM=$3
EXTCAP=$4
SRC=$5
WORK=$6

rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
export LC_ALL=C

pass=0
fail=0
failed_names=()
ok() { pass=$((pass + 1)); echo "ok    $1"; }
bad() {
    fail=$((fail + 1))
    failed_names+=("$1")
    echo "FAIL  $1"
    if [ $# -gt 1 ] && [ -n "$2" ]; then
        printf '%s\n' "$2" | head -n 60 | cat -v | sed 's/^/      | /'
    fi
}
# expect NAME WANT_RC WANT_STDERR_LINE CMD...: exit status and one exact
# line of standard error.
expect() {
    local name=$1 want_rc=$2 want_line=$3 rc
    shift 3
    "$@" > "$WORK/out" 2> "$WORK/err" < /dev/null
    rc=$?
    if [ $rc -eq "$want_rc" ] && grep -q -x -F -- "$want_line" "$WORK/err"; then
        ok "$name"
    else
        bad "$name" "exit $rc (want $want_rc); want the line: $want_line"$'\n'"stderr: $(cat "$WORK/err")"
    fi
}
# no_controls NAME FILE: no byte below 0x20 but LF, no DEL, nothing >= 0x80.
no_controls() {
    if LC_ALL=C grep -q -P '[\x00-\x09\x0b-\x1f\x7f-\xff]' "$2"; then
        bad "$1" "raw control or non-ASCII bytes in: $(cat "$2")"
    else
        ok "$1"
    fi
}

# ------------------------------------------------------------------
# Names and option values in messages are escaped like trace text.
# ------------------------------------------------------------------
ESCNAME=$WORK/$'evil\e]0;owned\a\e[2J.pcap'
expect "a trace file name with ESC sequences is escaped in the message" 3 \
    "attrace: $WORK/evil\\x1B]0;owned\\x07\\x1B[2J.pcap: No such file or directory" \
    "$ATTRACE" decode "$ESCNAME"
no_controls "  ... and standard error holds no control byte" "$WORK/err"
expect "an option value with ESC sequences is escaped (decode --color)" 2 \
    "attrace decode: invalid --color value '\\x1B[31mred' (auto, always or never)" \
    "$ATTRACE" decode $'--color=\e[31mred' x.pcap
expect "an unknown command with ESC and bidi override is escaped" 2 \
    "attrace: unknown command '\\x1B[2J\\xE2\\x80\\xAEabc'" \
    "$ATTRACE" $'\e[2J\xe2\x80\xaeabc'
expect "encode: an output name with ESC is escaped" 1 \
    "attrace encode: $WORK/nodir/\\x1B[2J.bin: No such file or directory" \
    "$ATTRACE" encode delete --index 1 --sig none --profile newer -o "$WORK/nodir/"$'\e[2J.bin'
expect "attrace-sim: a store name with ESC is escaped" 1 \
    "attrace-sim: cannot create the store directory $WORK/nodir/\\x1B[2Jstore: No such file or directory" \
    "$SIM" --store "$WORK/nodir/"$'\e[2Jstore'
expect "attrace-extcap: an option value with ESC is escaped" 2 \
    "attrace-extcap: --baud: \"\\x1B[2J\" is not a rate in 50..4000000" \
    "$EXTCAP" --extcap-interface attrace-path --capture --fifo "$WORK/x" --device /dev/null --baud $'\e[2J'
expect "attrace capture: an option value with ESC is escaped" 2 \
    "attrace capture: --baud: '\\x1B[2J' is not a baud rate" \
    "$ATTRACE" capture --module /dev/null --baud $'\e[2J' -w "$WORK/x.pcap"
# The simulator's log echoes its store directory: escaped there too.
"$SIM" --store "$WORK/"$'st\e[2Jore' --log "$WORK/sim.log" > "$WORK/sim.out" 2>&1 &
simpid=$!
for _ in $(seq 1 200); do grep -q 'module on' "$WORK/sim.out" && break; sleep 0.1; done
kill -TERM $simpid
wait $simpid
if grep -q -F "store $WORK/st\\x1B[2Jore, on " "$WORK/sim.log"; then
    ok "attrace-sim: the log escapes the store name"
else
    bad "attrace-sim: the log escapes the store name" "$(cat "$WORK/sim.log")"
fi
no_controls "  ... and the log holds no control byte" "$WORK/sim.log"
# The damaged trace's message in the text summary (standard output).
printf '> AT\\r\n< OK\\r\n' > "$WORK/two.script"
"$MKTRACE" "$WORK/two.script" "$WORK/two.pcap"
DAMAGED=$WORK/$'dam\e[2Jaged.pcap'
head -c $(( $(stat -c %s "$WORK/two.pcap") - 2 )) "$WORK/two.pcap" > "$DAMAGED"
"$ATTRACE" decode --color=never "$DAMAGED" > "$WORK/dam.out" 2> "$WORK/dam.err"
if [ $? -eq 3 ] && grep -q -F "Stopped early: $WORK/dam\\x1B[2Jaged.pcap: record 2: " "$WORK/dam.out"; then
    ok "the text summary's 'Stopped early' escapes the file name"
else
    bad "the text summary's 'Stopped early' escapes the file name" "$(cat "$WORK/dam.out" "$WORK/dam.err")"
fi
no_controls "  ... and standard output holds no control byte" "$WORK/dam.out"

# ------------------------------------------------------------------
# JSON: lossless text (byte E9 and bytes C3 A9 differ), C1 controls and
# bidi overrides escaped, a summary even when the trace cannot be opened.
# ------------------------------------------------------------------
printf '%s\n' '< \r\ncaf\xE9\r\n' '< \r\ncaf\xC3\xA9\r\n' \
    '< \r\nA\xC2\x85B\xE2\x80\xAEC\xE2\x81\xA6D\xC2\xA0\r\n' \
    '> AT+X="\xE9",1\r' '< AT+X="\xE9",1\r\r\nOK\r\n' '! note n\xE9' > "$WORK/utf8.script"
"$MKTRACE" "$WORK/utf8.script" "$WORK/utf8.pcap"
"$ATTRACE" decode --json "$WORK/utf8.pcap" > "$WORK/utf8.json" 2> "$WORK/utf8.err"
if msg=$(python3 - "$WORK/utf8.json" <<'PYEOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
objs = [json.loads(l) for l in raw.decode("utf-8").splitlines()]
un = [o for o in objs if o["type"] == "unexpected"]
ex = [o for o in objs if o["type"] == "exchange"][0]
note = [o for o in objs if o["type"] == "trace_event"][0]
want = [
    ((un[0]["text"], un[0].get("text_hex")), ("caf\ufffd", "636166e9")),
    ((un[1]["text"], un[1].get("text_hex")), ("caf\u00e9", None)),
    (un[2]["text"], "A\u0085B\u202eC\u2066D\u00a0"),
    ((ex["command"], ex["command_hex"]), ('AT+X="\ufffd",1', "41542b583d22e9222c31")),
    ((ex["echo"], ex["echo_hex"]), ('AT+X="\ufffd",1', "41542b583d22e9222c31")),
    ((ex["commands"][0]["params"], ex["commands"][0]["params_hex"]), (["\ufffd", "1"], ["e9", None])),
    ("command_hex" in ex and "echo_hex" in ex and "params_hex" in ex["commands"][0], True),
    ((note["text"], note["text_hex"]), ("n\ufffd", "6ee9")),
    # escaped in the bytes written, not raw: C1 and bidi; NBSP stays
    ([m in raw for m in (b"A\\u0085B\\u202EC\\u2066D\xc2\xa0",)], [True]),
    ([m in raw for m in (b"\xc2\x85", b"\xe2\x80\xae", b"\xe2\x81\xa6")], [False, False, False]),
]
bad = ["got %r, want %r" % (g, w) for g, w in want if g != w]
if bad:
    print("\n".join(bad))
    sys.exit(1)
PYEOF
); then
    ok "JSON: invalid UTF-8 keeps its bytes (_hex), E9 and C3 A9 differ; C1 and bidi escaped"
else
    bad "JSON: invalid UTF-8 keeps its bytes (_hex), E9 and C3 A9 differ; C1 and bidi escaped" "$msg"
fi
"$ATTRACE" decode --json "$WORK/no-such.pcap" > "$WORK/open.json" 2> "$WORK/open.err"
rc=$?
want='{"type":"summary","records":0,"channels":0,"bytes":{"te_to_me":0,"me_to_te":0},"exchanges":0,"errors":0,"unanswered":0,"urcs":0,"frames":0,"frames_with_problems":0,"invalid":0,"unexpected":0,"trace_events":0,"skipped_records":0,"findings":{"error":0,"warning":0,"info":0},"complete":false,"error":"'"$WORK"'/no-such.pcap: No such file or directory"}'
if [ $rc -eq 3 ] && [ "$(cat "$WORK/open.json")" = "$want" ]; then
    ok "JSON: a trace that cannot be opened still ends with a summary (complete: false)"
else
    bad "JSON: a trace that cannot be opened still ends with a summary (complete: false)" "exit $rc; stdout: $(cat "$WORK/open.json")"
fi

# ------------------------------------------------------------------
# attrace encode: -o never follows a symlink; messages.
# ------------------------------------------------------------------
E=$WORK/enc
mkdir -p "$E"
printf 'keep\n' > "$E/target"
chmod 0644 "$E/target"
ln -s "$E/target" "$E/link.bin"
expect "encode -o SYMLINK: refused, exit 1" 1 \
    "attrace encode: $E/link.bin: is a symbolic link; refusing to write through it (the output may hold private keys)" \
    "$ATTRACE" encode delete --index 1 --sig none --profile newer -o "$E/link.bin"
if [ "$(cat "$E/target")" = keep ] && [ "$(stat -c %a "$E/target")" = 644 ]; then
    ok "  ... the link's target keeps its bytes and its mode"
else
    bad "  ... the link's target keeps its bytes and its mode" "$(stat -c '%a %s' "$E/target")"
fi
openssl ecparam -name prime256v1 -genkey -noout -out "$E/ec.pem" 2> /dev/null
openssl genrsa -out "$E/rsa512.pem" 512 2> /dev/null
expect "encode: an EC signing key is named without a wrong article" 3 \
    "attrace encode: $E/ec.pem: key type EC; the module checks RSA signatures only" \
    "$ATTRACE" encode delete --index 1 --key "$E/ec.pem" --imei 358240051111110 -o "$E/ec.bin"
expect "encode: an RSA key under 1024 bits gets a warning" 0 \
    "attrace encode: warning: $E/rsa512.pem: an RSA key of 512 bits, under 1024: it can be broken; use 2048 bits or more" \
    "$ATTRACE" encode delete --index 1 --key "$E/rsa512.pem" --imei 358240051111110 -o "$E/rsa512.bin"
LONG=$(head -c 70000 /dev/zero | tr '\0' 1)
expect "encode: a 70,000-digit --imei is quoted in part" 2 \
    "attrace encode: refused: IMEI '11111111111111111111...' (70000 characters) is not 15 digits (--force writes it anyway)" \
    "$ATTRACE" encode delete --index 1 --sig none --profile newer --imei "$LONG" -o "$E/long.bin"
if [ "$(wc -c < "$WORK/err")" -lt 300 ]; then ok "  ... and the message stays short"
else bad "  ... and the message stays short" "$(wc -c < "$WORK/err") bytes"; fi

# ------------------------------------------------------------------
# attrace-sim and attrace capture open their outputs before they announce
# the PTY (its path, the --link): -w is a FIFO, whose open blocks until a
# reader comes, so what they publish before that is visible. --log to a
# full device is an error.
# ------------------------------------------------------------------
if msg=$(python3 - "$SIM" "$ATTRACE" "$WORK" 2>&1 <<'PYEOF'
import os, pty, signal, subprocess, sys, threading, time
sim, attrace, work = sys.argv[1:4]
errors = []

def check(prog, argv, link, announce_stream, announce):
    fifo = os.path.join(work, prog + ".fifo")
    os.mkfifo(fifo)
    p = subprocess.Popen(argv + ["--link", link, "-w", fifo], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(0.5)  # still blocked in the open of the FIFO: nothing published
    early_link = os.path.lexists(link)
    got = b""
    fd = os.open(fifo, os.O_RDONLY)  # now the open can finish
    drain = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(fd, 65536), b"")])
    drain.start()
    stream = p.stdout if announce_stream == "stdout" else p.stderr
    deadline = time.time() + 20
    while time.time() < deadline and announce not in got:
        got += stream.readline()
    late_link = os.path.lexists(link)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    drain.join(timeout=20)
    os.close(fd)
    if early_link:
        errors.append("%s: --link made before the -w output was open" % prog)
    if announce not in got or not late_link:
        errors.append("%s: no %r / link once the output was open: %r" % (prog, announce, got))
    if p.returncode != 0:
        errors.append("%s: exit %d after SIGTERM" % (prog, p.returncode))

check("attrace-sim", [sim, "--store", os.path.join(work, "simstore")],
      os.path.join(work, "sim.link"), "stdout", b"attrace-sim: module on ")
master, slave = pty.openpty()
check("attrace-capture", [attrace, "capture", "-q", "--module", os.ttyname(slave)],
      os.path.join(work, "cap.link"), "stderr", b"attrace capture: host side on ")
os.close(master)
os.close(slave)
sys.exit("\n".join(errors) or None)  # the message on stderr, exit 1
PYEOF
); then
    ok "attrace-sim and attrace capture publish the PTY only once -w is open"
else
    bad "attrace-sim and attrace capture publish the PTY only once -w is open" "$msg"
fi
timeout 20 "$SIM" --store "$WORK/simstore" --log /dev/full > "$WORK/out" 2> "$WORK/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$WORK/out" ] &&
   grep -q -x -F "attrace-sim: --log /dev/full: No space left on device: log lines are lost" "$WORK/err"; then
    ok "attrace-sim --log /dev/full: exit 1 with the reason, no module announced"
else
    bad "attrace-sim --log /dev/full: exit 1 with the reason, no module announced" \
        "exit $rc; stdout: $(cat "$WORK/out"); stderr: $(cat "$WORK/err")"
fi

# ------------------------------------------------------------------
# attrace capture --exec 'a && b': SIGINT/SIGTERM reach every process of
# the program, the exit status is the program's (128+N for signal N), and
# a killed capture (SIGKILL) leaves nothing running.
# ------------------------------------------------------------------
if msg=$(python3 - "$ATTRACE" "$WORK" 2>&1 <<'PYEOF'
import os, pty, signal, subprocess, sys, time
attrace, work = sys.argv[1:3]
errors = []

def pids_of(tag):
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if f.read() == b"sleep\0" + tag.encode() + b"\0":
                        found.append(int(d))
            except OSError:
                pass
    return found

def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()

master, slave = pty.openpty()
for n, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGKILL)):
    tag = "%d.%d" % (300 + n, os.getpid() % 1000)  # unique sleep argument
    mark = os.path.join(work, "ran-b-%d" % n)
    p = subprocess.Popen([attrace, "capture", "-q", "--module", os.ttyname(slave), "--exec",
                          "sleep %s && touch %s" % (tag, mark),
                          "-w", os.path.join(work, "exec-%d.pcap" % n)],
                         stderr=subprocess.PIPE)
    if not wait_for(lambda: pids_of(tag), 20):
        errors.append("%s: the program did not start" % sig.name)
        p.kill()
        p.wait()
        continue
    p.send_signal(sig)
    rc = p.wait(timeout=30)
    gone = wait_for(lambda: not pids_of(tag), 10)
    if not gone:
        errors.append("%s: 'sleep' of 'sleep && touch' still runs after the capture ended"
                      % sig.name)
        for pid in pids_of(tag):
            os.kill(pid, signal.SIGKILL)
    want = -9 if sig == signal.SIGKILL else 128 + sig
    if rc != want:
        errors.append("%s: exit status %d, want %d" % (sig.name, rc, want))
    if os.path.exists(mark):
        errors.append("%s: the second command ran" % sig.name)
os.close(master)
os.close(slave)
sys.exit("\n".join(errors) or None)  # the message on stderr, exit 1
PYEOF
); then
    ok "capture --exec 'a && b': SIGINT, SIGTERM reach the whole group (exit 130, 143); SIGKILL leaves nothing"
else
    bad "capture --exec 'a && b': SIGINT, SIGTERM reach the whole group (exit 130, 143); SIGKILL leaves nothing" "$msg"
fi

# ------------------------------------------------------------------
echo "safety: $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    printf 'failed: %s\n' "${failed_names[@]}"
    exit 1
fi
exit 0
