#!/usr/bin/env python3
"""End-to-end tests of `attrace capture` (issue 5 section 6).

Usage: test_capture.py ATTRACE SIM PROVISION KEYS WORKDIR

Proxy and exec mode around a provisioning run against the real simulator
(the capture must decode to the same exchanges as the simulator's own
trace), byte-exact relay of random binary data through plain PTY pairs,
tap mode, SIGINT, SIGKILL, the bytes still unread when the capture stops
(SIGINT, the exec program's end), port loss, --reconnect, rotation and a
write error under `ulimit -f`. The trace files are also parsed here, without the
decoder, to compare the recorded streams byte for byte. Timeouts are
generous (shared machines).
"""

import json
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import termios
import traceback
import tty

ATTRACE, SIM, PROVISION, KEYS, WORK = sys.argv[1:6]
# The largest record the capture writes, in bytes of the file: one read()
# of at most PEND_CAP bytes plus REC_OVERHEAD (capture/capture.c).
REC_MAX = 16384 + 56


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def has_header(path):
    """The capture created @path and wrote its pcap header (it creates the
    file first: a reader can see it empty)."""
    return os.path.exists(path) and os.path.getsize(path) >= 24


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise Fail(f"timed out ({timeout} s) waiting for {what}")


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------- pcap


