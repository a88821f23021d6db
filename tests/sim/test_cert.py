"""End-to-end test of `attrace cert` against attrace-sim on PTYs.

Usage: test_cert.py SIM ATTRACE WORKDIR KEYS

KEYS is samples/keys (TEST ONLY keys): client.crt.der + client.key.der
(index 0), tlsca.crt.der and ca1.crt.der (server certificates),
wrong.key.pem (a key of no certificate here).

Round trips (write, list, read, delete) on both profiles with the IMEI read
from the module; failures each exit 1 with the module's words and the
diagnosis finding of the same rules as `attrace decode` (a wrong key, a
SHA-256 signature to a legacy module, OK after SECURE CMD ERROR); an
--imei of another module is refused before anything is sent (exit 2);
port problems exit 3 with a clear message (no such port, busy, a silent
module); echo off is noted. Each session's -w trace is decoded back.
"""

import fcntl
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import (Host, Simulator, TestRunner, check, decode_trace_json, expect_exit,  # noqa: E402
                    fresh_workdir, run)

if len(sys.argv) != 5:
    sys.exit("usage: test_cert.py SIM ATTRACE WORKDIR KEYS")
SIM, ATTRACE, WORK, KEYS = sys.argv[1:5]
IMEI = "358240051111110"
OTHER_IMEI = "358240052222221"
fresh_workdir(WORK)

CLIENT_CRT = os.path.join(KEYS, "client.crt.der")
CLIENT_KEY = os.path.join(KEYS, "client.key.der")
TLSCA = os.path.join(KEYS, "tlsca.crt.der")
CA1 = os.path.join(KEYS, "ca1.crt.der")
WRONG_KEY = os.path.join(KEYS, "wrong.key.pem")

_n = [0]


def sim(*extra, profile="legacy"):
    """A fresh simulator (empty store) with the test IMEI."""
    _n[0] += 1
    name = f"s{_n[0]}"
    return Simulator(SIM, WORK, name, os.path.join(WORK, name + ".store"), "--imei", IMEI,
                     "--profile", profile, *extra)


