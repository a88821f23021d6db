#!/usr/bin/env python3
"""Private-key bytes never reach `attrace decode`'s output, however the
index-0 WRITE that carries the key is damaged.

    secret_mutations.py ATTRACE SOURCE_DIR WORKDIR [COUNT [SEED]]

Takes the index-0 WRITE of samples/provisioning-ok.pcap (its key unit holds
samples/keys/client.key.der), builds COUNT seeded mutations of it (bit
flips, in the key's own DER headers too; TotalLen, ParamLen, ParamId and
ParamNum changes; cuts; record splits down to 1-byte records), each sent as
the frame of an AT^SBNW exchange on a channel of its own (200 channels a
trace, so one process decodes many), decodes every trace in every output
mode (text, --hex, --json, --json --hex) and fails if any 16-byte window of
the key's secret material appears in the output: as raw or escaped text
(\\xHH, \\r, ...), as hex in either case with or without separators (JSON
hex strings, the --hex dumps), in a JSON string (UTF-8 or Latin-1), or as
base64. Last, --show-secrets must show the key (so the search can fail).

Each mutation damages at most one place of the key's own bytes; the frame
fields around it may be damaged in several. (Two damaged DER headers of the
same key leave only the INTEGER-run layer, which proves the key at its
third private INTEGER: lines that end before that are out of reach of any
decoder that decides a token's bytes by the bytes up to its end.)

"Secret material", honestly: the 16-byte windows of the key's DER that
overlap its private part (from the private exponent's INTEGER on) and do
not occur in the frame's public bytes (its bytes outside the key unit,
where the certificate holds the same modulus and exponent). The bytes
before the private exponent are the PKCS#8 and PKCS#1 framing (fixed by
the key's type and size), the modulus and the public exponent: all of it
follows from the certificate, so it is no secret, and the decoder may show
the first bytes of a header before the header is proven.
"""
import base64
import json
import os
import random
import re
import struct
import subprocess
import sys

BATCH = 200          # channels per trace (attrace decodes up to 256)
WINDOW = 16

# ----------------------------------------------------------------------
# Traces (TRACE-FORMAT.md): classic pcap, nanoseconds, LINKTYPE 252.
# ----------------------------------------------------------------------


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    assert magic == 0xA1B23C4D, "little-endian nanosecond pcap expected"
    off = 24
    out = []
    while off + 16 <= len(data):
        sec, nsec, incl, _orig = struct.unpack_from("<IIII", data, off)
        rec = data[off + 16:off + 16 + incl]
        off += 16 + incl
        # exported-PDU TLVs up to END_OF_OPT
        p = 0
        direction = 0
        while True:
            tag, length = struct.unpack_from(">HH", rec, p)
            p += 4
            if tag == 0:
                break
            if tag == 35:
                direction = struct.unpack_from(">I", rec, p)[0]
            p += length
        _ver, event, channel = struct.unpack_from(">BBH", rec, p)
        payload = rec[p + 12:]
        out.append((sec * 10**9 + nsec, direction, channel, event, payload))
    return out


def pdu(ts, direction, channel, payload):
    tlv = struct.pack(">HH", 12, 8) + b"attrace\0"
    tlv += struct.pack(">HHI", 35, 4, direction)
    tlv += struct.pack(">HH", 0, 0)
    uart = struct.pack(">BBHHHI", 1, 0, channel, 0, 0, 0)
    body = tlv + uart + payload
    return struct.pack("<IIII", ts // 10**9, ts % 10**9, len(body), len(body)) + body


def write_trace(path, records):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 252))
        for r in records:
            f.write(pdu(*r))


# ----------------------------------------------------------------------
# The frame and its key
# ----------------------------------------------------------------------


def index0_write(attrace, sample):
    """The bytes of the frame that carries a key unit, from the TE stream."""
    out = subprocess.run([attrace, "decode", "--json", sample], check=True,
                         capture_output=True).stdout
    te = b"".join(r[4] for r in read_records(sample)
                  if r[3] == 0 and r[1] == 0 and r[2] == 0)
    for line in out.splitlines():
        o = json.loads(line)
        if o.get("type") == "frame" and any(u["id"] == 5 for u in o["units"]):
            return te[o["offset"]:o["offset"] + o["length"]]
    raise SystemExit("no index-0 WRITE with a key unit in " + sample)