def parse_pcap(path):
    """Records of a trace (TRACE-FORMAT.md): list of dicts; stops at a cut
    record (a file killed or cut mid-write), returning what is complete."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, f"{path}: no pcap header")
    magic = struct.unpack("<I", data[:4])[0]
    check(magic == 0xA1B23C4D, f"{path}: not a little-endian nanosecond pcap ({magic:#x})")
    check(struct.unpack("<I", data[20:24])[0] == 252, f"{path}: link type is not 252")
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, nsec, incl, _orig = struct.unpack("<IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            break
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        p, direction = 0, None
        while True:
            tag, ln = struct.unpack(">HH", pkt[p:p + 4])
            val = pkt[p + 4:p + 4 + ln]
            p += 4 + ln
            if tag == 0:
                break
            if tag == 35:
                direction = struct.unpack(">I", val)[0]
        ver, ev, ch, line, flags, baud = struct.unpack(">BBHHHI", pkt[p:p + 12])
        check(ver == 1, f"{path}: pseudo-header version {ver}")
        recs.append(dict(ts=sec * 10**9 + nsec, dir=direction, event=ev, channel=ch,
                         line=line, flags=flags, baud=baud, payload=pkt[p + 12:], end=off))
    return recs


def streams(recs, channel=0):
    out = [bytearray(), bytearray()]
    for r in recs:
        if r["event"] == 0 and r["channel"] == channel:
            out[r["dir"]] += r["payload"]
    return bytes(out[0]), bytes(out[1])


def notes(recs):
    return [r["payload"].decode(errors="replace") for r in recs if r["event"] == 7]


def decode_json(path, ok=(0,)):
    p = subprocess.run([ATTRACE, "decode", "--json", path], capture_output=True, timeout=60)
    check(p.returncode in ok, f"decode {path}: exit {p.returncode}: {p.stderr.decode()[-500:]}")
    return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]


def exchanges(path, ok=(0,)):
    """What must agree between two traces of one session: commands, echoes,
    responses, results (no times, no offsets)."""
    out = []
    for o in decode_json(path, ok):
        if o["type"] != "exchange":
            continue
        resp = [r.get("line", r.get("text")) if isinstance(r, dict) else r
                for r in o.get("responses", [])]
        fin = o.get("final") or {}
        sec = o.get("secure_result") or {}
        out.append((o["channel"], o["command"], o.get("echo"), json.dumps(resp),
                    fin.get("line"), json.dumps(sec.get("kind") if isinstance(sec, dict) else sec),
                    o.get("end_reason")))
    return out


# ---------------------------------------------------------------- processes


class Sim:
    def __init__(self, name, link, trace=None):
        self.name = name
        args = [SIM, "--store", os.path.join(WORK, name + "-store"), "--link", link,
                "--log", os.path.join(WORK, name + ".log")]
        if trace:
            args += ["-w", trace]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        r, _, _ = select.select([self.proc.stdout], [], [], 15)
        check(r, f"{name}: simulator printed no path within 15 s")
        line = self.proc.stdout.readline().decode()
        check(re.fullmatch(r"attrace-sim: module on (/dev/\S+)\n", line), f"sim said {line!r}")
        wait_for(lambda: os.path.islink(link), 10, "the simulator's link")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.stdout.close()


class Capture:
    def __init__(self, name, *args, wait_host=None, shell_prefix=None, stdout=None):
        self.name = name
        self.errpath = os.path.join(WORK, name + ".stderr")
        self.errf = open(self.errpath, "wb")
        argv = [ATTRACE, "capture"] + list(args)
        if shell_prefix:
            argv = ["bash", "-c", shell_prefix + ' && exec "$@"', "bash"] + argv
        self.proc = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=self.errf)
        if wait_host:
            wait_for(lambda: "host side on /dev/" in self.err() or self.proc.poll() is not None,
                     15, f"{name}: 'host side on' line")
            check(self.proc.poll() is None, f"{name}: exited early: {self.err()}")
            wait_for(lambda: os.path.islink(wait_host), 5, f"{name}: --link {wait_host}")

    def err(self):
        return read_text(self.errpath)

    def wait(self, timeout=30):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"{self.name}: did not end within {timeout} s; stderr: {self.err()}")
        self.errf.close()
        return rc

    def stop(self, sig=signal.SIGINT, timeout=30):
        self.proc.send_signal(sig)
        return self.wait(timeout)


def provision(port):
    p = subprocess.run([PROVISION, "--port", port, "--keys", KEYS, "--scenario", "ok-no-tls"],
                       capture_output=True, timeout=120)
    check(p.returncode == 0, f"provisioning failed ({p.returncode}): {p.stderr.decode()[-800:]}")


def w(name):
    return os.path.join(WORK, name)


def raw_pty():
    """A plain PTY pair standing in for a module: (master fd, slave path)."""
    m, s = os.openpty()
    tty.setraw(s)
    path = os.ttyname(s)
    os.close(s)
    os.set_blocking(m, False)
    return m, path


def open_raw(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def pump(jobs, timeout=60, alive=None):
    """jobs: list of (write_fd, data, read_fd); writes each data to its
    write_fd while reading read_fd until len(data) bytes came back.
    Returns the bytes read per job."""
    got = [bytearray() for _ in jobs]
    sent = [0] * len(jobs)
    end = time.time() + timeout
    while any(len(g) < len(j[1]) for g, j in zip(got, jobs)):
        if time.time() > end:
            raise Fail(f"relay stalled: sent {sent}, received {[len(g) for g in got]} "
                       f"of {[len(j[1]) for j in jobs]}")
        if alive and not alive():
            break
        rl = [j[2] for g, j in zip(got, jobs) if len(g) < len(j[1])]
        wl = [j[0] for s, j in zip(sent, jobs) if s < len(j[1])]
        r, wr, _ = select.select(rl, wl, [], 0.2)
        for i, (wfd, data, rfd) in enumerate(jobs):
            if wfd in wr and sent[i] < len(data):
                try:
                    sent[i] += os.write(wfd, data[sent[i]:sent[i] + 1024])
                except BlockingIOError:
                    pass
                except OSError:
                    if alive:  # the far side went away: the caller expects it
                        return [bytes(g) for g in got]
                    raise
            if rfd in r:
                try:
                    got[i] += os.read(rfd, 65536)
                except (BlockingIOError, OSError):
                    pass
    return [bytes(g) for g in got]


# ---------------------------------------------------------------- tests


def t_proxy_provisioning():
    simtrace, out, link, host = w("p-sim.pcap"), w("p-cap.pcap"), w("p-modem"), w("p-host")
    sim = Sim("p-sim", link, simtrace)
    cap = Capture("p-cap", "--module", link, "--link", host, "-w", out, wait_host=host)
    provision(host)
    time.sleep(0.5)
    rc = cap.stop(signal.SIGINT)
    sim.stop()
    check(rc == 0, f"capture after SIGINT: exit {rc}: {cap.err()}")
    check(os.stat(out).st_mode & 0o777 == 0o600, "capture file is not mode 0600")
    check(not os.path.lexists(host), "--link left behind")
    err = cap.err()
    check(re.search(r"AT\^SBNW=is_cert,1 -> OK", err), f"no live view line: {err}")
    check(re.search(r"\d+ records, \d+ bytes TE->ME, \d+ bytes ME->TE", err), f"no summary: {err}")
    mine, theirs = exchanges(out), exchanges(simtrace)
    check(len(theirs) >= 5, f"simulator trace has only {len(theirs)} exchanges")
    check(mine == theirs, f"exchanges differ:\ncapture {mine}\nsim     {theirs}")
    recs = parse_pcap(out)
    check(recs[0]["event"] == 6 and recs[0]["payload"] == b"115200 8N1",
          f"first record is no settings event: {recs[0]}")
    ns = notes(recs)
    check(ns[0].startswith("capture start") and ns[-1] == "capture stop", f"notes: {ns}")
    # the module's own view of the bytes equals the relayed bytes
    check(streams(recs) == streams(parse_pcap(simtrace)), "byte streams differ from the simulator's")
    ts = [r["ts"] for r in recs]
    check(ts == sorted(ts), "timestamps go backwards")


def t_exec_provisioning():
    simtrace, out, link = w("e-sim.pcap"), w("e-cap.pcap"), w("e-modem")
    sim = Sim("e-sim", link, simtrace)
    cmd = f"'{PROVISION}' --port {{}} --keys '{KEYS}' --scenario ok-no-tls"
    cap = Capture("e-cap", "--module", link, "--exec", cmd, "-w", out, "-q")
    rc = cap.wait(120)
    sim.stop()
    check(rc == 0, f"exec capture: exit {rc}: {cap.err()}")
    mine, theirs = exchanges(out), exchanges(simtrace)
    check(len(theirs) >= 5 and mine == theirs,
          f"exec: exchanges differ:\ncapture {mine}\nsim     {theirs}")
    check(not re.search(r" -> OK ", cap.err()), "--quiet still printed the live view")
    # exit status propagated; {} is the PTY (a character device)
    m, path = raw_pty()
    cap = Capture("e-status", "--module", path, "--exec", "test -c {} && exit 7", "-w",
                  w("e-status.pcap"), "-q")
    rc = cap.wait(30)
    os.close(m)
    check(rc == 7, f"exec status not propagated: {rc}: {cap.err()}")
    ns = notes(parse_pcap(w("e-status.pcap")))
    check(any("exited with status 7" in n for n in ns), f"no exit note: {ns}")
    # SIGINT while the program runs (and ignores SIGINT, which is passed on
    # to it, and SIGTERM): it is killed, the file closed, the program's
    # status (killed: 128+9) returned. The signal goes only once the
    # program has set its trap (the exec note alone raced with it on a
    # loaded machine: the shell died of SIGINT, 130).
    m, path = raw_pty()
    ready = w("e-int.ready")
    cap = Capture("e-int", "--module", path, "--exec",
                  f"trap '' INT TERM; : > '{ready}'; exec sleep 60", "-w", w("e-int.pcap"), "-q")
    wait_for(lambda: has_header(w("e-int.pcap")) and any(
        n.startswith("exec:") for n in notes(parse_pcap(w("e-int.pcap")))), 15, "exec note")
    wait_for(lambda: os.path.exists(ready), 15, "the program's trap")
    t0 = time.time()
    rc = cap.stop(signal.SIGINT, timeout=20)
    os.close(m)
    check(rc == 137 and time.time() - t0 < 10, f"exec + SIGINT: exit {rc}: {cap.err()}")
    check(notes(parse_pcap(w("e-int.pcap")))[-1] == "capture stop", "exec + SIGINT: no stop note")


def t_random_bytes_exact():
    m, path = raw_pty()
    out, host = w("r.pcap"), w("r-host")
    cap = Capture("r-cap", "--module", path, "--link", host, "-w", out, "-q", wait_host=host)
    h = open_raw(host)
    rnd = random.Random(5)
    up = bytes(rnd.getrandbits(8) for _ in range(300000))
    down = bytes(rnd.getrandbits(8) for _ in range(300000))
    got_up, got_down = pump([(h, up, m), (m, down, h)], timeout=120)
    check(got_up == up, f"TE->ME relay not byte-exact ({len(got_up)} of {len(up)} bytes)")
    check(got_down == down, f"ME->TE relay not byte-exact ({len(got_down)} of {len(down)} bytes)")
    # the host closes and reopens its PTY: the capture goes on
    os.close(h)
    time.sleep(0.3)
    h = open_raw(host)
    again = pump([(h, b"AT\r", m), (m, b"\r\nOK\r\n", h)], timeout=20)
    check(again == [b"AT\r", b"\r\nOK\r\n"], f"after reopening the host PTY: {again}")
    check(cap.proc.poll() is None, "capture ended when the host closed its PTY")
    # the host switches its PTY to 9600 baud with RTS/CTS: applied to the module's port
    t = termios.tcgetattr(h)
    t[2] |= termios.CRTSCTS
    t[4] = t[5] = termios.B9600
    termios.tcsetattr(h, termios.TCSANOW, t)
    wait_for(lambda: termios.tcgetattr(m)[5] == termios.B9600 and
             termios.tcgetattr(m)[2] & termios.CRTSCTS, 5, "settings applied to the module port")
    rc = cap.stop(signal.SIGTERM)
    os.close(h)
    os.close(m)
    check(rc == 0, f"SIGTERM: exit {rc}: {cap.err()}")
    te, me = streams(parse_pcap(out))
    check(te == up + b"AT\r", "recorded TE->ME stream differs from what was sent")
    check(me == down + b"\r\nOK\r\n", "recorded ME->TE stream differs from what was sent")
    sets = [r["payload"] for r in parse_pcap(out) if r["event"] == 6]
    check(sets == [b"115200 8N1", b"9600 8N1 rtscts"], f"settings events: {sets}")


def t_tap():
    m1, p1 = raw_pty()
    m2, p2 = raw_pty()
    out = w("t.pcap")
    cap = Capture("t-cap", "--tap-te", p1, "--tap-me", p2, "-w", out, "-q")
    wait_for(lambda: has_header(out) and any(
        n.startswith("capture start") for n in notes(parse_pcap(out))), 15, "tap start note")
    rnd = random.Random(9)
    a = bytes(rnd.getrandbits(8) for _ in range(50000))
    b = bytes(rnd.getrandbits(8) for _ in range(50000))
    for i in range(0, 50000, 1000):
        os.write(m1, a[i:i + 1000])
        os.write(m2, b[i:i + 1000])
        time.sleep(0.002)
    # The capture flushes every 100 ms: stop once the file holds every byte
    # sent (a fixed pause lost the last read on a loaded machine).
    wait_for(lambda: streams(parse_pcap(out)) == (a, b), 30, "every tapped byte in the trace")
    # receive-only: nothing was written back
    r, _, _ = select.select([m1, m2], [], [], 0.5)
    check(not r, "tap mode wrote to a port")
    rc = cap.stop()
    check(rc == 0, f"tap: exit {rc}: {cap.err()}")
    te, me = streams(parse_pcap(out))
    check(te == a and me == b, f"tap streams differ ({len(te)}/{len(a)}, {len(me)}/{len(b)})")
    os.close(m1)
    os.close(m2)


def write_until_stalled(fds_data, quiet=0.5):
    """Writes each (fd, data) without blocking until no fd has taken a
    byte for @quiet seconds (or all data is written). Returns how many
    bytes of each the kernel accepted: what the trace must hold."""
    sent = [0] * len(fds_data)
    while True:
        wl = [fd for (fd, data), n in zip(fds_data, sent) if n < len(data)]
        if not wl:
            return sent
        _, wr, _ = select.select([], wl, [], quiet)
        if not wr:
            return sent
        for i, (fd, data) in enumerate(fds_data):
            if fd in wr and sent[i] < len(data):
                try:
                    sent[i] += os.write(fd, data[sent[i]:sent[i] + 4096])
                except BlockingIOError:
                    pass


def t_stop_records_held_bytes():
    """Neither the host nor the module reads: the relay stalls with bytes
    in the kernel's buffers that the capture has not read (it reads a side
    only once its last read is relayed). SIGINT: every byte the writers
    got accepted is in the trace, in order, in its direction."""
    m, path = raw_pty()
    out, host = w("held.pcap"), w("held-host")
    cap = Capture("held-cap", "--module", path, "--link", host, "-w", out, "-q", wait_host=host)
    h = open_raw(host)
    rnd = random.Random(12)
    up, down = rnd.randbytes(300000), rnd.randbytes(300000)
    n_up, n_down = write_until_stalled([(h, up), (m, down)])
    check(n_up < len(up) and n_down < len(down), f"the relay did not stall: {n_up}, {n_down}")
    rc = cap.stop(signal.SIGINT)
    os.close(h)
    os.close(m)
    check(rc == 0, f"SIGINT: exit {rc}: {cap.err()}")
    recs = parse_pcap(out)
    te, me = streams(recs)
    check(te == up[:n_up], f"TE->ME: {len(te)} bytes recorded, the host wrote {n_up}")
    check(me == down[:n_down], f"ME->TE: {len(me)} bytes recorded, the module wrote {n_down}")
    check(notes(recs)[-1] == "capture stop", f"notes: {notes(recs)}")


HELD_WRITER = r"""
import os, random, select, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
data, n = random.Random(13).randbytes(300000), 0
while n < len(data) and select.select([], [fd], [], 0.5)[1]:
    try:
        n += os.write(fd, data[n:n + 4096])
    except BlockingIOError:
        pass
