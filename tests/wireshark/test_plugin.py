#!/usr/bin/env python3
"""tshark with the attrace plugin from the build tree, on every sample.

Usage: test_plugin.py PLUGIN_DIR ATTRACE SAMPLES_DIR WORKDIR [MKTRACE] [--update] [--mutations N]

PLUGIN_DIR is the folder holding 4.0/epan/attrace.so. tshark never runs as
root here: it ignores WIRESHARK_PLUGIN_DIR then, so as root it runs in a
new user namespace (`unshare -U`, where it is nobody).

1. Golden `-T fields` output per field family (tests/wireshark/golden/).
2. Equivalence with `attrace decode --json`, on every sample and on the
   trace of every tests/cli/cases script (built by MKTRACE): the findings
   (rule, severity, stream, offset), the frames (TotalLen, CmdId,
   ParamNum, index, IMEI, certificate thumbprint, signature verdict,
   problems), the ^SBNR entries; and a trace re-cut into 1-byte records
   gives the same field values.
3. Display filters select exactly the right packets; `-z expert` lists
   the findings; `-z attrace,tree` counts what the JSON counts; one pass
   and `-2` agree on the packets that complete elements.
4. Mutated samples (bit flips, cuts) are dissected without a crash.
"""

import json
import os
import random
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from simlib import Fail, TestRunner, check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")

args = [a for a in sys.argv[1:] if not a.startswith("--")]
PLUGIN_DIR, ATTRACE, SAMPLES, WORK = args[:4]
# attrace-mktrace: the traces of tests/cli/cases join the samples in the
# equivalence test.
MKTRACE = args[4] if len(args) > 4 else None
CASES = os.path.join(HERE, "..", "cli", "cases")
UPDATE = "--update" in sys.argv
MUTATIONS = 3
for a in sys.argv[1:]:
    if a.startswith("--mutations="):
        MUTATIONS = int(a.split("=", 1)[1])

FAMILIES = {
    "record": ["attrace.dir", "attrace.channel", "attrace.event", "attrace.baud",
               "attrace.note", "attrace.settings"],
    "at": ["attrace.exchange", "attrace.cmd", "attrace.echo", "attrace.resp",
           "attrace.urc", "attrace.result", "attrace.duration", "attrace.secure.result",
           "attrace.imei"],
    "frame": ["attrace.frame.totallen", "attrace.frame.cmdid", "attrace.frame.paramnum",
              "attrace.frame.index", "attrace.frame.imei", "attrace.frame.problem",
              "attrace.unit.paramid", "attrace.unit.paramlen", "attrace.key.size",
              "attrace.key.type", "attrace.signature.matches", "attrace.signature.digest"],
    "cert": ["attrace.cert.size", "attrace.cert.issuer", "attrace.cert.subject",
             "attrace.cert.serial", "attrace.cert.sigalg", "attrace.cert.thumbprint",
             "attrace.cert.expiry", "attrace.sbnr.index", "attrace.ciev.srv"],
    "sis": ["attrace.sis.srv", "attrace.sis.cause", "attrace.sis.info", "attrace.sis.text"],
    "finding": ["attrace.finding.rule", "attrace.finding.severity",
                "attrace.finding.dir", "attrace.finding.offset",
                "attrace.finding.what", "attrace.finding.fix"],
}


HOME = os.path.join(WORK, "home")
os.makedirs(HOME, exist_ok=True)
# No extcap programs: -G plugins would run them (and they hang with the
# sanitizer runtimes preloaded).
EXTCAP_DIR = os.path.join(WORK, "no-extcaps")
os.makedirs(EXTCAP_DIR, exist_ok=True)
ENV = dict(os.environ, WIRESHARK_PLUGIN_DIR=PLUGIN_DIR, WIRESHARK_EXTCAP_DIR=EXTCAP_DIR,
           HOME=HOME, XDG_CONFIG_HOME=HOME, LC_ALL="C.UTF-8")
