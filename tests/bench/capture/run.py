#!/usr/bin/env python3
"""Relay benchmark for `attrace capture` (proxy mode) against socat.

Method and usage: tests/bench/capture/README.md.  Run by hand, not by ctest.

    python3 tests/bench/capture/run.py [--quick] [--duration S] [--rate MB/s]
        [--pings N] [--attrace PATH] [--only socat|attrace]

Exit status: 0 every target met, 1 a target missed or a byte wrong,
2 setup error (missing tool, relay did not start).
"""

import argparse
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BLOCK = 1 << 16          # PRNG block size of the content streams
MB = 1_000_000           # MB = 10^6 bytes throughout
CLK_TCK = os.sysconf("SC_CLK_TCK")


class SetupError(Exception):
    pass


# ---------------------------------------------------------------- streams

class Source:
    """Endless deterministic byte stream: 64 KiB blocks of Random(seed)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.block = b""
        self.pos = 0

    def take(self, n):
        if self.pos == len(self.block):
            self.block = self.rng.randbytes(BLOCK)
            self.pos = 0
        n = min(n, len(self.block) - self.pos)
        return memoryview(self.block)[self.pos:self.pos + n]

    def advance(self, n):
        self.pos += n


class Checker:
    """Compares what arrives with the same stream, byte by byte.

    On the first mismatch it tries to say what happened: the received bytes
    found further on in the expected stream -> bytes lost; found earlier ->
    bytes duplicated or reordered; not found -> corrupted.  After the first
    error the direction is failed and only counted."""

    HISTORY = 1 << 20
    LOOKAHEAD = 4 << 20

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.exp = bytearray()
        self.base = 0          # stream offset of exp[0]
        self.received = 0      # bytes received (and checked while ok)
        self.error = None

    def _ensure(self, upto):   # make exp cover stream offsets < upto
        while self.base + len(self.exp) < upto:
            self.exp += self.rng.randbytes(BLOCK)

    def feed(self, data):
        n = len(data)
        if self.error is None:
            off = self.received - self.base
            self._ensure(self.received + n)
            if self.exp[off:off + n] != data:
                i = 0
                while self.exp[off + i] == data[i]:
                    i += 1
                self._classify(self.received + i, bytes(data[i:i + 32]))
            elif off > 2 * self.HISTORY:
                cut = off - self.HISTORY
                del self.exp[:cut]
                self.base += cut
        self.received += n

    def _classify(self, pos, needle):
        where = "at stream offset %d" % pos
        if len(needle) < 8:
            self.error = "wrong byte(s) %s (read ended, not classified)" % where
            return
        self._ensure(pos + self.LOOKAHEAD)
        rel = pos - self.base
        lo = max(0, rel - self.HISTORY)
        cands = [i for i in (self.exp.find(needle, rel + 1),
                             self.exp.rfind(needle, lo, rel + len(needle) - 1)) if i >= 0]
        if not cands:
            self.error = "corrupted bytes %s" % where
            return
        d = min(cands, key=lambda i: abs(i - rel)) - rel
        if d > 0:
            self.error = "%d byte(s) lost %s" % (d, where)
        else:
            self.error = "%d byte(s) duplicated or reordered %s" % (-d, where)


# ---------------------------------------------------------------- helpers

def cpu_ticks(pid):
    """utime+stime of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def set_raw(fd):
    tty.setraw(fd, termios.TCSANOW)
    attr = termios.tcgetattr(fd)
    attr[3] &= ~(termios.ECHO | termios.ECHONL)
    termios.tcsetattr(fd, termios.TCSANOW, attr)


def drain(fds, quiet_s=0.2):
    """Read and discard until nothing arrived for quiet_s seconds."""
    got = 0
    p = select.poll()
    for fd in fds:
        p.register(fd, select.POLLIN)
    while True:
        ev = p.poll(quiet_s * 1000)
        if not ev:
            return got
        for fd, _ in ev:
            try:
                got += len(os.read(fd, 65536))
            except BlockingIOError:
                pass


