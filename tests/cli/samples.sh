#!/bin/bash
# What the committed samples show: each samples/*.pcap is decoded with
# `attrace decode --json` and compared with its line in
# samples/expected-findings.txt: the exact list of finding rule ids, in
# order, and the decoded values named after the "|". A committed sample
# without a line, a line without a sample, and an empty table all fail.
# The findings' full text (severity, rule, byte, what, fix; no timestamps)
# must also equal tests/cli/golden/samples-findings.txt exactly;
# UPDATE_GOLDEN=1 rewrites that file after samples/regenerate.sh (review
# the diff: it is what users will read).
#
#   samples.sh ATTRACE SRCDIR
#
# Values (each compared exactly; lists are comma-separated, in trace order):
#   secure=RESULT/FINAL,...  every AT^SBNW exchange: its secure-command
#                            result (end_ok, too_many_data, ...) and final
#                            result kind (OK, ERROR)
#   frames=TOTALLEN/BYTES,.. every frame: TotalLen and the bytes present
#   imei=DIGITS              the IMEI the module answered to AT+CGSN
#   stored=N                 certificates in the last ^SBNR listing
#   sis=INFO,...             the info ids of the ^SIS URCs
#   ciev=N                   +CIEV: is_cert URCs
#   sisr=N                   data bytes the module delivered with ^SISR
#
# Needs: bash, python3.
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 ATTRACE SRCDIR" >&2
    exit 2
fi
ATTRACE=$1
SRC=$2

python3 - "$ATTRACE" "$SRC" <<'EOF'
import json, os, subprocess, sys

attrace, src = sys.argv[1], sys.argv[2]
samples = os.path.join(src, "samples")
table = os.path.join(samples, "expected-findings.txt")

expected = {}
with open(table) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        if not sep:
            sys.exit(f"{table}:{n}: no ':' in {line!r}")
        rules, _, values = rest.partition("|")
        vals = {}
        for item in values.split():
            k, eq, v = item.partition("=")
            if not eq:
                sys.exit(f"{table}:{n}: value {item!r} is not KEY=VALUE")
            vals[k] = v
        if name.strip() in expected:
            sys.exit(f"{table}:{n}: {name.strip()} listed twice")
        expected[name.strip()] = (rules.split(), vals)


def decoded_values(objs):
    ex = [o for o in objs if o["type"] == "exchange"]
    urcs = [o for o in objs if o["type"] == "urc"]
    frames = [o for o in objs if o["type"] == "frame"]
    v = {}
    v["secure"] = ",".join(
        f'{(e["secure_result"] or {}).get("result")}/{(e["final"] or {}).get("kind")}'
        for e in ex if e["secure"])
    v["frames"] = ",".join(f'{f["total_len"]}/{f["bytes_present"]}' for f in frames)
    imeis = [r["imei"] for e in ex if e["command"] == "AT+CGSN"
             for r in e["responses"] if r.get("kind") == "imei"]
    v["imei"] = ",".join(imeis)
    listings = [e for e in ex if e["command"].upper().startswith("AT^SBNR")]
    v["stored"] = str(sum(r.get("entry") == "certificate"
                          for r in listings[-1]["responses"])) if listings else "none"
    v["sis"] = ",".join(str(u["info_id"]) for u in urcs if u.get("kind") == "sis")
    v["ciev"] = str(sum(u.get("kind") == "ciev_is_cert" for u in urcs))
    v["sisr"] = str(sum(e["payload_bytes"]["me_to_te"] for e in ex
                        if e["command"].upper().startswith("AT^SISR")))
    return v


fails = 0
checked = 0
finding_text = []
committed = sorted(f[:-5] for f in os.listdir(samples) if f.endswith(".pcap"))
for name in committed:
    if name not in expected:
        print(f"FAIL  {name}.pcap is committed but has no line in {table}")
        fails += 1
        continue
    want_rules, want_vals = expected[name]
    p = subprocess.run([attrace, "decode", "--json", os.path.join(samples, name + ".pcap")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(f"FAIL  {name}: attrace decode exited {p.returncode}: {p.stderr.strip()}")
        fails += 1
        continue
    objs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    summary = objs[-1] if objs and objs[-1]["type"] == "summary" else None
    problems = []
    if not summary or not summary["complete"]:
        problems.append("the trace did not decode completely")
    rules = [o["rule"] for o in objs if o["type"] == "finding"]
    finding_text.append(f"{name}:")
    for o in objs:
        if o["type"] == "finding":
            finding_text.append(f'  {o["severity"]} {o["rule"]} at {o["dir"]}+{o["offset"]}'
                                f' (exchange {o["exchange"] or "-"}): {o["what"]}')
            finding_text.append(f'    fix: {o["fix"]}')
    if rules != want_rules:
        problems.append(f"findings {rules} != expected {want_rules}")
    got = decoded_values(objs)
    for k, v in want_vals.items():
        if k not in got:
            problems.append(f"unknown value {k!r} in the table")
        elif got[k] != v:
            problems.append(f"{k}={got[k]} != expected {k}={v}")
    if problems:
        fails += 1
        print(f"FAIL  {name}")
        for m in problems:
            print(f"      | {m}")
    else:
        checked += 1
        print(f"ok    {name}: {' '.join(rules) or 'no finding'}"
              + "".join(f" {k}={v}" for k, v in want_vals.items()))
for name in sorted(set(expected) - set(committed)):
    print(f"FAIL  {name} is in {table} but samples/{name}.pcap is not committed")
    fails += 1
golden = os.path.join(src, "tests", "cli", "golden", "samples-findings.txt")
text = "\n".join(finding_text) + "\n"
if os.environ.get("UPDATE_GOLDEN") == "1":
    with open(golden, "w") as f:
        f.write(text)
    print(f"wrote {golden}")
try:
    with open(golden) as f:
        want_text = f.read()
except OSError as e:
    want_text = None
    print(f"FAIL  {golden}: {e}")
    fails += 1
if want_text is not None and want_text != text:
    import difflib
    print(f"FAIL  the findings' text differs from {golden}:")
    for l in difflib.unified_diff(want_text.splitlines(), text.splitlines(),
                                  "golden", "decoded", lineterm=""):
        print(f"      | {l}")
    fails += 1
elif want_text is not None:
    checked += 1
    print(f"ok    findings text equals {os.path.relpath(golden, src)}")
if checked + fails == 0:
    print("FAIL  no samples to check")
    fails = 1
print(f"samples: {checked} passed, {fails} failed")
sys.exit(1 if fails else 0)
EOF
