#!/usr/bin/env python3
"""End-to-end test of attrace-sim on pseudo-terminals.

Usage: test_sim.py SIM ATTRACE WORKDIR [TEST...]   (TEST: run only these, by name)

Starts the real simulator (temporary stores under WORKDIR, --link to a
symlink there), talks AT to it through the PTY like a host would, and
checks the answers, the secure-command exchange with frames made by the
real `attrace encode`, the store's persistence, the trace it writes (decoded
by `attrace decode --json`), the fault injections and a clean stop.
Timeouts are generous: nothing depends on timing tighter than ~0.5 s.
"""

import os
import re
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import (FINAL_RE, Host, Simulator, TestRunner, check, check_trace_commands,  # noqa: E402
                    decode_trace_json, encode_write_frame, final_result, fresh_workdir,
                    make_self_signed, openssl, parse_args, run)

SIM, ATTRACE, WORK, ONLY = parse_args("test_sim.py SIM ATTRACE WORKDIR [TEST...]")
IMEI = "358240051111110"
OTHER_IMEI = "490154203237518"

# a numeric result code (ATV0): digit and CR at the end of what arrived
NUMERIC_RE = re.compile(rb"[\r\n][0-9]\r$")
NUMERIC_OR_FINAL_RE = re.compile(NUMERIC_RE.pattern + b"|" + FINAL_RE.pattern)


def sbnr_lines(buf):
    return [l for l in buf.decode(errors="replace").split("\r\n") if l.startswith("^SBNR:")]


# ---------------------------------------------------------------- setup

fresh_workdir(WORK)
KEY = os.path.join(WORK, "client.key.pem")
CERT = os.path.join(WORK, "client.crt.pem")
CERT_DER = os.path.join(WORK, "client.crt.der")
make_self_signed(KEY, CERT, "/C=DE/O=attrace test/CN=sim e2e client")
openssl("x509", "-in", CERT, "-outform", "DER", "-out", CERT_DER)
CERT_SIZE = os.path.getsize(CERT_DER)


def encode(name, imei):
    return encode_write_frame(ATTRACE, os.path.join(WORK, name), 0, CERT, KEY, imei)


FRAME = encode("write0.bin", IMEI)
FRAME_OTHER = encode("write0-other-imei.bin", OTHER_IMEI)
# TotalLen two bytes short: the module takes the frame as ending 2 bytes
# early and the last 2 bytes are "too many data".
FRAME_LONG = struct.pack("<H", len(FRAME) - 2) + FRAME[2:]

STORE = os.path.join(WORK, "store")
TRACE = os.path.join(WORK, "main.pcap")

state = {}


def start(name, store, *extra):
    """An attrace-sim with its log, stderr and --link WORK/NAME-modem."""
    return Simulator(SIM, WORK, name, store, *extra)


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
    check(b.startswith(b"AT\r") and final_result(b) == "OK", f"AT with echo: {b!r}")
    b = host.at("ATE0")
    check(final_result(b) == "OK", f"ATE0: {b!r}")
    b = host.at("AT")
    check(b == b"\r\nOK\r\n", f"AT after ATE0 (no echo expected): {b!r}")
    b = host.at("ATE1")
    check(final_result(b) == "OK", f"ATE1: {b!r}")
    b = host.at("AT")
    check(b.startswith(b"AT\r") and b.endswith(b"\r\nOK\r\n"), f"AT after ATE1: {b!r}")


def t_verbose_off():
    host.at("ATV0", final=NUMERIC_OR_FINAL_RE)
    b = host.at("AT", final=NUMERIC_RE)
    check(b.endswith(b"0\r") and b"OK" not in b, f"AT after ATV0: {b!r}")
    b = host.at("ATV1", final=NUMERIC_OR_FINAL_RE)
    b = host.at("AT")
    check(b == b"AT\r\r\nOK\r\n", f"AT after ATV1: {b!r}")


def t_ati():
    b = host.at("ATI")
    lines = [l for l in b.split(b"\r\n") if l and l != b"ATI\r" and l != b"OK"]
    check(final_result(b) == "OK" and lines, f"ATI: {b!r}")


def t_cgsn():
    b = host.at("AT+CGSN")
    check(final_result(b) == "OK" and f"\r\n{IMEI}\r\n".encode() in b, f"AT+CGSN: {b!r}")


def t_unknown():
    b = host.at("AT+XYZZY")
    check(final_result(b) == "ERROR", f"unknown command: {b!r}")


def t_cmee():
    b = host.at("AT+CMEE=2")
    check(final_result(b) == "OK", f"AT+CMEE=2: {b!r}")
    # a known command with an invalid parameter: a text +CME ERROR
    b = host.at("AT^SBNR=no_such_store")
    f = final_result(b)
    check(re.fullmatch(r"\+CME ERROR: .*[A-Za-z].*", f), f"CMEE=2 error not text: {b!r}")
    b = host.at("AT+CMEE=1")
    b = host.at("AT^SBNR=no_such_store")
    check(re.fullmatch(r"\+CME ERROR: [0-9]+", final_result(b)), f"CMEE=1 error not numeric: {b!r}")
    host.at("AT+CMEE=0")


state["secure"] = []


def t_secure_write():
    res, fin = host.secure(FRAME)
    state["secure"].append("end_ok")
    check(res == "SECURE CMD END OK" and fin == "OK", f"WRITE index 0: {res!r} {fin!r}")
    b = host.at("AT^SBNR=is_cert")
    lines = sbnr_lines(b)
    check(final_result(b) == "OK" and lines, f"AT^SBNR=is_cert: {b!r}")
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
    check(final_result(b) == "OK", f"AT after the timeout: {b!r}")


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
    objs = decode_trace_json(ATTRACE, TRACE)
    ex = [o for o in objs if o.get("type") == "exchange"]
    check_trace_commands(objs, host.sent)
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
    buf = h.poll(1.5)
    check(buf == b"", f"--drop-rate 1 still answered: {buf!r}")
    h.close()
    check(s1.stop() == 0, "drop1 exit status")
    check("fault: dropped" in s1.logtext(), "drop not logged")
    s0 = start("drop0", os.path.join(WORK, "store-drop"), "--drop-rate", "0")
    h = Host(s0.link)
    check(final_result(h.at("AT")) == "OK", "--drop-rate 0 did not answer")
    h.close()
    check(s0.stop() == 0, "drop0 exit status")


def t_corrupt_rate():
    s = start("corrupt", os.path.join(WORK, "store-corrupt"), "--corrupt-rate", "1")
    h = Host(s.link)
    os.write(h.fd, b"AT+CGSN\r")
    time.sleep(0.5)
    h.drain(0.2)
    h.close()
    check(s.stop() == 0, "corrupt exit status")
    # Offset and bit, never the byte's value (the host's bytes may be a key).
    found = re.findall(r"fault: corrupted host byte at offset (\d+): bit ([0-7]) flipped",
                       s.logtext())
    check([int(o) for o, _ in found] == list(range(8)), f"8 corruptions not logged: {found}")


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
    check(final_result(b) == "OK" and dt >= 0.5, f"--delay-ms 600 answered in {dt * 1000:.0f} ms")
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
    check(final_result(ha.at("AT")) == "OK", "no answer after the host reopened the PTY")
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

if ONLY:  # run only the named tests (by hand)
    TESTS = [t for t in TESTS if t.__name__ in ONLY]

runner = TestRunner("sim")
for t in TESTS:
    if t in MAIN_TESTS and main_sim is None:
        runner.fail(t.__name__, "the main simulator did not start")
        continue
    runner.run(t)
runner.finish()
