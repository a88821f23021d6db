"""End-to-end test of `attrace cert` against attrace-sim on PTYs.

Usage: test_cert.py SIM ATTRACE WORKDIR KEYS

KEYS is samples/keys (TEST ONLY keys): client.crt.der + client.key.der
(index 0), tlsca.crt.der and ca1.crt.der (server certificates),
wrong.key.pem (a key of no certificate here).

Round trips (write, list, read, delete) on both profiles with the IMEI read
from the module; failures each exit 1 with the module's words and the
diagnosis finding of the same rules as `attrace decode` (a wrong key, a
SHA-256 signature to a legacy module, OK after SECURE CMD ERROR, and
frames sent as they are with --frame: one with TotalLen off by one, one
made for another module's IMEI); an
--imei of another module is refused before anything is sent (exit 2);
port problems exit 3 with a clear message (no such port, busy, a silent
module, one in data mode; --escape leaves data mode); echo off is noted. Each session's -w trace is decoded back.
"""

import fcntl
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import (Host, Simulator, TestRunner, check, decode_trace_json,  # noqa: E402
                    encode_write_frame, expect_exit, fresh_workdir, openssl, run)

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
    check(re.search(r"^ +error signature_wrong_key at TE\+\d+: ", out, re.M),
          f"finding signature_wrong_key missing:\n{out}")
    check("-> AT^SBNW=is_cert,1" in out, "the exchange is shown")
    s.stop()


def test_sha256_to_legacy():
    s = sim()
    out, err = expect_exit(1, cert("write", "--port", s.path, "--index", "0", "--cert", CLIENT_CRT,
                              "--key", CLIENT_KEY, "--sig", "sha256"), "sha256 to legacy")
    check("SECURE CMD ERROR" in err, err)
    check(re.search(r"^ +error signature_digest at TE\+\d+: ", out, re.M),
          f"finding signature_digest missing:\n{out}")
    s.stop()


def test_ok_after_error_is_a_failure():
    s = provisioned("--ok-after-error")
    out, err = expect_exit(1, cert("write", "--port", s.path, "--index", "1", "--cert", TLSCA,
                              "--key", WRONG_KEY, "--client-cert", CLIENT_CRT),
                      "OK after SECURE CMD ERROR")
    check("the module answered SECURE CMD ERROR, then OK" in err, err)
    check("signature_wrong_key" in out, out)
    s.stop()


def frame_file(name, imei=IMEI, edit=None):
    """A WRITE frame of TLSCA at index 1 from `attrace encode -o`, edited by
    edit(bytearray) when given, saved as WORK/name; its path and bytes."""
    path = os.path.join(WORK, name)
    frame = bytearray(encode_write_frame(ATTRACE, path, 1, TLSCA, CLIENT_KEY, imei))
    if edit:
        edit(frame)
        with open(path, "wb") as f:
            f.write(frame)
    return path, bytes(frame)


def test_frame_as_encoded():
    """--frame sends attrace encode's file as it is: the same success and
    read-back as the frame cert builds itself; a read frame brings the
    certificate back."""
    s = provisioned()
    path, _ = frame_file("write1.bin")
    out, _ = expect_exit(0, cert("write", "--port", s.path, "--frame", path), "--frame")
    check("write of index 1: SECURE CMD END OK\n" in out, out)
    check(f"index 1: listed with size {os.path.getsize(TLSCA)} and thumbprint {thumb(TLSCA)}"
          in out, out)
    read_frame = os.path.join(WORK, "read1.bin")
    r = run([ATTRACE, "encode", "read", "--index", "1", "--key", CLIENT_KEY, "--imei", IMEI,
             "-o", read_frame])
    check(r.returncode == 0, r.stderr.decode())
    got = os.path.join(WORK, "read1-frame.der")
    out, _ = expect_exit(0, cert("read", "--port", s.path, "--frame", read_frame, "-o", got),
                         "read --frame")
    check(out.startswith("read of index 1: SECURE CMD END OK\nindex 1: "), out)
    with open(got, "rb") as a, open(TLSCA, "rb") as b:
        check(a.read() == b.read(), "read --frame: not the certificate written")
    s.stop()


