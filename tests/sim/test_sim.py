#!/usr/bin/env python3
"""End-to-end test of attrace-sim on pseudo-terminals.

Usage: test_sim.py SIM ATTRACE WORKDIR

Starts the real simulator (temporary stores under WORKDIR, --link to a
symlink there), talks AT to it through the PTY like a host would, and
checks the answers, the secure-command exchange with frames made by the
real `attrace encode`, the store's persistence, the trace it writes (decoded
by `attrace decode --json`), the fault injections and a clean stop.
Timeouts are generous: nothing depends on timing tighter than ~0.5 s.
"""

import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import traceback

SIM, ATTRACE, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
IMEI = "358240051111110"
OTHER_IMEI = "490154203237518"

FINAL_RE = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*|NO CARRIER)\r\n")
NUMERIC_RE = re.compile(rb"[\r\n][0-9]\r$")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# ---------------------------------------------------------------- helpers


class Sim:
    """One running attrace-sim."""

    def __init__(self, name, store, *extra, link=True):
        self.name = name
        self.link = os.path.join(WORK, name + "-modem") if link else None
        self.log = os.path.join(WORK, name + ".log")
        args = [SIM, "--store", store, "--log", self.log] + list(extra)
        if self.link:
            args += ["--link", self.link]
        self.errf = open(os.path.join(WORK, name + ".stderr"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errf)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        check(r, f"{name}: no path line within 10 s")
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"attrace-sim: module on (/dev/\S+)\n", line)
        check(m, f"{name}: unexpected first line {line!r}")
        self.pty = m.group(1)
        if self.link:
            check(os.path.islink(self.link), f"{name}: link {self.link} missing")
            check(os.path.realpath(self.link) == os.path.realpath(self.pty),
                  f"{name}: link does not point to {self.pty}")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"{self.name}: did not stop within 10 s of signal {sig}")
        self.errf.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.errf.closed:
            self.errf.close()

    def logtext(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()


def open_pty(path, rtscts=False):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    a = termios.tcgetattr(fd)
    # raw mode (cfmakeraw)
    a[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP |
              termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    a[1] &= ~termios.OPOST
    a[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    a[2] &= ~(termios.CSIZE | termios.PARENB)
    a[2] |= termios.CS8 | termios.CLOCAL | termios.CREAD
    if rtscts:
        a[2] |= termios.CRTSCTS
    else:
        a[2] &= ~termios.CRTSCTS
    a[4] = a[5] = termios.B115200
    a[6][termios.VMIN] = 0
    a[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, a)
    return fd


def read_until(fd, pred, timeout):
    """Reads until pred(buf) holds; returns (buf, ok)."""
    buf = b""
    end = time.monotonic() + timeout
    while not pred(buf):
        left = end - time.monotonic()
        if left <= 0:
            return buf, False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                buf += os.read(fd, 4096)
            except BlockingIOError:
                pass
    return buf, True


def drain(fd, quiet=0.2):
    """Discards whatever arrives until the line is quiet."""
    while select.select([fd], [], [], quiet)[0]:
        if not os.read(fd, 4096):
            break


def has_final(buf):
    return FINAL_RE.search(buf) is not None


class Host:
    """The host side of one PTY; remembers every command line it sent."""

    def __init__(self, path, rtscts=False):
        self.fd = open_pty(path, rtscts)
        self.sent = []

    def close(self):
        os.close(self.fd)

    def at(self, cmd, timeout=5.0, pred=has_final):
        os.write(self.fd, cmd.encode() + b"\r")
        self.sent.append(cmd)
        buf, ok = read_until(self.fd, pred, timeout)
        check(ok, f"{cmd!r}: no final result within {timeout} s, got {buf!r}")
        time.sleep(0.1)  # PROTOCOL.md 10: ~100 ms between commands
        return buf

    def final(self, buf):
        return FINAL_RE.findall(buf)[-1].decode()

    def secure(self, frame, cut=None, timeout=8.0):
        """AT^SBNW=is_cert,1, the frame (or its first `cut` bytes); returns
        (secure result line, final result)."""
        cmd = "AT^SBNW=is_cert,1"
        os.write(self.fd, cmd.encode() + b"\r")
        self.sent.append(cmd)
        buf, ok = read_until(self.fd, lambda b: re.search(rb"SECURE CMD READY[^\r\n]*\r\n", b)
                             or has_final(b), 5.0)
        check(ok and b"SECURE CMD READY" in buf, f"no SECURE CMD READY: {buf!r}")
        os.write(self.fd, frame if cut is None else frame[:cut])
        rest, ok = read_until(self.fd, has_final, timeout)
        check(ok, f"secure command: no final result within {timeout} s: {rest!r}")
        m = re.search(rb"SECURE CMD [^\r\n]*", rest)
        check(m, f"secure command: no SECURE CMD result line: {rest!r}")
        time.sleep(0.1)
        return m.group(0).decode(), self.final(rest)


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def sbnr_lines(buf):
    return [l for l in buf.decode(errors="replace").split("\r\n") if l.startswith("^SBNR:")]


# ---------------------------------------------------------------- setup

shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
KEY = os.path.join(WORK, "client.key.pem")
CERT = os.path.join(WORK, "client.crt.pem")
CERT_DER = os.path.join(WORK, "client.crt.der")
r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", KEY,
         "-out", CERT, "-days", "3650", "-subj", "/C=DE/O=attrace test/CN=sim e2e client"])
if r.returncode != 0:
    sys.exit("openssl req failed: " + r.stderr.decode())
run(["openssl", "x509", "-in", CERT, "-outform", "DER", "-out", CERT_DER], check=True)
CERT_SIZE = os.path.getsize(CERT_DER)


def encode(name, imei):
    out = os.path.join(WORK, name)
    r = run([ATTRACE, "encode", "write", "--index", "0", "--cert", CERT, "--key", KEY,
             "--imei", imei, "-o", out])
    if r.returncode != 0:
        sys.exit("attrace encode failed: " + r.stderr.decode())
    with open(out, "rb") as f:
        return f.read()


FRAME = encode("write0.bin", IMEI)
FRAME_OTHER = encode("write0-other-imei.bin", OTHER_IMEI)
# TotalLen two bytes short: the module takes the frame as ending 2 bytes
# early and the last 2 bytes are "too many data".
FRAME_LONG = struct.pack("<H", len(FRAME) - 2) + FRAME[2:]

STORE = os.path.join(WORK, "store")
TRACE = os.path.join(WORK, "main.pcap")

passed = 0
failed = 0
sims = []
state = {}


def test(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {fn.__name__}")
    except Exception as e:  # a broken test must not hide the others
        failed += 1
        print(f"FAIL {fn.__name__}: {e}")
        if not isinstance(e, Fail):
            traceback.print_exc()
    sys.stdout.flush()


def start(name, store, *extra, link=True):
    s = Sim(name, store, *extra, link=link)
    sims.append(s)
    return s


# ---------------------------------------------------------------- tests
# The main instance, traced; the tests below run in order on it.

main_sim = None
host = None


def t_start_main():
    global main_sim, host
    main_sim = start("main", STORE, "--imei", IMEI, "--timeout-ms", "800", "-w", TRACE)
    host = Host(main_sim.link)
    check(os.stat(TRACE).st_mode & 0o777 == 0o600, "trace file is not mode 0600")


def t_echo():
    b = host.at("AT")
    check(b.startswith(b"AT\r") and host.final(b) == "OK", f"AT with echo: {b!r}")
    b = host.at("ATE0")
    check(host.final(b) == "OK", f"ATE0: {b!r}")
    b = host.at("AT")
    check(b == b"\r\nOK\r\n", f"AT after ATE0 (no echo expected): {b!r}")
    b = host.at("ATE1")
    check(host.final(b) == "OK", f"ATE1: {b!r}")
    b = host.at("AT")
    check(b.startswith(b"AT\r") and b.endswith(b"\r\nOK\r\n"), f"AT after ATE1: {b!r}")


def t_verbose_off():
    host.at("ATV0", pred=lambda b: NUMERIC_RE.search(b) is not None or has_final(b))
    b = host.at("AT", pred=lambda b: NUMERIC_RE.search(b) is not None)
    check(b.endswith(b"0\r") and b"OK" not in b, f"AT after ATV0: {b!r}")
    b = host.at("ATV1", pred=lambda b: NUMERIC_RE.search(b) is not None or has_final(b))
    b = host.at("AT")
    check(b == b"AT\r\r\nOK\r\n", f"AT after ATV1: {b!r}")


def t_ati():
    b = host.at("ATI")
    lines = [l for l in b.split(b"\r\n") if l and l != b"ATI\r" and l != b"OK"]
    check(host.final(b) == "OK" and lines, f"ATI: {b!r}")


def t_cgsn():
    b = host.at("AT+CGSN")
    check(host.final(b) == "OK" and f"\r\n{IMEI}\r\n".encode() in b, f"AT+CGSN: {b!r}")


def t_unknown():
    b = host.at("AT+XYZZY")
    check(host.final(b) == "ERROR", f"unknown command: {b!r}")


def t_cmee():
    b = host.at("AT+CMEE=2")
    check(host.final(b) == "OK", f"AT+CMEE=2: {b!r}")
    # a known command with an invalid parameter: a text +CME ERROR
    b = host.at("AT^SBNR=no_such_store")
    f = host.final(b)
    check(re.fullmatch(r"\+CME ERROR: .*[A-Za-z].*", f), f"CMEE=2 error not text: {b!r}")
    b = host.at("AT+CMEE=1")
    b = host.at("AT^SBNR=no_such_store")
    check(re.fullmatch(r"\+CME ERROR: [0-9]+", host.final(b)), f"CMEE=1 error not numeric: {b!r}")
    host.at("AT+CMEE=0")


state["secure"] = []


def t_secure_write():
    res, fin = host.secure(FRAME)
    state["secure"].append("end_ok")
    check(res == "SECURE CMD END OK" and fin == "OK", f"WRITE index 0: {res!r} {fin!r}")
    b = host.at("AT^SBNR=is_cert")
    lines = sbnr_lines(b)
    check(host.final(b) == "OK" and lines, f"AT^SBNR=is_cert: {b!r}")
    check(lines[0].startswith(f'^SBNR: 0, size: "{CERT_SIZE}"'),
          f"index 0 not listed with size {CERT_SIZE}: {lines[0]!r}")
    check("sim e2e client" in lines[0], f"subject missing: {lines[0]!r}")
    state["listing"] = lines


def t_too_many_data():
    res, fin = host.secure(FRAME_LONG)
    state["secure"].append("too_many_data")
    check("MANY DATA" in res, f"TotalLen 2 short: {res!r} {fin!r}")


def t_service_timeout():
    t0 = time.monotonic()
    res, fin = host.secure(FRAME, cut=len(FRAME) // 2)
    state["secure"].append("service_timeout")
    check(res == "SECURE CMD SERVICE TIMEOUT ERROR", f"cut frame: {res!r} {fin!r}")
    check(time.monotonic() - t0 >= 0.6, "service timeout came before --timeout-ms 800")
    b = host.at("AT")  # the module is back in command mode
    check(host.final(b) == "OK", f"AT after the timeout: {b!r}")


def t_wrong_imei():
    res, fin = host.secure(FRAME_OTHER)
    state["secure"].append("error")
    check("ERROR" in res and res != "SECURE CMD END OK", f"wrong IMEI: {res!r} {fin!r}")
    b = host.at("AT^SBNR=is_cert")
    check(sbnr_lines(b) == state["listing"], "listing changed after a refused frame")


def t_sigterm():
    host.close()
    rc = main_sim.stop(signal.SIGTERM)
    check(rc == 0, f"exit status {rc} after SIGTERM")
    check(not os.path.lexists(main_sim.link), "link not removed on exit")
    log = main_sim.logtext()
    check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", log, re.M),
          f"log lines lack a UTC timestamp: {log[:200]!r}")


def t_trace_decodes():
    r = run([ATTRACE, "decode", "--json", TRACE])
    check(r.returncode in (0, 1), f"decode exit {r.returncode}: {r.stderr.decode()}")
    objs = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
    ex = [o for o in objs if o.get("type") == "exchange"]
    cmds = [o["command"] for o in ex]
    check(cmds == host.sent, f"trace commands differ:\n  trace {cmds}\n  sent  {host.sent}")
    sec = [o["secure_result"]["result"] for o in ex if o.get("secure_result")]
    check(sec == state["secure"], f"trace secure results {sec} != {state['secure']}")
    notes = [o.get("text", "") for o in objs
             if o.get("type") == "trace_event" and o.get("event") == "note"]
    check(any("simulator start" in n for n in notes) and notes[-1].startswith("simulator stop"),
          f"start/stop notes missing: {notes}")
    check(any(o.get("event") == "settings" for o in objs if o.get("type") == "trace_event"),
          "no settings record")


def t_persistence():
    s = start("restart", STORE, "--imei", IMEI)
    h = Host(s.link)
    b = h.at("AT^SBNR=is_cert")
    check(sbnr_lines(b) == state["listing"], f"listing after restart differs: {b!r}")
    h.close()
    check(s.stop(signal.SIGINT) == 0, "exit status after SIGINT")


def t_drop_rate():
    s1 = start("drop1", os.path.join(WORK, "store-drop"), "--drop-rate", "1", "--seed", "7")
    h = Host(s1.link)
    os.write(h.fd, b"AT\r")
    buf, ok = read_until(h.fd, lambda b: len(b) > 0, 1.5)
    check(not ok and buf == b"", f"--drop-rate 1 still answered: {buf!r}")
    h.close()
    check(s1.stop() == 0, "drop1 exit status")
    check("fault: dropped" in s1.logtext(), "drop not logged")
    s0 = start("drop0", os.path.join(WORK, "store-drop"), "--drop-rate", "0")
    h = Host(s0.link)
    check(h.final(h.at("AT")) == "OK", "--drop-rate 0 did not answer")
    h.close()
    check(s0.stop() == 0, "drop0 exit status")


def t_corrupt_rate():
    s = start("corrupt", os.path.join(WORK, "store-corrupt"), "--corrupt-rate", "1")
    h = Host(s.link)
    os.write(h.fd, b"AT+CGSN\r")
    time.sleep(0.5)
    drain(h.fd)
    h.close()
    check(s.stop() == 0, "corrupt exit status")
    check(len(re.findall(r"fault: corrupted", s.logtext())) == 8, "8 corruptions not logged")


def t_byte_time():
    s = start("paced", os.path.join(WORK, "store-paced"), "--byte-time-us", "200")
    h = Host(s.link)
    t0 = time.monotonic()
    b = h.at("AT^SBNR=is_cert", timeout=10)
    dt = time.monotonic() - t0 - 0.1  # minus the pause in at()
    check(len(b) >= 100, f"answer too short to measure: {len(b)} bytes")
    check(dt >= 0.015 and dt >= len(b) * 200e-6 * 0.8,
          f"{len(b)} bytes in {dt * 1000:.1f} ms: not paced at 200 us/byte")
    h.close()
    check(s.stop() == 0, "paced exit status")


def t_delay():
    s = start("delayed", os.path.join(WORK, "store-delay"), "--delay-ms", "600")
    h = Host(s.link)
    t0 = time.monotonic()
    b = h.at("AT")
    dt = time.monotonic() - t0 - 0.1
    check(h.final(b) == "OK" and dt >= 0.5, f"--delay-ms 600 answered in {dt * 1000:.0f} ms")
    h.close()
    check(s.stop() == 0, "delayed exit status")


def t_rtscts():
    s = start("rtscts", os.path.join(WORK, "store-rtscts"), "--require-rtscts",
              "--imei", IMEI, "--timeout-ms", "800")
    h = Host(s.link, rtscts=False)
    res, _ = h.secure(FRAME)
    check(res != "SECURE CMD END OK", f"frame went through without RTS/CTS: {res!r}")
    h.close()
    h = Host(s.link, rtscts=True)
    res, fin = h.secure(FRAME)
    check(res == "SECURE CMD END OK", f"frame with RTS/CTS: {res!r} {fin!r}")
    h.close()
    check(s.stop() == 0, "rtscts exit status")
    check("fault: overrun" in s.logtext(), "overrun not logged")


def t_side_by_side():
    a = start("left", os.path.join(WORK, "store-left"), "--imei", IMEI)
    b = start("right", os.path.join(WORK, "store-right"), "--imei", OTHER_IMEI)
    check(a.pty != b.pty, "two simulators on the same PTY")
    ha, hb = Host(a.link), Host(b.link)
    ra, rb = ha.at("AT+CGSN"), hb.at("AT+CGSN")
    check(IMEI.encode() in ra and OTHER_IMEI.encode() in rb, f"IMEIs mixed up: {ra!r} {rb!r}")
    # host close and reopen: the simulator keeps serving
    ha.close()
    ha = Host(a.link)
    check(ha.final(ha.at("AT")) == "OK", "no answer after the host reopened the PTY")
    ha.close()
    hb.close()
    check(a.stop() == 0 and b.stop() == 0, "exit status of the pair")


def t_usage_errors():
    for args in (["--drop-rate", "2", "--store", WORK], ["--imei", "12"],
                 ["--store", WORK, "--profile", "nope"], ["--store", WORK, "--bogus"]):
        r = run([SIM] + args, timeout=10)
        check(r.returncode == 2 and r.stderr, f"{args}: exit {r.returncode}, want 2 and a message")
    r = run([SIM, "--help"], timeout=10)
    out = r.stdout.decode()
    check(r.returncode == 0 and all(o in out for o in (
        "--link", "--port", "--store", "--imei", "--profile", "--timeout-ms", "--drop-rate",
        "--corrupt-rate", "--delay-ms", "--byte-time-us", "--require-rtscts", "--seed",
        "--log", "-w")), "--help does not document every option")
    # --link never replaces a regular file
    path = os.path.join(WORK, "not-a-link")
    with open(path, "w") as f:
        f.write("keep me")
    r = run([SIM, "--store", os.path.join(WORK, "store-x"), "--link", path], timeout=10)
    check(r.returncode != 0 and open(path).read() == "keep me", "--link replaced a regular file")


TESTS = [t_start_main, t_echo, t_verbose_off, t_ati, t_cgsn, t_unknown, t_cmee,
         t_secure_write, t_too_many_data, t_service_timeout, t_wrong_imei, t_sigterm,
         t_trace_decodes, t_persistence, t_drop_rate, t_corrupt_rate, t_byte_time, t_delay,
         t_rtscts, t_side_by_side, t_usage_errors]

# these talk to the main instance started by t_start_main
MAIN_TESTS = TESTS[1:13]

if len(sys.argv) > 4:  # run only the named tests (by hand)
    TESTS = [t for t in TESTS if t.__name__ in sys.argv[4:]]

try:
    for t in TESTS:
        if t in MAIN_TESTS and main_sim is None:
            failed += 1
            print(f"FAIL {t.__name__}: the main simulator did not start")
            continue
        test(t)
finally:
    for s in sims:
        s.kill()

print(f"sim: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