def units_of(frame):
    """(offset, ParamLen, ParamId) of each unit, by the undamaged walk."""
    units = []
    p = 6
    while p + 4 <= len(frame):
        plen, pid = struct.unpack_from("<HH", frame, p)
        units.append((p, plen, pid))
        if plen < 4:
            break
        p += plen
    return units


def secret_windows(key, frame, key_at):
    """Start offsets (in the key) of its secret 16-byte windows."""
    priv = 26 + 4 + 3 + 132 + 5  # PKCS#8 -> PKCS#1 -> the private exponent's tag
    assert key[priv:priv + 3] == b"\x02\x81\x80", "private exponent not where expected"
    public = frame[:key_at] + b"\0" * WINDOW + frame[key_at + len(key):]
    return [w for w in range(max(0, priv - WINDOW + 1), len(key) - WINDOW + 1)
            if key[w:w + WINDOW] not in public]


class Finder:
    """Finds secret windows in haystacks of several encodings."""

    def __init__(self, key, starts):
        self.key = key
        self.starts = set(starts)
        # Every 16-byte window holds one whole 8-byte block at a multiple
        # of 8: search for the blocks, then check the windows around.
        lo = min(starts)
        self.blocks = [b for b in range((lo + 7) // 8 * 8, len(key) - 7, 8)]
        b64 = set()
        for a in range(3):
            enc = base64.b64encode(key[a:]).decode()
            for w in starts:
                g0 = -(-(w - a) // 3)
                if w - a < 0 or g0 + 4 > (w + WINDOW - a) // 3:
                    continue
                b64.add(enc[4 * g0:4 * g0 + 16])
        self.b64 = b64
        self.separator = next(bytes([a, b]) for a in range(256) for b in range(256)
                              if bytes([a, b]) not in key)

    def raw(self, hay):
        """A secret window in bytes @hay: (key offset, hay offset) or None."""
        key = self.key
        for b in self.blocks:
            needle = key[b:b + 8]
            pos = hay.find(needle)
            while pos >= 0:
                for w in range(b - 8, b + 1):
                    if w in self.starts:
                        h = pos - (b - w)
                        if h >= 0 and hay[h:h + WINDOW] == key[w:w + WINDOW]:
                            return (w, h)
                pos = hay.find(needle, pos + 1)
        return None

    def hex(self, text):
        """A secret window as contiguous hex (text lowercased)."""
        key = self.key
        for b in self.blocks:
            needle = key[b:b + 8].hex()
            pos = text.find(needle)
            while pos >= 0:
                for w in range(b - 8, b + 1):
                    if w in self.starts:
                        h = pos - 2 * (b - w)
                        if h >= 0 and text[h:h + 2 * WINDOW] == key[w:w + WINDOW].hex():
                            return (w, h)
                pos = text.find(needle, pos + 1)
        return None

    def base64(self, text):
        for run in re.findall(r"[A-Za-z0-9+/]{16,}", text):
            for n in self.b64:
                if n in run:
                    return n
        return None


ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|r|n|t|\\)")
DUMP = re.compile(r"^\s+[0-9a-f]{8} ((?:  ?[0-9a-f]{2}| {3})+)  \|")


def unescape(line):
    def one(m):
        e = m.group(1)
        if e[:1] == b"x":
            return bytes([int(e[1:], 16)])
        return {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}[e]
    return ESCAPE.sub(one, line)


def json_strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from json_strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from json_strings(x)


def leaks(out, finder, json_mode):
    """Where @out shows secret material, or None."""
    text = out.decode("latin-1")
    low = text.lower()
    found = finder.hex(low) or finder.hex(re.sub(r"[\s:.,-]", "", low))
    if found:
        return "hex window at key offset %d" % found[0]
    found = finder.base64(text)
    if found:
        return "base64 " + found
    if json_mode:
        # All strings, joined by a separator the key does not hold (no
        # window can match across it).
        sep = finder.separator
        strings = [s for line in out.splitlines() for s in json_strings(json.loads(line))]
        for form in (sep.join(s.encode("utf-8", "surrogatepass") for s in strings),
                     sep.join(s.encode("latin-1", "ignore") for s in strings)):
            found = finder.raw(form)
            if found:
                return "JSON string with key offset %d" % found[0]
        return None
    found = finder.raw(b"\n".join(unescape(l) for l in out.splitlines()))
    if found:
        return "escaped text with key offset %d" % found[0]
    dump = bytearray()
    for line in text.splitlines() + [""]:
        m = DUMP.match(line)
        if m:
            dump += bytes.fromhex(m.group(1).replace(" ", ""))
            continue
        if dump:
            found = finder.raw(bytes(dump))
            if found:
                return "hexdump with key offset %d" % found[0]
            dump = bytearray()
    return None


# ----------------------------------------------------------------------
# Mutations
# ----------------------------------------------------------------------


def mutate(rng, frame, key_at, key_len):
    """A damaged copy of @frame, its record splits and what was done."""
    f = bytearray(frame)
    what = []
    units = units_of(frame)
    key_unit = [u for u in units if u[2] == 5][0]
    key_touched = False

    def le16(off, v):
        if off + 2 <= len(f):
            struct.pack_into("<H", f, off, v & 0xFFFF)

    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        kind = rng.choice(("flip", "flip", "header_flip", "totallen", "paramlen",
                           "paramid", "paramid", "paramnum", "cut"))
        if kind in ("flip", "header_flip"):
            if key_touched:
                kind = "frame_flip"
            if kind == "header_flip":
                # the PKCS#8 header, the PKCS#1 header, the INTEGER headers
                # of the private exponent and the first prime
                pos = key_at + rng.choice(list(range(0, 36)) + [170, 171, 172, 301, 302])
                key_touched = True
            elif kind == "flip" and rng.random() < 0.6:
                pos = key_at + rng.randrange(key_len)
                key_touched = True
            else:
                pos = rng.randrange(len(f))
                if key_at <= pos < key_at + key_len:
                    if key_touched:
                        continue
                    key_touched = True
                kind = "frame_flip"
            if pos >= len(f):
                continue
            bit = rng.randrange(8)
            f[pos] ^= 1 << bit
            what.append("%s@%d.%d" % (kind, pos, bit))
        elif kind == "totallen":
            v = rng.choice((rng.randrange(0x10000), len(frame) + rng.randint(-8, 8),
                            key_at + rng.randint(-40, key_len + 40), len(frame) - 2,
                            rng.randrange(len(frame))))
            le16(0, v)
            what.append("totallen=%d" % (v & 0xFFFF))
        elif kind == "paramlen":
            u = rng.choice(units + [key_unit] * 2)
            v = rng.choice((rng.randrange(0x10000), u[1] + rng.randint(-8, 8),
                            rng.randrange(4, u[1] + 8), 0, 3))
            le16(u[0], v)
            what.append("paramlen[%d]=%d" % (u[0], v & 0xFFFF))
        elif kind == "paramid":
            u = key_unit if rng.random() < 0.7 else rng.choice(units)
            v = rng.choice((9, 0, 1, 2, 3, 4, 6, 7, 8, 0xFFFF, rng.randrange(0x10000)))
            le16(u[0] + 2, v)
            what.append("paramid[%d]=%d" % (u[0], v))
        elif kind == "paramnum":
            v = rng.choice((0, 1, 2, 3, 4, 6, 7, 255, rng.randrange(0x10000)))
            le16(4, v)
            what.append("paramnum=%d" % v)
        else:
            at = rng.choice((rng.randrange(1, len(f)),
                             key_at + rng.randrange(1, key_len)))
            if at < len(f):
                del f[at:]
                what.append("cut@%d" % at)
    # record splits
    r = rng.random()
    if r < 0.08 and len(f) > 1:
        cuts = list(range(1, len(f)))
        what.append("1-byte records")
    elif r < 0.6 and len(f) > 1:
        cuts = sorted(set(rng.randrange(1, len(f)) for _ in range(rng.randint(1, 6))))
        what.append("split@" + ",".join(map(str, cuts)))
    else:
        cuts = []
    pieces = []
    prev = 0
    for c in cuts + [len(f)]:
        if c > prev:
            pieces.append(bytes(f[prev:c]))
        prev = c
    return pieces, " ".join(what)


def scenario(channel, t0, pieces):
    """An AT^SBNW exchange carrying the frame, then a plain command."""
    ms = 10**6
    recs = [(t0, 0, channel, b"AT^SBNW=is_cert,1\r"),
            (t0 + 1 * ms, 1, channel,
             b"AT^SBNW=is_cert,1\r\r\nCONNECT\r\n\r\nSECURE CMD READY: SEND COMMAND ...\r\n")]
    t = t0 + 2 * ms
    for p in pieces:
        recs.append((t, 0, channel, p))
        t += 1000
    recs.append((t + 1 * ms, 1, channel, b"\r\nSECURE CMD ERROR\r\n\r\nERROR\r\n"))
    recs.append((t + 2 * ms, 0, channel, b"AT\r"))
    recs.append((t + 3 * ms, 1, channel, b"AT\r\r\nOK\r\n"))
    return recs, t + 4 * ms


MODES = ([], ["--hex"], ["--json"], ["--json", "--hex"])


def decode(attrace, trace, mode):
    p = subprocess.run([attrace, "decode"] + mode + [trace], capture_output=True)
    if p.returncode not in (0, 1) or p.stderr:
        raise SystemExit("attrace decode %s %s: exit %d\n%s" % (
            " ".join(mode), trace, p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    attrace, src, work = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 20261202
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(src, "samples/keys/client.key.der"), "rb") as f:
        key = f.read()
    frame = index0_write(attrace, os.path.join(src, "samples/provisioning-ok.pcap"))
    key_at = frame.find(key)
    assert key_at > 0, "the sample's index-0 WRITE does not carry samples/keys/client.key.der"
    starts = secret_windows(key, frame, key_at)
    assert len(starts) > 400, "too little secret material to test with"
    finder = Finder(key, starts)
    rng = random.Random(seed)

    # The search can fail: with --show-secrets the key is there.
    recs, _ = scenario(0, 1714564800 * 10**9, [frame])
    trace = os.path.join(work, "intact.pcap")
    write_trace(trace, recs)
    for mode in MODES:
        out = decode(attrace, trace, mode + ["--show-secrets"])
        if mode and "--hex" in mode and not leaks(out, finder, "--json" in mode):
            raise SystemExit("--show-secrets %s does not show the key: the search is broken"
                             % " ".join(mode))
        out = decode(attrace, trace, mode)
        where = leaks(out, finder, "--json" in mode)
        if where:
            raise SystemExit("intact frame, mode %s: %s" % (" ".join(mode) or "text", where))

    done = 0
    failures = []
    batch_no = 0
    while done < count:
        n = min(BATCH, count - done)
        recs = []
        what = {}
        t = 1714564800 * 10**9
        for ch in range(1, n + 1):
            pieces, desc = mutate(rng, frame, key_at, len(key))
            what[ch] = desc
            r, t = scenario(ch, t, pieces)
            recs += r
        trace = os.path.join(work, "mutations-%d.pcap" % batch_no)
        write_trace(trace, recs)
        for mode in MODES:
            out = decode(attrace, trace, mode)
            where = leaks(out, finder, "--json" in mode)
            if where:
                # Name the mutation: decode its channel alone.
                for ch in range(1, n + 1):
                    one = os.path.join(work, "leak.pcap")
                    write_trace(one, [r for r in recs if r[2] == ch])
                    w = leaks(decode(attrace, one, mode), finder, "--json" in mode)
                    if w:
                        failures.append("mode %s, mutation %s: %s (trace %s)" % (
                            " ".join(mode) or "text", what[ch], w, one))
                        break
                else:
                    failures.append("mode %s, batch %s: %s" % (" ".join(mode) or "text",
                                                              trace, where))
                break
        if failures:
            break
        else:
            os.unlink(trace)
        done += n
        batch_no += 1
    if failures:
        print("\n".join(failures))
        return 1
    print("%d mutations of the index-0 WRITE decoded in %d modes: no secret window in "
          "the output (%d windows checked)" % (done, len(MODES), len(starts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