def pct(sorted_vals, q):
    i = max(0, min(len(sorted_vals) - 1,
                   int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


# ---------------------------------------------------------------- phases

def throughput(pairs, duration, rate, seed):
    """Both directions at once for `duration` s, each paced at `rate` MB/s
    (0 = as fast as the relay goes), through every (mod_fd, host_fd) pair
    of `pairs` at the same time.  Returns per-pair per-direction results."""
    dirs = []
    for mod_fd, host_fd in pairs:
        dirs.append({
            "M->H": dict(src=Source(seed * 2 + 1), chk=Checker(seed * 2 + 1),
                         wfd=mod_fd, rfd=host_fd, sent=0, last_rx=None),
            "H->M": dict(src=Source(seed * 2 + 2), chk=Checker(seed * 2 + 2),
                         wfd=host_fd, rfd=mod_fd, sent=0, last_rx=None),
        })
    alld = [d for p_ in dirs for d in p_.values()]
    by_rfd = {d["rfd"]: d for d in alld}
    by_wfd = {d["wfd"]: d for d in alld}
    fds = list(by_rfd)
    rate_bps = rate * MB
    p = select.poll()
    t0 = time.monotonic()
    t_end = t0 + duration
    sending = True
    drain_deadline = None
    quiet_until = None
    while True:
        now = time.monotonic()
        if sending and now >= t_end:
            sending = False
            drain_deadline = now + 10.0
        want = {fd: select.POLLIN for fd in fds}
        if sending:
            for d in alld:
                if rate_bps <= 0 or rate_bps * (now - t0) - d["sent"] > 0:
                    want[d["wfd"]] |= select.POLLOUT
        else:
            done = all(d["chk"].received >= d["sent"] for d in alld)
            if done and quiet_until is None:
                quiet_until = now + 0.5     # wait for extra (duplicated) bytes
            if (quiet_until and now >= quiet_until) or now >= drain_deadline:
                break
        for fd, m in want.items():
            p.register(fd, m)
        timeout = 1 if (rate_bps > 0 or not sending) else 100
        for fd, ev in p.poll(timeout):
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                d = by_rfd[fd]
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    data = b""
                except OSError as e:
                    raise SetupError("read failed: %s" % e)
                if data:
                    d["chk"].feed(data)
                    d["last_rx"] = time.monotonic()
            if ev & select.POLLOUT and sending:
                d = by_wfd[fd]
                n = 16384
                if rate_bps > 0:
                    n = min(n, int(rate_bps * (time.monotonic() - t0)) - d["sent"])
                if n > 0:
                    chunk = d["src"].take(n)
                    try:
                        w = os.write(fd, chunk)
                    except BlockingIOError:
                        w = 0
                    d["src"].advance(w)
                    d["sent"] += w
    results = []
    for pd in dirs:
        res = {}
        for name, d in pd.items():
            c = d["chk"]
            span = (d["last_rx"] or t_end) - t0
            errs = []
            if c.error:
                errs.append(c.error)
            if c.received < d["sent"]:
                errs.append("%d byte(s) missing at the end"
                            % (d["sent"] - c.received))
            elif c.received > d["sent"]:
                errs.append("%d extra byte(s)" % (c.received - d["sent"]))
            res[name] = dict(sent=d["sent"], received=c.received,
                             mbps=c.received / MB / span if span > 0 else 0.0,
                             errors=errs)
        results.append(res)
    return results


def wait_byte(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    try:
        return os.read(fd, 1)
    except BlockingIOError:
        return b""


def round_trip(mod_fd, host_fd, i):
    """Host writes one byte, the module side answers one byte as soon as it
    reads it; the round trip is timed at the host side.  Returns ms or an
    error string."""
    ping = bytes([i & 0xFF])
    pong = bytes([(i * 7 + 3) & 0xFF])
    t0 = time.perf_counter_ns()
    os.write(host_fd, ping)
    got = wait_byte(mod_fd, 2.0)
    if got != ping:
        return "ping %d: module side got %r, expected %r" % (i, got, ping)
    os.write(mod_fd, pong)
    got = wait_byte(host_fd, 2.0)
    t1 = time.perf_counter_ns()
    if got != pong:
        return "ping %d: host side got %r, expected %r" % (i, got, pong)
    return (t1 - t0) / 1e6


def pingpong(relays, n, warmup=50):
    """Round trips through all relays interleaved (relay order alternating
    per round), so background load hits them alike."""
    rtts = {r["name"]: [] for r in relays}
    errors = {r["name"]: [] for r in relays}
    for i in range(warmup + n):
        order = relays if i % 2 == 0 else relays[::-1]
        for r in order:
            if errors[r["name"]]:
                continue
            x = round_trip(r["mod"], r["host_fd"], i)
            if isinstance(x, str):
                errors[r["name"]].append(x)
            elif i >= warmup:
                rtts[r["name"]].append(x)
    out = {}
    for name, v in rtts.items():
        v.sort()
        if v:
            out[name] = dict(p50=pct(v, 50), p99=pct(v, 99), max=v[-1],
                             n=len(v), errors=errors[name])
        else:
            nan = float("nan")
            out[name] = dict(p50=nan, p99=nan, max=nan, n=0,
                             errors=errors[name])
    return out


# ---------------------------------------------------------------- relays

def start_relay(name, argv_for, workdir):
    """Start one relay between a fresh module PTY pair and a host PTY it
    creates; returns a dict with its process and both ends."""
    mod_master, mod_slave = os.openpty()
    set_raw(mod_slave)             # the relay sets its own modes as well
    module = os.ttyname(mod_slave)
    host = os.path.join(workdir, "%s-host" % name)
    out = os.path.join(workdir, "%s-out.pcap" % name)
    for f in (host, out):
        if os.path.lexists(f):
            os.unlink(f)
    argv = argv_for(module, host, out)
    log_path = os.path.join(workdir, "%s.log" % name)
    log = open(log_path, "wb")
    print("[%s] %s" % (name, " ".join(argv)), flush=True)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
    r = dict(name=name, proc=proc, log=log, log_path=log_path, out=out,
             mod=mod_master, mod_slave=mod_slave, host_fd=-1)
    deadline = time.monotonic() + 10
    while r["host_fd"] < 0:
        if proc.poll() is not None:
            raise SetupError("%s exited with %s before creating %s (log %s)"
                             % (name, proc.returncode, host, log_path))
        if time.monotonic() > deadline:
            raise SetupError("%s did not create %s in 10 s (log %s)"
                             % (name, host, log_path))
        if os.path.exists(host):
            r["host_fd"] = os.open(host, os.O_RDWR | os.O_NOCTTY)
        else:
            time.sleep(0.02)
    set_raw(r["host_fd"])
    os.set_blocking(r["host_fd"], False)
    os.set_blocking(mod_master, False)
    return r


def stop_relay(r):
    proc = r["proc"]
    ru = None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            pass
    r["log"].close()
    for fd in (r["host_fd"], r["mod"], r["mod_slave"]):
        if fd >= 0:
            os.close(fd)
    r["exit"] = proc.returncode
    r["cpu_total"] = (ru.ru_utime + ru.ru_stime) if ru else float("nan")
    r["out_size"] = os.path.getsize(r["out"]) if os.path.exists(r["out"]) else None


def run_all(contenders, args):
    rows = []
    try:
        for name, argv_for in contenders:
            rows.append(start_relay(name, argv_for, args.workdir))
        time.sleep(0.3)                    # let the relays settle
        for r in rows:
            drain([r["mod"], r["host_fd"]], 0.1)
        groups = [[r] for r in rows] if args.sequential else [rows]
        for g in groups:                   # throughput
            print("[%s] throughput %.0f s ..." % (
                "+".join(r["name"] for r in g), args.duration), flush=True)
            c0 = [cpu_ticks(r["proc"].pid) for r in g]
            res = throughput([(r["mod"], r["host_fd"]) for r in g],
                             args.duration, args.rate, args.seed)
            for r, c, t in zip(g, c0, res):
                r["cpu_thr"] = cpu_ticks(r["proc"].pid) - c
                r["thr"] = t
            for r in g:
                drain([r["mod"], r["host_fd"]], 0.2)
        print("latency: %d round trips each, interleaved ..." % args.pings,
              flush=True)
        c0 = {r["name"]: cpu_ticks(r["proc"].pid) for r in rows}
        lat = pingpong(rows, args.pings)
        for r in rows:
            r["lat"] = lat[r["name"]]
            r["cpu_lat"] = cpu_ticks(r["proc"].pid) - c0[r["name"]]
            r["cpu_phases"] = r["cpu_thr"] + r["cpu_lat"]
    finally:
        for r in rows:
            stop_relay(r)
    return rows


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0,
                    help="throughput phase in seconds (default 60)")
    ap.add_argument("--quick", action="store_true",
                    help="5 s throughput, 500 round trips")
    ap.add_argument("--rate", type=float, default=2.0,
                    help="offered load per direction in MB/s, 0 = unpaced "
                         "(default 2; the target is >= 1)")
    ap.add_argument("--min-rate", type=float, default=1.0,
                    help="throughput target per direction, MB/s (default 1)")
    ap.add_argument("--pings", type=int, default=2000,
                    help="round trips for the latency phase (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attrace",
                    default=os.path.join(ROOT, "build", "default", "decoder", "attrace"))
    ap.add_argument("--attrace-arg", action="append", default=[],
                    help="extra argument for attrace capture (repeatable), "
                         "e.g. --attrace-arg=--quiet")
    ap.add_argument("--only", choices=("socat", "attrace"))
    ap.add_argument("--sequential", action="store_true",
                    help="throughput phase one relay after the other "
                         "(default: both relays at the same time)")
    ap.add_argument("--workdir",
                    default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                         "attrace-capture-bench-%d" % os.getuid()))
    args = ap.parse_args()
    if args.quick:
        args.duration = min(args.duration, 5.0)
        args.pings = min(args.pings, 500)
    os.makedirs(args.workdir, exist_ok=True)

    contenders = []
    if args.only != "attrace":
        socat = shutil.which("socat")
        if not socat:
            print("run.py: socat not found (apt-get install socat)", file=sys.stderr)
            return 2
        contenders.append(("socat", lambda mod, host, out: [
            socat, "-d", "-d", "%s,raw,echo=0" % mod,
            "pty,raw,echo=0,link=%s" % host]))
    if args.only != "socat":
        if not os.access(args.attrace, os.X_OK):
            print("run.py: %s missing: build attrace first" % args.attrace,
                  file=sys.stderr)
            return 2
        contenders.append(("attrace", lambda mod, host, out: [
            args.attrace, "capture", "--module", mod, "--link", host,
            "-w", out] + args.attrace_arg))

    print("duration %.0f s, offered %s per direction, %d round trips, "
          "%d CPUs" % (args.duration,
                       "%.2f MB/s" % args.rate if args.rate > 0 else "max",
                       args.pings, os.cpu_count()), flush=True)
    print("load average before: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    try:
        rows = run_all(contenders, args)
    except SetupError as e:
        print("run.py: %s" % e, file=sys.stderr)
        return 2

    hdr = ("relay", "M->H MB/s", "H->M MB/s", "bytes each way", "p50 ms",
           "p99 ms", "max ms", "CPU s", "CPU s total", "exit")
    print()
    print("%-8s %10s %10s %15s %8s %8s %8s %8s %11s %5s" % hdr)
    for r in rows:
        t = r["thr"]
        print("%-8s %10.3f %10.3f %15s %8.3f %8.3f %8.3f %8.2f %11.2f %5s" % (
            r["name"], t["M->H"]["mbps"], t["H->M"]["mbps"],
            "%d/%d" % (t["M->H"]["received"], t["H->M"]["received"]),
            r["lat"]["p50"], r["lat"]["p99"], r["lat"]["max"],
            r["cpu_phases"], r["cpu_total"], r["exit"]))
    print("(CPU s = relay utime+stime during the two phases, from /proc/PID/stat;"
          " total = getrusage of the child incl. start and stop;"
          " CPU s split throughput/latency: %s)" % ", ".join(
              "%s %.2f/%.2f" % (r["name"], r["cpu_thr"], r["cpu_lat"]) for r in rows))

    fails = []
    for r in rows:
        for dname, d in r["thr"].items():
            for e in d["errors"]:
                fails.append("%s %s: %s" % (r["name"], dname, e))
            if d["mbps"] < args.min_rate:
                fails.append("%s %s: %.3f MB/s < %.3f MB/s" % (
                    r["name"], dname, d["mbps"], args.min_rate))
        for e in r["lat"]["errors"]:
            fails.append("%s latency: %s" % (r["name"], e))
        if r["name"] == "attrace":
            if r["exit"] != 0:
                fails.append("attrace exited %s after SIGTERM (log %s)"
                             % (r["exit"], r["log_path"]))
            if not r["out_size"]:
                fails.append("attrace wrote no capture file")
            else:
                print("attrace capture file: %d bytes" % r["out_size"])
    by = {r["name"]: r for r in rows}
    if "socat" in by and "attrace" in by:
        s, a = by["socat"], by["attrace"]
        ok = a["lat"]["p99"] <= s["lat"]["p99"] + 1.0
        print("target p99: attrace %.3f ms <= socat %.3f ms + 1 ms: %s" % (
            a["lat"]["p99"], s["lat"]["p99"], "met" if ok else "MISSED"))
        if not ok:
            fails.append("p99 latency target missed")
        ok = a["cpu_phases"] <= s["cpu_phases"]
        print("target CPU: attrace %.2f s <= socat %.2f s: %s" % (
            a["cpu_phases"], s["cpu_phases"], "met" if ok else "MISSED"))
        if not ok:
            fails.append("CPU target missed")
    for f in fails:
        print("FAIL: %s" % f)
    print("result: %s" % ("all targets met" if not fails else "%d failure(s)" % len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