def test_frame_totallen_off_by_one():
    """The working frame with TotalLen one short: the module answers TOO MANY
    DATA, exit 1 with its words and the totallen_mismatch finding."""
    def shorten(b):
        t = int.from_bytes(b[0:2], "little") - 1
        b[0:2] = t.to_bytes(2, "little")
    s = provisioned()
    path, frame = frame_file("write1-totallen.bin", edit=shorten)
    n = len(frame)
    out, err = expect_exit(1, cert("write", "--port", s.path, "--frame", path, "--client-cert",
                                   CLIENT_CRT), "TotalLen off by one")
    check(err == "attrace cert: write of index 1: the module answered SECURE CMD TOO MANY "
          "DATA ERROR, then ERROR\n", err)
    m = re.search(r"^ +error totallen_mismatch at TE\+(\d+): (.*)$", out, re.M)
    check(m, f"finding totallen_mismatch missing:\n{out}")
    check(m.group(2) == f"TotalLen is {n - 1} but the frame's units end at byte {n} and {n} "
          "bytes were sent.", m.group(2))
    check("  <- SECURE CMD TOO MANY DATA ERROR" in out, "the module's answer is shown")
    s.stop()


def test_frame_other_imei():
    """A frame made for another module (its IMEI), sent as it is: the module
    refuses it, exit 1 with the imei_mismatch finding."""
    s = provisioned()
    path, _ = frame_file("write1-other-imei.bin", imei=OTHER_IMEI)
    out, err = expect_exit(1, cert("write", "--port", s.path, "--frame", path), "other IMEI")
    check(err == "attrace cert: write of index 1: the module answered SECURE CMD ERROR, "
          "then ERROR\n", err)
    check(re.search(rf"^ +error imei_mismatch at TE\+\d+: The frame carries IMEI {OTHER_IMEI} "
                    rf"but the module answered AT\+CGSN with {IMEI}\.$", out, re.M),
          f"finding imei_mismatch missing:\n{out}")
    s.stop()


def test_frame_refusals():
    """What --frame refuses before anything is sent (exit 2), and a frame
    file that cannot be read (exit 3)."""
    s = sim()
    path, _ = frame_file("write1-refusals.bin")
    _, err = expect_exit(2, cert("read", "--port", s.path, "--frame", path, "-o",
                                 os.path.join(WORK, "x.der")), "CmdId of another operation")
    check(err == f"attrace cert: refused: {path} is a WRITE frame (CmdId 1), not a read "
          "(nothing sent)\n", err)
    _, err = expect_exit(2, cert("write", "--port", s.path, "--frame", path, "--index", "2"),
                         "another index")
    check(err == f"attrace cert: refused: {path} addresses index 1, not --index 2 "
          "(nothing sent)\n", err)
    _, err = expect_exit(2, cert("write", "--port", s.path, "--frame", path, "--key",
                                 CLIENT_KEY), "--frame with --key")
    check(err.startswith("attrace cert: --frame is sent as it is: --cert, --key, --passin, "
                         "--keypass, --alias and --sig build a frame\n"), err)
    missing = os.path.join(WORK, "no-such-frame.bin")
    _, err = expect_exit(3, cert("write", "--port", s.path, "--frame", missing), "no file")
    check(err == f"attrace cert: --frame {missing}: No such file or directory\n", err)
    check("SBNW" not in s.logtext(), "a frame was sent")
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
    missing = os.path.join(WORK, "nothing-here")
    _, err = expect_exit(3, cert("list", "--port", missing), "no port")
    check(err == f"attrace cert: {missing}: no such serial port: No such file or directory\n",
          err)
    _, err = expect_exit(2, cert("list"), "missing --port")
    check("missing --port" in err, err)