def cert(*args):
    r = run([ATTRACE, "cert"] + list(args), timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def thumb(path):
    r = run(["openssl", "x509", "-inform", "DER", "-in", path, "-noout", "-fingerprint", "-sha1"])
    return r.stdout.decode().strip().split("=")[1].replace(":", "")


def sbnr_line(listing, index):
    m = re.search(rf"^.*<- (\^SBNR: {index}, [^\n]*)$", listing, re.M)
    check(m, f"no ^SBNR line for index {index} in:\n{listing}")
    return m.group(1)


def round_trip(profile, extra):
    s = sim(profile=profile)
    port = s.path
    trace = os.path.join(WORK, f"write0-{profile}.pcap")
    out, _ = expect_exit(0, cert("write", "--port", port, "--index", "0", "--cert", CLIENT_CRT,
                            "--key", CLIENT_KEY, "-w", trace, *extra), "write 0")
    check("write of index 0: SECURE CMD END OK" in out, out)
    check(f"index 0: listed with size {os.path.getsize(CLIENT_CRT)} and thumbprint "
          f"{thumb(CLIENT_CRT)}" in out, out)
    expect_exit(0, cert("write", "--port", port, "--index", "1", "--cert", TLSCA, "--key",
                   CLIENT_KEY, *extra), "write 1")
    out, _ = expect_exit(0, cert("list", "--port", port, *extra), "list")
    line = sbnr_line(out, 1)
    check(f'size: "{os.path.getsize(TLSCA)}"' in line and thumb(TLSCA) in line, line)
    check(f'size: "{os.path.getsize(CLIENT_CRT)}"' in sbnr_line(out, 0), out)
    got = os.path.join(WORK, f"read1-{profile}.der")
    expect_exit(0, cert("read", "--port", port, "--index", "1", "--key", CLIENT_KEY, "-o", got,
                   *extra), "read 1")
    with open(got, "rb") as a, open(TLSCA, "rb") as b:
        check(a.read() == b.read(), "read 1: not the certificate written")
    expect_exit(0, cert("delete", "--port", port, "--index", "1", "--key", CLIENT_KEY, *extra),
           "delete 1")
    out, _ = expect_exit(0, cert("list", "--port", port, *extra), "list after delete")
    check('size: "0"' in sbnr_line(out, 1), out)
    out, _ = expect_exit(0, cert("list", "--port", port, "--json", *extra), "list --json")
    objs = [json.loads(x) for x in out.splitlines() if x.strip()]
    ex = [o for o in objs if o.get("type") == "exchange"]
    check([o["command"] for o in ex] == ["AT^SBNR=is_cert"], f"list --json: {out[:400]}")
    check(ex[0]["responses"][0]["text"].startswith(f'^SBNR: 0, size: "{os.path.getsize(CLIENT_CRT)}"'),
          f"{ex[0]['responses'][0]}")
    # The trace of the first write: ATE... AT, AT+CGSN, AT^SBNR, AT^SBNW, AT^SBNR.
    events = decode_trace_json(ATTRACE, trace)
    cmds = [e["command"] for e in events if e.get("type") == "exchange"]
    check(cmds == ["AT", "AT+CGSN", "AT^SBNR=is_cert", "AT^SBNW=is_cert,1", "AT^SBNR=is_cert"],
          f"trace commands {cmds}")
    sec = [e for e in events if e.get("type") == "exchange" and e["command"].startswith("AT^SBNW")]
    check(sec[0]["secure_result"]["result"] == "end_ok", f"{sec[0]}")
    imeis = [e for e in events if e.get("type") == "exchange" and e["command"] == "AT+CGSN"]
    check(IMEI in json.dumps(imeis), "the IMEI read from the module is in the trace")
    s.stop()


def test_round_trip_legacy():
    round_trip("legacy", [])


def test_round_trip_newer():
    round_trip("newer", ["--profile", "newer"])


def provisioned(*extra):
    s = sim(*extra)
    expect_exit(0, cert("write", "--port", s.path, "--index", "0", "--cert", CLIENT_CRT, "--key",
                   CLIENT_KEY), "write 0")
    return s


def test_wrong_key():
    s = provisioned()
    out, err = expect_exit(1, cert("write", "--port", s.path, "--index", "1", "--cert", TLSCA,
                              "--key", WRONG_KEY, "--client-cert", CLIENT_CRT), "wrong key")
    check("the module answered SECURE CMD ERROR, then ERROR" in err, err)
    check("signature_wrong_key" in out, f"finding signature_wrong_key missing:\n{out}")
    check("-> AT^SBNW=is_cert,1" in out, "the exchange is shown")
    s.stop()


def test_sha256_to_legacy():
    s = sim()
    out, err = expect_exit(1, cert("write", "--port", s.path, "--index", "0", "--cert", CLIENT_CRT,
                              "--key", CLIENT_KEY, "--sig", "sha256"), "sha256 to legacy")
    check("SECURE CMD ERROR" in err, err)
    check("signature_digest" in out, f"finding signature_digest missing:\n{out}")
    s.stop()


def test_ok_after_error_is_a_failure():
    s = provisioned("--ok-after-error")
    out, err = expect_exit(1, cert("write", "--port", s.path, "--index", "1", "--cert", TLSCA,
                              "--key", WRONG_KEY, "--client-cert", CLIENT_CRT),
                      "OK after SECURE CMD ERROR")
    check("the module answered SECURE CMD ERROR, then OK" in err, err)
    check("signature_wrong_key" in out, out)
    s.stop()


def test_other_imei_refused():
    s = sim()
    _, err = expect_exit(2, cert("write", "--port", s.path, "--index", "0", "--cert", CLIENT_CRT,
                            "--key", CLIENT_KEY, "--imei", OTHER_IMEI), "other IMEI")
    check(f"--imei {OTHER_IMEI}, but the module on {s.path} is {IMEI} (nothing sent)" in err,
          err)
    check("SBNW" not in s.logtext(), "a frame was sent")
    s.stop()


def test_imei_given_and_matching():
    s = sim()
    expect_exit(0, cert("write", "--port", s.path, "--index", "0", "--cert", CLIENT_CRT, "--key",
                   CLIENT_KEY, "--imei", IMEI), "matching --imei")
    s.stop()


def test_no_port():
    _, err = expect_exit(3, cert("list", "--port", os.path.join(WORK, "nothing-here")), "no port")
    check("nothing-here" in err, err)
    _, err = expect_exit(2, cert("list"), "missing --port")
    check("missing --port" in err, err)


def test_port_busy():
    s = sim()
    fd = os.open(s.path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _, err = expect_exit(3, cert("list", "--port", s.path), "busy port")
        check("port busy" in err, err)
    finally:
        os.close(fd)
    s.stop()


def test_silent_module():
    s = sim()
    s.proc.send_signal(signal.SIGSTOP)
    try:
        _, err = expect_exit(3, cert("list", "--port", s.path, "--timeout-ms", "700"), "silent")
        check("the module is silent: no answer to AT\\r within 700 ms" in err, err)
        check("data mode" in err, err)
    finally:
        s.proc.send_signal(signal.SIGCONT)
    s.stop()


def test_echo_off():
    s = sim()
    h = Host(s.path)
    h.ok("ATE0")
    h.close()
    out, err = expect_exit(0, cert("list", "--port", s.path), "echo off")
    check("echo is off" in err, err)
    check("^SBNR: 0" in out, out)
    s.stop()


runner = TestRunner("cert")
for t in (test_round_trip_legacy, test_round_trip_newer, test_wrong_key, test_sha256_to_legacy,
          test_ok_after_error_is_a_failure, test_other_imei_refused, test_imei_given_and_matching,
          test_no_port, test_port_busy, test_silent_module, test_echo_off):
    runner.run(t)
runner.finish()