with open(sys.argv[2], "w") as f:
    f.write(str(n))
"""


def t_exec_end_records_held_bytes():
    """Exec mode: the program writes until its PTY is full (the module
    does not read, so the relay stalls) and exits; the capture ends with
    it and records every byte the program wrote."""
    m, path = raw_pty()
    script, count, out = w("held-writer.py"), w("held-writer.count"), w("held-exec.pcap")
    with open(script, "w") as f:
        f.write(HELD_WRITER)
    cap = Capture("held-exec", "--module", path, "--exec",
                  f"'{sys.executable}' '{script}' {{}} '{count}'", "-w", out, "-q")
    rc = cap.wait(60)
    os.close(m)
    check(rc == 0, f"exec: exit {rc}: {cap.err()}")
    n = int(read_text(count))
    data = random.Random(13).randbytes(300000)
    check(n < len(data), f"the relay did not stall: the program wrote all {n} bytes")
    recs = parse_pcap(out)
    te = streams(recs)[0]
    check(te == data[:n], f"TE->ME: {len(te)} bytes recorded, the program wrote {n}")
    ns = notes(recs)
    check(ns[-2:] == ["exec: program exited with status 0", "capture stop"], f"notes: {ns}")


def t_sigkill():
    simtrace, out, link, host = w("k-sim.pcap"), w("k-cap.pcap"), w("k-modem"), w("k-host")
    sim = Sim("k-sim", link, simtrace)
    cap = Capture("k-cap", "--module", link, "--link", host, "-w", out, "-q", wait_host=host)
    provision(host)
    time.sleep(0.5)
    cap.stop(signal.SIGKILL)
    sim.stop()
    mine, theirs = exchanges(out, ok=(0, 3)), exchanges(simtrace)
    check(mine == theirs, f"after SIGKILL: exchanges differ:\n{mine}\n{theirs}")


def t_port_lost():
    out, link, host = w("l-cap.pcap"), w("l-modem"), w("l-host")
    sim = Sim("l-sim", link)
    cap = Capture("l-cap", "--module", link, "--link", host, "-w", out, "-q", wait_host=host)
    sim.stop()
    rc = cap.wait(30)
    check(rc == 1, f"port lost: exit {rc}, expected 1: {cap.err()}")
    check("lost" in cap.err(), f"no clear message: {cap.err()}")
    ns = notes(parse_pcap(out))
    check(any(n.startswith("port lost") for n in ns) and ns[-1] == "capture stop",
          f"notes after port loss: {ns}")
    decode_json(out)  # a complete, valid file


def t_reconnect():
    simtrace, out, link, host = w("c-sim2.pcap"), w("c-cap.pcap"), w("c-modem"), w("c-host")
    sim = Sim("c-sim", link)
    cap = Capture("c-cap", "--module", link, "--link", host, "-w", out, "--reconnect", "-q",
                  wait_host=host)
    sim.stop()
    wait_for(lambda: "waiting for" in cap.err(), 15, "the capture to notice the loss")
    check(cap.proc.poll() is None, f"--reconnect: capture ended: {cap.err()}")
    time.sleep(0.5)
    sim = Sim("c-sim", link, simtrace)
    wait_for(lambda: "capture resumed" in cap.err(), 15, "the capture to resume")
    provision(host)
    time.sleep(0.5)
    rc = cap.stop()
    sim.stop()
    check(rc == 0, f"--reconnect then SIGINT: exit {rc}: {cap.err()}")
    ns = notes(parse_pcap(out))
    check(any(n.startswith("port lost") for n in ns) and any(n.startswith("reconnect") for n in ns),
          f"notes: {ns}")
    mine, theirs = exchanges(out), exchanges(simtrace)
    check(mine == theirs and theirs, f"after reconnect: exchanges differ:\n{mine}\n{theirs}")


def t_rotation():
    m, path = raw_pty()
    base, host = w("rot.pcap"), w("rot-host")
    cap = Capture("rot-cap", "--module", path, "--link", host, "-w", base, "-C", "0.01", "-q",
                  wait_host=host)
    h = open_raw(host)
    data = bytes(random.Random(3).getrandbits(8) for _ in range(60000))
    got = bytearray()
    for i in range(0, len(data), 500):
        got += pump([(h, data[i:i + 500], m)])[0]
        time.sleep(0.005)
    rc = cap.stop()
    os.close(h)
    os.close(m)
    check(rc == 0 and bytes(got) == data, f"rotation run: exit {rc}: {cap.err()}")
    files = [base] + [base + str(i) for i in range(1, 100) if os.path.exists(base + str(i))]
    check(len(files) >= 5, f"only {len(files)} files with -C 0.01 for 60 kB")
    stream = b""
    for f in files:
        check(os.path.getsize(f) < 10000 + 2000, f"{f}: {os.path.getsize(f)} bytes, over -C")
        check(os.stat(f).st_mode & 0o777 == 0o600, f"{f}: not mode 0600")
        decode_json(f)
        stream += streams(parse_pcap(f))[0]
    check(stream == data, "rotated files do not hold the stream in order")
    # -W 2: FILE0 and FILE1 only
    m, path = raw_pty()
    base2 = w("rotw.pcap")
    cap = Capture("rotw-cap", "--module", path, "--link", host, "-w", base2, "-C", "0.01",
                  "-W", "2", "-q", wait_host=host)
    h = open_raw(host)
    for i in range(0, len(data), 500):
        pump([(h, data[i:i + 500], m)])
    rc = cap.stop()
    os.close(h)
    os.close(m)
    check(rc == 0, f"-W 2: exit {rc}")
    made = sorted(f for f in os.listdir(WORK) if f.startswith("rotw.pcap"))
    check(made == ["rotw.pcap0", "rotw.pcap1"], f"-W 2 made {made}")


def t_efbig():
    m, path = raw_pty()
    out, host = w("big.pcap"), w("big-host")
    cap = Capture("big-cap", "--module", path, "--link", host, "-w", out, "-q",
                  wait_host=host, shell_prefix="ulimit -f 40")
    h = open_raw(host)
    data = bytes(random.Random(4).getrandbits(8) for _ in range(400000))
    pump([(h, data, m)], timeout=60, alive=lambda: cap.proc.poll() is None)
    rc = cap.wait(30)
    os.close(h)
    os.close(m)
    err = cap.err()
    check(rc == 1, f"write error: exit {rc}, expected 1: {err}")
    check(re.search(r"File too large|write", err), f"no clear message: {err}")
    # Everything written before the error is readable: the file holds what
    # the limit let through, and only its last record is cut. How many
    # records that is depends on how much each read() returned (up to
    # PEND_CAP bytes on a loaded machine), so it is not counted.
    recs = parse_pcap(out)
    size = os.path.getsize(out)
    check(size == 40 * 1024, f"{size} bytes written before EFBIG, the limit is {40 * 1024}")
    check(recs and size - recs[-1]["end"] < REC_MAX,
          f"{size - (recs[-1]['end'] if recs else 24)} bytes after the last complete record: "
          "more than one cut record")
    te = streams(recs)[0]
    check(te and data.startswith(te), f"recorded bytes ({len(te)}) are not a prefix of what was sent")
    decode_json(out, ok=(0, 3))
    # ENOSPC (/dev/full): the first flush fails
    m, path = raw_pty()
    p = subprocess.run([ATTRACE, "capture", "--module", path, "-w", "/dev/full", "-q"],
                       capture_output=True, timeout=30)
    os.close(m)
    check(p.returncode == 1 and b"No space left on device" in p.stderr,
          f"ENOSPC: exit {p.returncode}: {p.stderr}")


def t_channels_stdout():
    """Two --module/--link pairs into one trace on standard output,
    piped into `attrace decode -`."""
    (m0, p0), (m1, p1) = raw_pty(), raw_pty()
    h0n, h1n, out = w("ch-host0"), w("ch-host1"), w("ch.pcap")
    with open(out, "wb") as fo:
        cap = Capture("ch-cap", "--module", p0, "--link", h0n, "--module", p1, "--link", h1n,
                      "-w", "-", stdout=fo)
        wait_for(lambda: os.path.islink(h0n) and os.path.islink(h1n), 15, "both host links")
        h0, h1 = open_raw(h0n), open_raw(h1n)
        got = pump([(h0, b"AT+CGSN\r", m0), (m0, b"\r\n111\r\nOK\r\n", h0),
                    (h1, b"ATI\r", m1), (m1, b"\r\nCinterion\r\nOK\r\n", h1)])
        check(got == [b"AT+CGSN\r", b"\r\n111\r\nOK\r\n", b"ATI\r", b"\r\nCinterion\r\nOK\r\n"],
              f"two channels relayed {got}")
        time.sleep(0.3)
        rc = cap.stop()
    for fd in (h0, h1, m0, m1):
        os.close(fd)
    check(rc == 0, f"two channels: exit {rc}: {cap.err()}")
    check(re.search(r"ch1 ATI -> OK", cap.err()), f"live view lacks channel 1: {cap.err()}")
    recs = parse_pcap(out)
    ts = [r["ts"] for r in recs]
    check(ts == sorted(ts), f"two channels: timestamps go backwards: {ts[:6]}")
    check(streams(recs, 0) == (b"AT+CGSN\r", b"\r\n111\r\nOK\r\n"), "channel 0 streams")
    check(streams(recs, 1) == (b"ATI\r", b"\r\nCinterion\r\nOK\r\n"), "channel 1 streams")
    with open(out, "rb") as fi:
        p = subprocess.run([ATTRACE, "decode", "--json", "-"], stdin=fi, capture_output=True)
    check(p.returncode == 0, f"decode - : {p.returncode} {p.stderr}")
    xs = sorted((o["channel"], o["command"], o["final"]["line"])
                for o in map(json.loads, p.stdout.decode().splitlines()) if o["type"] == "exchange")
    check(xs == [(0, "AT+CGSN", "OK"), (1, "ATI", "OK")], f"decoded from stdin: {xs}")


def t_host_port():
    """--host with a second (terminal) port instead of a PTY."""
    (mm, pm), (mh, ph) = raw_pty(), raw_pty()
    out = w("hp.pcap")
    cap = Capture("hp-cap", "--module", pm, "--host", ph, "-w", out, "-q")
    wait_for(lambda: has_header(out) and any(
        n.startswith("capture start") for n in notes(parse_pcap(out))), 15, "start note")
    rnd = random.Random(11)
    a = bytes(rnd.getrandbits(8) for _ in range(20000))
    b = bytes(rnd.getrandbits(8) for _ in range(20000))
    got = pump([(mh, a, mm), (mm, b, mh)])
    rc = cap.stop()
    for fd in (mm, mh):
        os.close(fd)
    check(got == [a, b] and rc == 0, f"host port relay: exit {rc}, {[len(g) for g in got]}")
    check(streams(parse_pcap(out)) == (a, b), "host port: recorded streams differ")


def t_usage():
    p = subprocess.run([ATTRACE, "capture", "--help"], capture_output=True)
    check(p.returncode == 0 and b"--tap-te" in p.stdout, "--help")
    for args in (["-w", "x"], ["--module", "/dev/null"], ["--tap-te", "a", "-w", "x"],
                 ["--module", "a", "--flow", "odd", "-w", "x"]):
        p = subprocess.run([ATTRACE, "capture"] + args, capture_output=True)
        check(p.returncode == 2, f"{args}: exit {p.returncode}, expected 2")
    p = subprocess.run([ATTRACE, "capture", "--module", w("no-such-port"), "-w", w("n.pcap")],
                       capture_output=True)
    check(p.returncode == 1 and not os.path.exists(w("n.pcap")),
          f"missing port: exit {p.returncode}: {p.stderr}")


TESTS = [t_usage, t_proxy_provisioning, t_exec_provisioning, t_random_bytes_exact, t_tap,
         t_channels_stdout, t_host_port, t_stop_records_held_bytes, t_exec_end_records_held_bytes,
         t_sigkill, t_port_lost, t_reconnect, t_rotation, t_efbig]


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    only = os.environ.get("CAPTURE_TESTS")
    failed = 0
    for t in TESTS:
        if only and t.__name__ not in only.split(","):
            continue
        t0 = time.time()
        try:
            t()
            print(f"ok   {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            print(f"FAIL {t.__name__}: {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
    print(f"{len(TESTS) - failed if not only else '-'} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