def test_port_busy():
    s = sim()
    fd = os.open(s.path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _, err = expect_exit(3, cert("list", "--port", s.path), "busy port")
        check(err == f"attrace cert: {s.path}: port busy: another program has it open "
              "(attrace, a terminal program, ModemManager?)\n", err)
    finally:
        os.close(fd)
    s.stop()


DATA_MODE_HINT = ("attrace cert: hint: a module in data mode (after CONNECT, transparent mode) "
                  "takes commands as data: --escape leaves it with +++ (a second of silence "
                  "before and after), as does toggling DTR; check the port, the baud rate and "
                  "the flow control too\n")


def test_silent_module():
    s = sim()
    s.proc.send_signal(signal.SIGSTOP)
    try:
        _, err = expect_exit(3, cert("list", "--port", s.path, "--timeout-ms", "700"), "silent")
        check(err == f"attrace cert: {s.path}: the module is silent: no answer to AT\\r "
              "within 700 ms\n" + DATA_MODE_HINT, err)
    finally:
        s.proc.send_signal(signal.SIGCONT)
    s.stop()


def test_data_mode():
    """A module in data mode (a transparent connection) takes AT as data: a
    silent module, with the hint to --escape; --escape leaves data mode with
    +++ and says so; on a module in command mode it says that instead."""
    s = sim("--data-mode")
    _, err = expect_exit(3, cert("list", "--port", s.path, "--timeout-ms", "700"), "data mode")
    check(err == f"attrace cert: {s.path}: the module is silent: no answer to AT\\r within "
          "700 ms\n" + DATA_MODE_HINT, err)
    trace = os.path.join(WORK, "escape.pcap")
    out, err = expect_exit(0, cert("list", "--port", s.path, "--escape", "-w", trace),
                           "--escape")
    check(err == f"attrace cert: --escape: {s.path} answered +++: it was in data mode and now "
          "takes commands (its connection stays open: ATO or AT^SIST goes back to it)\n", err)
    check('^SBNR: 0, size: "0"' in out, out)
    check(re.search(r"data mode: \+\+\+ with 1000 ms of silence around it -> command mode",
                    s.logtext()), s.logtext())
    # The escape is in the trace: +++ from the host, the module's OK.
    events = decode_trace_json(ATTRACE, trace)
    texts = [(e.get("dir"), e.get("text")) for e in events if e.get("type") == "unexpected"]
    check(("te_to_me", "+++") in texts and ("me_to_te", "OK") in texts, f"{texts}")
    _, err = expect_exit(0, cert("list", "--port", s.path, "--escape"), "--escape, command mode")
    check(err == f"attrace cert: --escape: no answer to +++ on {s.path}: the module was in "
          "command mode already\n", err)
    s.stop()


def test_echo_off():
    s = sim()
    h = Host(s.path)
    h.ok("ATE0")
    h.close()
    out, err = expect_exit(0, cert("list", "--port", s.path), "echo off")
    check(err == "attrace cert: note: echo is off (ATE0): the module does not repeat the "
          "commands; attrace does not need it (ATE1 turns it on)\n", err)
    check("^SBNR: 0" in out, out)
    s.stop()


def keystore_cert_der(store):
    """The DER of keytool's exported certificate of the module-client entry."""
    pem = os.path.join(KEYS, f"{os.path.basename(store)}.module-client.crt.pem")
    der = os.path.join(WORK, os.path.basename(store) + ".module-client.der")
    openssl("x509", "-in", pem, "-outform", "DER", "-out", der)
    return der


def test_java_keystores():
    """attrace cert signs with a JKS or JCEKS entry (the key options of
    attrace encode): index 0 takes the keystore's certificate and carries
    its key, index 1 is signed with it and the module's check passes."""
    env = dict(os.environ, STOREPASS="St0re-Pass", KEYPASS="K3y-Pass")
    for store in ("client.jks", "client.jceks"):
        s = sim()
        key = ["--key", os.path.join(KEYS, store), "--passin", "env:STOREPASS", "--keypass",
               "env:KEYPASS", "--alias", "Module-Client"]
        r = run([ATTRACE, "cert", "write", "--port", s.path, "--index", "0"] + key, env=env,
                timeout=60)
        out, err = r.stdout.decode(), r.stderr.decode()
        check(r.returncode == 0, f"{store}: write 0: exit {r.returncode}\n{out}\n{err}")
        der = keystore_cert_der(os.path.join(KEYS, store))
        check(f"index 0: listed with size {os.path.getsize(der)} and thumbprint {thumb(der)}"
              in out, f"{store}: the keystore's certificate at index 0:\n{out}")
        r = run([ATTRACE, "cert", "write", "--port", s.path, "--index", "1", "--cert", TLSCA]
                + key, env=env, timeout=60)
        out, err = r.stdout.decode(), r.stderr.decode()
        check(r.returncode == 0, f"{store}: write 1: exit {r.returncode}\n{out}\n{err}")
        check("write of index 1: SECURE CMD END OK" in out, out)
        # A wrong store password: exit 3 before anything is sent.
        r = run([ATTRACE, "cert", "write", "--port", s.path, "--index", "1", "--cert", TLSCA]
                + key, env=dict(env, STOREPASS="wrong"), timeout=60)
        check(r.returncode == 3, f"{store}: wrong store password: exit {r.returncode}")
        s.stop()


runner = TestRunner("cert")
for t in (test_round_trip_legacy, test_round_trip_newer, test_java_keystores, test_wrong_key,
          test_sha256_to_legacy,
          test_ok_after_error_is_a_failure, test_frame_as_encoded, test_frame_totallen_off_by_one,
          test_frame_other_imei, test_frame_refusals, test_other_imei_refused, test_imei_given_and_matching,
          test_no_port, test_port_busy, test_silent_module, test_data_mode, test_echo_off):
    runner.run(t)
runner.finish()