if os.environ.get("ATTRACE_TSHARK_PRELOAD"):
    # A sanitizer build of the plugin: its runtimes go into tshark only.
    ENV["LD_PRELOAD"] = os.environ["ATTRACE_TSHARK_PRELOAD"]
PREFIX = ["unshare", "-U"] if os.geteuid() == 0 else []


def tshark(*a, ok=True, timeout=120):
    p = subprocess.run(PREFIX + ["tshark"] + list(a), capture_output=True, env=ENV,
                       timeout=timeout)
    if ok and (p.returncode != 0 or b"Dissector bug" in p.stderr):
        raise Fail(f"tshark {' '.join(a)} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


def fields(path, names, extra=(), two_pass=True):
    a = ["-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    if two_pass:
        a.insert(0, "-2")
    for n in names:
        a += ["-e", n]
    out = tshark(*(list(a) + list(extra))).stdout.decode()
    return [line.split("\t") for line in out.splitlines()]


def decode_json(path):
    p = subprocess.run([ATTRACE, "decode", "--json", path], capture_output=True, timeout=60)
    check(p.returncode == 0, f"attrace decode --json {path}: {p.returncode}")
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def samples():
    return sorted(f for f in os.listdir(SAMPLES) if f.endswith(".pcap"))


# ---------------------------------------------------------------- pcap re-cut

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    check(magic in (0xa1b23c4d, 0xa1b2c3d4), f"{path}: not a little-endian pcap")
    recs, off = [], 24
    while off + 16 <= len(data):
        ts_s, ts_f, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append((ts_s, ts_f, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], recs


def write_pcap(path, head, recs):
    with open(path, "wb") as f:
        f.write(head)
        for ts_s, ts_f, pkt in recs:
            f.write(struct.pack("<IIII", ts_s, ts_f, len(pkt), len(pkt)))
            f.write(pkt)


def split_record(pkt):
    """(TLVs + pseudo-header, payload) of an attrace record."""
    off = 0
    while True:
        tag, ln = struct.unpack(">HH", pkt[off:off + 4])
        off += 4 + ln
        if tag == 0:
            break
    return pkt[:off + 12], pkt[off + 12:], pkt[off + 1]


def recut(src, dst):
    head, recs = read_pcap(src)
    out = []
    for ts_s, ts_f, pkt in recs:
        hdr, payload, event = split_record(pkt)
        if event == 0 and len(payload) > 1:
            out += [(ts_s, ts_f, hdr + payload[i:i + 1]) for i in range(len(payload))]
        else:
            out.append((ts_s, ts_f, pkt))
    write_pcap(dst, head, out)
    return len(out)


# ---------------------------------------------------------------- tests

def test_golden():
    for s in samples():
        path = os.path.join(SAMPLES, s)
        text = []
        for fam, names in FAMILIES.items():
            text.append(f"## {fam}: frame.number " + " ".join(names))
            for row in fields(path, ["frame.number"] + names):
                if any(row[1:]):
                    text.append("\t".join(row))
        text = "\n".join(text) + "\n"
        gold = os.path.join(GOLDEN, s.replace(".pcap", ".fields"))
        if UPDATE:
            with open(gold, "w") as f:
                f.write(text)
            continue
        with open(gold) as f:
            want = f.read()
        if text != want:
            got = os.path.join(WORK, s.replace(".pcap", ".fields"))
            with open(got, "w") as f:
                f.write(text)
            raise Fail(f"{s}: -T fields output differs from {gold} (got {got})")


def equivalence_traces():
    """(name, path): every sample, and the trace of every tests/cli/cases
    script that needs no decode option (attrace-mktrace builds it)."""
    out = [(s, os.path.join(SAMPLES, s)) for s in samples()]
    if not MKTRACE:
        return out
    for name in sorted(os.listdir(CASES)):
        src = os.path.join(CASES, name)
        if not name.endswith(".txt"):
            continue
        with open(src) as f:
            if any(line.startswith("# attrace-flags:") for line in f):
                continue
        dst = os.path.join(WORK, "case-" + name[:-4] + ".pcap")
        p = subprocess.run([MKTRACE, src, dst], capture_output=True, timeout=60)
        check(p.returncode == 0, f"attrace-mktrace {name}: {p.stderr.decode(errors='replace')}")
        out.append((name, dst))
    return out


def test_equivalence():
    traces = equivalence_traces()
    check(len(traces) > len(samples()) + 10 or not MKTRACE, "too few tests/cli/cases traces")
    for s, path in traces:
        js = decode_json(path)
        want = [(o["rule"], o["severity"], 0 if o["dir"] == "te_to_me" else 1, o["offset"])
                for o in js if o["type"] == "finding"]
        got = []
        for row in fields(path, ["attrace.finding.rule", "attrace.finding.severity",
                                 "attrace.finding.dir", "attrace.finding.offset"]):
            if row[0]:
                for r, sv, d, o in zip(*(c.split("|") for c in row)):
                    got.append((r, sv, int(d), int(o)))
        check(sorted(got) == sorted(want), f"{s}: findings {got} != attrace decode {want}")

        frames = [o for o in js if o["type"] == "frame"]
        want_frames = []
        for o in frames:
            units = {u["name"]: u for u in o.get("units", [])}
            cert = o.get("certificate") or {}
            sig = o.get("signature") or {}
            want_frames.append((
                str(o["total_len"]), str(o["cmd_id"]), str(o["param_num"]),
                str(units["index"]["value"]) if "index" in units else "",
                units["imei"]["value"] if "imei" in units and isinstance(units["imei"]["value"], str) else "",
                cert.get("thumbprint") or "",
                {True: "1", False: "0", None: ""}[sig.get("matches")]))
        got_frames = []
        for row in fields(path, ["attrace.frame.totallen", "attrace.frame.cmdid",
                                 "attrace.frame.paramnum", "attrace.frame.index",
                                 "attrace.frame.imei", "attrace.cert.thumbprint",
                                 "attrace.signature.matches"],
                          extra=["-Y", "attrace.frame.totallen"]):
            row = [c.split("|") for c in row]
            for i in range(len(row[0])):
                got_frames.append(tuple(c[i] if i < len(c) else "" for c in row))
        # tshark prints booleans as True/False in 4.0 fields output.
        got_frames = [tuple({"True": "1", "False": "0"}.get(v, v) for v in r) for r in got_frames]
        check(got_frames == want_frames, f"{s}: frames {got_frames} != {want_frames}")
        # The frame problems, in file order: the tree decodes a frame again
        # with the limits the session used (the profile guess included).
        want_problems = [p["name"] for o in frames for p in o.get("problems", [])]
        got_problems = [v for row in fields(path, ["attrace.frame.problem"],
                                            extra=["-Y", "attrace.frame.totallen"])
                        for v in row[0].split("|") if v]
        check(got_problems == want_problems,
              f"{s}: frame problems {got_problems} != attrace decode {want_problems}")

        want_sbnr = []
        for o in js:
            if o["type"] == "exchange":
                for r in o.get("responses", []):
                    if r.get("kind") == "sbnr" and r.get("entry") == "certificate":
                        want_sbnr.append((str(r["index"]), r["thumbprint"]))
        got_sbnr = []
        for row in fields(path, ["attrace.sbnr.index", "attrace.sbnr.entry",
                                 "attrace.cert.thumbprint"],
                          extra=["-Y", "attrace.sbnr.index"]):
            idx, ent, th = (c.split("|") for c in row)
            th = iter(th)
            for i, e in zip(idx, ent):
                if e == "certificate":
                    got_sbnr.append((i, next(th)))
        check(got_sbnr == want_sbnr, f"{s}: ^SBNR entries {got_sbnr} != {want_sbnr}")


def test_recut():
    names = ["attrace.cmd", "attrace.resp", "attrace.urc", "attrace.result",
             "attrace.secure.result", "attrace.exchange", "attrace.frame.totallen",
             "attrace.frame.cmdid", "attrace.frame.index", "attrace.cert.thumbprint",
             "attrace.signature.matches", "attrace.sbnr.index", "attrace.sis.info",
             "attrace.finding.rule", "attrace.finding.offset", "attrace.duration"]

    def values(path):
        """Per field, every value in file order (packet grouping aside)."""
        out = [[] for _ in names]
        for row in fields(path, names):
            for k, cell in enumerate(row):
                out[k] += [v for v in cell.split("|") if v != ""]
        return out

    for s in samples():
        src = os.path.join(SAMPLES, s)
        dst = os.path.join(WORK, "recut-" + s)
        n = recut(src, dst)
        check(n > len(read_pcap(src)[1]), f"{s}: re-cut made no extra records")
        a, b = values(src), values(dst)
        for k, name in enumerate(names):
            check(a[k] == b[k], f"{s}: {name} differs after re-cutting into 1-byte records: "
                                f"{a[k]} vs {b[k]}")
        check(a[0], f"{s}: no command decoded")


def frames_matching(path, flt):
    return [int(r[0]) for r in fields(path, ["frame.number"], extra=["-Y", flt])]


def test_filters():
    p = lambda s: os.path.join(SAMPLES, s)
    # The packet that completes the frame (the module's answer ends it).
    check(frames_matching(p("other-imei.pcap"), 'attrace.finding.rule == "imei_mismatch"') == [11],
          "imei_mismatch filter")
    check(frames_matching(p("provisioning-ok.pcap"), 'attrace.finding.rule') == [],
          "provisioning-ok has no finding")
    for s in samples():
        js = decode_json(p(s))
        writes = [o for o in js if o["type"] == "frame" and o.get("cmd_id") == 1]
        got = frames_matching(p(s), "attrace.frame.cmdid == 1")
        check(len(got) == len(writes), f"{s}: cmdid == 1 selects {got}, JSON has {len(writes)} WRITEs")
        bad = [o for o in js if o["type"] == "frame" and (o.get("signature") or {}).get("matches") is False]
        got = frames_matching(p(s), "attrace.signature.matches == 0")
        check(len(got) == len(bad), f"{s}: signature.matches == 0 selects {got}, JSON has {len(bad)}")
    check(frames_matching(p("wrong-key.pcap"), "attrace.signature.matches == 0") == [15],
          "wrong-key: the second WRITE's signature does not match")


def test_client_cert_pref():
    """The client certificate preference verifies a signature the trace
    alone cannot (the certificate is not written in it), PEM or DER."""
    path = os.path.join(SAMPLES, "server-before-client.pcap")
    checked = "attrace.signature.checked == 1"
    check(frames_matching(path, checked) == [], "server-before-client: no signature checked")
    for name in ("client.crt.pem", "client.crt.der"):
        pref = ["-o", "attrace.client_cert:" + os.path.join(SAMPLES, "keys", name)]
        rows = fields(path, ["frame.number", "attrace.signature.matches",
                             "attrace.signature.key_source"], extra=["-Y", checked] + pref)
        check(len(rows) == 1 and rows[0][1:] == ["1", "--client-cert"],
              f"client_cert preference {name}: checked signatures {rows}")


def test_expert_and_stats():
    for s in samples():
        path = os.path.join(SAMPLES, s)
        js = decode_json(path)
        out = tshark("-2", "-q", "-r", path, "-z", "expert").stdout.decode()
        for o in js:
            if o["type"] == "finding":
                check(o["rule"] + ": " + o["what"][:60] in out,
                      f"{s}: -z expert does not list {o['rule']}:\n{out}")
        out = tshark("-2", "-q", "-r", path, "-z", "attrace,tree").stdout.decode()
        check("Exchanges by command" in out and "Findings by rule" in out,
              f"{s}: -z attrace,tree:\n{out}")
        counts = {}
        for line in out.splitlines():
            m = re.match(r"^ ?(\S.*?)\s{2,}(\d+)\s", line)
            if m:
                counts[m.group(1)] = int(m.group(2))
        n_x = sum(1 for o in js if o["type"] == "exchange")
        check(counts.get("Exchanges by command") == n_x, f"{s}: {n_x} exchanges, tree says {counts}")
        check(counts.get("Final results") == n_x, f"{s}: {n_x} final results, tree says {counts}")
        n_f = sum(1 for o in js if o["type"] == "finding")
        check(counts.get("Findings by rule") == n_f, f"{s}: {n_f} findings, tree says {counts}")
        for o in js:
            if o["type"] == "finding":
                check(counts.get(o["rule"], 0) >= 1, f"{s}: tree lacks {o['rule']}")
        ends = sum(1 for o in js if o["type"] == "exchange" and o["secure_result"] == "end_ok")
        if ends:
            check(counts.get("end_ok") == ends, f"{s}: end_ok {ends} vs {counts}")


def test_one_pass():
    # Packets that complete elements show the same fields in one pass and two.
    names = ["attrace.cmd", "attrace.resp", "attrace.result", "attrace.frame.totallen",
             "attrace.cert.thumbprint", "attrace.finding.rule"]
    for s in samples():
        path = os.path.join(SAMPLES, s)
        a = fields(path, ["frame.number"] + names, two_pass=False)
        b = fields(path, ["frame.number"] + names)
        check(a == b, f"{s}: one pass and -2 disagree")


def test_secrets():
    """The client key of provisioning-ok.pcap (samples/keys/client.key.der)
    never shows in the tree or the reassembled data sources unless the
    preference asks for it."""
    with open(os.path.join(SAMPLES, "keys", "client.key.der"), "rb") as f:
        key = f.read()
    with open(os.path.join(SAMPLES, "keys", "client.crt.der"), "rb") as f:
        cert = f.read().hex()
    # The modulus is public: it is in the certificate too.
    windows = {key[i:i + 16].hex() for i in range(0, len(key) - 16, 16)} - \
        {cert[i:i + 32] for i in range(0, len(cert) - 32, 2)}
    check(len(windows) > 20, "too few private windows")
    # The key inside one record of the sample: re-cut so that the frame is
    # reassembled (its own data source) as well.
    dst = os.path.join(WORK, "recut-secret-provisioning-ok.pcap")
    recut(os.path.join(SAMPLES, "provisioning-ok.pcap"), dst)
    # And cut in two inside the key, so that a record starts with key bytes:
    # the exported-PDU dissector's line for a record shows its first bytes.
    inkey = os.path.join(WORK, "split-in-key-provisioning-ok.pcap")
    head, recs = read_pcap(os.path.join(SAMPLES, "provisioning-ok.pcap"))

    def key_record_edited(needle, edit):
        """The sample's records, the one holding @needle replaced by the
        payloads edit(payload, where needle starts) returns."""
        out = []
        for ts_s, ts_f, pkt in recs:
            hdr, payload, _ = split_record(pkt)
            at = payload.find(needle)
            out += [(ts_s, ts_f, hdr + p) for p in edit(payload, at)] if at >= 0 \
                else [(ts_s, ts_f, pkt)]
        return out

    out = key_record_edited(key[512:], lambda p, at: [p[:at], p[at:]])
    check(len(out) == len(recs) + 1, "no record of the sample holds the key")
    write_pcap(inkey, head, out)
    # A key unit whose bytes have no key's shape (random, as a key in a
    # format the content scanner does not know), and one the capture cut
    # 12 bytes in (a PKCS#8 header not yet proven by its content): the
    # frame's structure makes their bytes secret.
    rnd = random.Random(5)
    shapeless = bytes(rnd.randrange(256) for _ in key)
    odd = {"raw-key": shapeless, "cut-key": key[:12]}
    odd_windows = {"raw-key": {shapeless[i:i + 16].hex() for i in range(0, len(key) - 16, 16)},
                   "cut-key": {key[:12].hex()}}
    for name, repl in odd.items():
        def replaced(p, at, repl=repl):
            # The random key stands in for the key; the cut one ends the record.
            rest = p[at + len(key):] if len(repl) == len(key) else b""
            return [p[:at] + repl + rest]
        write_pcap(os.path.join(WORK, f"{name}-provisioning-ok.pcap"), head,
                   key_record_edited(key, replaced))

    # Every field the plugin registers, the Info column and the
    # exported-PDU field over the record.
    rows = [line.split("\t") for line in tshark("-G", "fields").stdout.decode().splitlines()]
    names = [r[2] for r in rows if len(r) > 2 and r[0] == "F" and r[2].startswith("attrace.")]
    check(len(names) > 100, f"tshark -G fields lists only {len(names)} attrace fields")
    every_field = [a for n in names + ["_ws.col.Info", "exported_pdu.exported_pdu"]
                   for a in ("-e", n)]

    def leaked(path, *opts, windows=windows, one_pass=False):
        # In a single pass each record is shown as it is fed, before the
        # elements it belongs to complete.
        passes = [] if one_pass else ["-2"]

        out = tshark(*passes, "-r", path, "-T", "fields", "-E", "occurrence=a", *every_field,
                     *opts).stdout.decode()
        tree = tshark(*passes, "-r", path, "-V", *opts).stdout.decode()
        # -x prints every data source; the record's own bytes are the capture's,
        # so only the reassembled and redacted sources are searched.
        # A packet with several data sources prints each under a line
        # "NAME (N bytes):".
        hexd = tshark(*passes, "-r", path, "-x", *opts).stdout.decode()
        reasm = []
        redacted = 0
        source = None
        for line in hexd.splitlines():
            m = re.match(r"^(\S.*) \(\d+ bytes\):$", line)
            if m:
                source = m.group(1)
                redacted += source == "Redacted record"
            elif source in ("Reassembled frame", "Redacted record") and re.match(r"^[0-9a-f]{4}  ", line):
                reasm.append(line[6:53].replace(" ", ""))
            elif not line:
                source = None
        # PDML prints every field's bytes as hex (value="..."), hidden fields
        # too, and JSON every field's value: the attrace fields and the
        # exported-PDU dissector's field over the record print the redacted
        # copy. (Only the frame's own bytes, -x, are the capture's.)
        pdml = tshark(*passes, "-r", path, "-T", "pdml", *opts).stdout.decode()
        # Every field's value, and the bytes of every item as hex, the
        # protocol item's too (attrace_raw): all but the frame's own
        # (frame_raw). -T jsonraw prints the same _raw values.
        raw = [json.loads(tshark(*passes, "-r", path, "-T", "json", "-x", *opts).stdout)]
        ek = [json.loads(line) for line in
              tshark(*passes, "-r", path, "-T", "ek", "-x", *opts).stdout.splitlines()]
        raw.append([p for p in ek if "index" not in p])  # ek: an index line, a packet line
        for packets in raw:
            for p in packets:
                layers = p.get("_source", p).get("layers", {})
                check(isinstance(layers, dict) and "frame_raw" in layers,
                      f"{path}: no frame_raw where -x output was expected")
                del layers["frame_raw"]
        # The columns (Info shows lines) and the expert items' texts.
        cols = tshark(*passes, "-r", path, "-T", "psml", *opts).stdout.decode()
        cols += tshark(*passes, "-r", path, "-q", "-z", "expert,note", *opts).stdout.decode()
        text = (out + tree + json.dumps(raw) + cols).replace(":", "").lower() + \
            "".join(reasm) + pdml.lower()
        return sum(1 for w in windows if w in text), redacted

    whole = os.path.join(SAMPLES, "provisioning-ok.pcap")
    # Every sample whose frames carry the key, besides the two cut ones.
    holders = [os.path.join(SAMPLES, n) for n in samples()
               if any(key[512:] in split_record(pkt)[1]
                      for _, _, pkt in read_pcap(os.path.join(SAMPLES, n))[1])]
    check(whole in holders and len(holders) >= 5,
          f"only {len(holders)} samples hold the client key")
    for path in holders + [dst, inkey]:
        check(leaked(path)[0] == 0, f"{path}: private-key bytes shown")
    for path in [whole, dst, inkey]:
        check(leaked(path, one_pass=True)[0] == 0,
              f"{path}: private-key bytes shown in a single pass")
    for name, win in odd_windows.items():
        path = os.path.join(WORK, f"{name}-provisioning-ok.pcap")
        check(leaked(path, windows=win)[0] == 0, f"{path}: the key unit's bytes shown")
        check(leaked(path, windows=win, one_pass=True)[0] == 0,
              f"{path}: the key unit's bytes shown in a single pass")
        check(leaked(path, "-o", "attrace.show_secrets:TRUE", windows=win)[0] > 0,
              f"{path}: show_secrets does not show the key unit's bytes")
    # The frame holding the key is one record of the sample: the tree points
    # into a redacted copy of that record, not into the captured bytes.
    check(leaked(whole)[1] == 1, f"{whole}: no 'Redacted record' data source for the key's record")
    check(leaked(whole, "-o", "attrace.show_secrets:TRUE")[1] == 0,
          "show_secrets still redacts the record")
    check(leaked(dst, "-o", "attrace.show_secrets:TRUE")[0] > 0,
          "show_secrets does not show the key (the check above could not fail)")
    # Without the plugin's redaction the exported-PDU field shows the key:
    # the checks above search where it would show.
    check(leaked(inkey, "-o", "attrace.show_secrets:TRUE")[0] > 0,
          "show_secrets does not show the key of the split trace")


def test_mutations():
    rnd = random.Random(9)
    n = 0
    for s in samples():
        head, recs = read_pcap(os.path.join(SAMPLES, s))
        for k in range(MUTATIONS):
            mrecs = [list(r) for r in recs]
            kind = k % 3
            if kind == 0:  # bit flips anywhere in the records
                for _ in range(8):
                    i = rnd.randrange(len(mrecs))
                    pkt = bytearray(mrecs[i][2])
                    j = rnd.randrange(len(pkt))
                    pkt[j] ^= 1 << rnd.randrange(8)
                    mrecs[i][2] = bytes(pkt)
            elif kind == 1:  # records cut short
                for _ in range(4):
                    i = rnd.randrange(len(mrecs))
                    mrecs[i][2] = mrecs[i][2][:rnd.randrange(len(mrecs[i][2]) + 1)]
            else:  # payload bytes flipped (the decoder's input, not the header)
                for i in range(len(mrecs)):
                    pkt = bytearray(mrecs[i][2])
                    if len(pkt) > 40 and rnd.random() < 0.5:
                        j = rnd.randrange(36, len(pkt))
                        pkt[j] = rnd.randrange(256)
                    mrecs[i][2] = bytes(pkt)
            dst = os.path.join(WORK, f"mut-{k}-{s}")
            write_pcap(dst, head, [tuple(r) for r in mrecs])
            for two in (["-2"], []) if k == 0 else (["-2"],):
                p = tshark(*two, "-r", dst, "-V", ok=False)
                check(p.returncode >= 0 and p.returncode in (0, 2),
                      f"{dst}: tshark {' '.join(two)} -V exited {p.returncode}: "
                      f"{p.stderr.decode(errors='replace')[-2000:]}")
                check(b"AddressSanitizer" not in p.stderr and b"runtime error" not in p.stderr
                      and b"Dissector bug" not in p.stderr,
                      f"{dst}: sanitizer report:\n{p.stderr.decode(errors='replace')[-4000:]}")
            n += 1
    print(f"mutations: {n} mutated traces dissected")


def main():
    os.makedirs(WORK, exist_ok=True)
    p = tshark("-G", "plugins")
    check(b"attrace.so" in p.stdout, "tshark -G plugins does not list attrace.so")
    tests = [test_golden, test_equivalence, test_recut, test_filters,
             test_client_cert_pref, test_expert_and_stats, test_one_pass, test_secrets,
             test_mutations]
    runner = TestRunner("wireshark plugin")
    for t in [test_golden] if UPDATE else tests:
        runner.run(t)
    runner.finish()


if __name__ == "__main__":
    main()
