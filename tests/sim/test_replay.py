"""End-to-end test of `attrace replay` against attrace-sim on PTYs.

Usage: test_replay.py SIM ATTRACE WORKDIR SRCDIR

Every committed sample (samples/*.pcap, recorded by attrace-provision)
replayed onto a fresh simulator set up as samples/regenerate.sh set it up
(its table is read from there; TLS samples get `openssl s_server -rev` on
the recorded port) answers as recorded (exit 0). Onto a module with another
IMEI the provisioning fails without --resign (exit 1, imei_mismatch) and
succeeds with it; four simulators at once give four result lines and four
traces; a port that vanishes mid-replay and a silent module exit 3 with a
clear message and leave a readable trace; --escape takes a module out of
data mode before the replay; a newer module's READ of index 15 replays as
recorded.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import (Simulator, TestRunner, check, decode_trace_json, expect_exit,  # noqa: E402
                    fresh_workdir, run, start_process)

if len(sys.argv) != 5:
    sys.exit("usage: test_replay.py SIM ATTRACE WORKDIR SRCDIR")
SIM, ATTRACE, WORK, SRC = sys.argv[1:5]
SAMPLES = os.path.join(SRC, "samples")
KEYS = os.path.join(SAMPLES, "keys")
IMEI = "358240051111110"
OTHER_IMEI = "358240052222221"
fresh_workdir(WORK)

# name -> (simulator options, host uses RTS/CTS, TLS server), from regenerate.sh
TABLE = {}
with open(os.path.join(SAMPLES, "regenerate.sh")) as f:
    for m in re.finditer(r'^\s*"([a-z0-9-]+)\|([a-z0-9-]+)\|([^|]*)\|([^|]*)\|([a-z]*)"$',
                         f.read(), re.M):
        TABLE[m.group(1)] = (m.group(3).split(), "--rtscts" in m.group(4), m.group(5) == "tls")

_n = [0]


def sim(*extra, imei=IMEI):
    _n[0] += 1
    name = f"s{_n[0]}"
    return Simulator(SIM, WORK, name, os.path.join(WORK, name + ".store"), "--imei", imei,
                     *extra)


def replay(*args, timeout=120):
    r = run([ATTRACE, "replay"] + list(args), timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def tls_port(sample):
    """The TLS server port the recording connected to."""
    for e in decode_trace_json(ATTRACE, sample):
        m = re.search(r'socktcps://127\.0\.0\.1:(\d+)', e.get("command", "") or "")
        if e.get("type") == "exchange" and m:
            return int(m.group(1))
    raise AssertionError("no TLS address in " + sample)


def s_server(port):
    p = start_process(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                       os.path.join(KEYS, "server.crt.pem"), "-key",
                       os.path.join(KEYS, "server.key.pem"), "-rev", "-quiet"],
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    for _ in range(50):
        r = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"],
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return p
        time.sleep(0.1)
    raise AssertionError(f"openssl s_server on {port} did not start")


def test_every_sample_replays():
    check(len(TABLE) >= 10, f"sample table from regenerate.sh: {sorted(TABLE)}")
    for name, (simopts, rtscts, tls) in sorted(TABLE.items()):
        sample = os.path.join(SAMPLES, name + ".pcap")
        srv = s_server(tls_port(sample)) if tls else None
        s = sim(*simopts)
        trace = os.path.join(WORK, f"replay-{name}.pcap")
        args = [sample, "--port", s.path, "-w", trace] + (["--rtscts"] if rtscts else [])
        out, _ = expect_exit(0, replay(*args), f"replay of {name}")
        check(re.search(rf"{re.escape(s.path)}: ok: \d+ exchanges answered as recorded", out), out)
        # The replay's own trace shows the same commands as the sample.
        want = [e["command"] for e in decode_trace_json(ATTRACE, sample) if e.get("type") == "exchange"]
        got = [e["command"] for e in decode_trace_json(ATTRACE, trace) if e.get("type") == "exchange"]
        check(got == want, f"{name}: replayed commands {got}\n recorded {want}")
        s.stop()
        if srv:
            srv.kill()
            srv.wait()


def test_other_imei_needs_resign():
    sample = os.path.join(SAMPLES, "provisioning-ok.pcap")
    s = sim(imei=OTHER_IMEI)
    out, _ = expect_exit(1, replay(sample, "--port", s.path, "--only-secure"), "without --resign")
    check("imei_mismatch" in out, f"finding imei_mismatch missing:\n{out}")
    check(re.search(r"\* SECURE CMD END OK\s+# SECURE CMD ERROR", out), f"side by side:\n{out}")
    # The rows the comparison (compare.h) paired: the intermediate results
    # alike, then the final results marked as the difference they are.
    check(re.search(r"\n    CONNECT +\| CONNECT\n    SECURE CMD READY: SEND COMMAND \.\.\. +\| "
                    r"SECURE CMD READY: SEND COMMAND \.\.\.\n  \* SECURE CMD END OK +# SECURE CMD ERROR\n"
                    r"  \* OK +# ERROR\n", out), f"side by side rows:\n{out}")
    check("DIVERGED: diverged at exchange" in out, out)
    s.stop()
    s = sim(imei=OTHER_IMEI)
    trace = os.path.join(WORK, "resigned.pcap")
    expect_exit(0, replay(sample, "--port", s.path, "--only-secure", "--resign", "--key",
                     os.path.join(KEYS, "client.key.der"), "-w", trace), "with --resign")
    ev = decode_trace_json(ATTRACE, trace)
    frames = [e for e in ev if e.get("type") == "frame"]
    check(len(frames) == 3 and all(OTHER_IMEI in str(f) for f in frames),
          "the frames carry the target's IMEI")
    check(not [e for e in ev if e.get("type") == "finding" and e.get("severity") == "error"],
          "no error finding in the re-signed session")
    s.stop()


def cert(*args):
    r = run([ATTRACE, "cert"] + list(args), timeout=60)
    check(r.returncode == 0, f"attrace cert {args}: exit {r.returncode}\n{r.stderr.decode()}")


def test_read_back_frame_differs():
    """The module's response frame is compared field by field: a READ that
    returns another certificate diverges (replay compared only lines before
    it compared through compare.h), printed as attrace diff prints it."""
    key = os.path.join(KEYS, "client.key.der")
    stores = []
    for ca in ("tlsca.crt.der", "ca1.crt.der"):
        s = sim()
        cert("write", "--port", s.path, "--index", "0", "--cert",
             os.path.join(KEYS, "client.crt.der"), "--key", key)
        cert("write", "--port", s.path, "--index", "1", "--cert", os.path.join(KEYS, ca),
             "--key", key)
        stores.append(s)
    rec = os.path.join(WORK, "read1.pcap")
    cert("read", "--port", stores[0].path, "--index", "1", "--key", key, "-o",
         os.path.join(WORK, "read1.der"), "-w", rec)
    out, _ = expect_exit(0, replay(rec, "--port", stores[0].path), "the same store")
    out, _ = expect_exit(1, replay(rec, "--port", stores[1].path, "--only-secure"),
                         "another certificate at index 1")
    check(re.search(r"exchange \d+ AT\^SBNW=is_cert,1: answered otherwise\n", out), out)
    check(re.search(r"\n  \* module frame 1 differs at [^\n]*: recorded [^\n]* \(ME\+\d+\) "
                    r"vs replayed [^\n]* \(ME\+\d+\)\n", out), f"frame difference:\n{out}")
    for s in stores:
        s.stop()


def test_newer_module_high_index():
    """A newer module's READ of index 15, replayed onto the same module:
    the recorded session is read as the live one is (the listing's expiry
    dates make the profile guess "newer"), so the answer frame is no
    index_range problem on either side (the recorded side alone had one,
    and the replay diverged)."""
    key = os.path.join(KEYS, "client.key.der")
    s = sim("--profile", "newer")
    cert("write", "--port", s.path, "--index", "0", "--cert",
         os.path.join(KEYS, "client.crt.der"), "--key", key, "--profile", "newer")
    cert("write", "--port", s.path, "--index", "15", "--cert",
         os.path.join(KEYS, "ca1.crt.der"), "--key", key, "--profile", "newer")
    rec = os.path.join(WORK, "read15.pcap")
    cert("read", "--port", s.path, "--index", "15", "--key", key, "--profile", "newer",
         "-o", os.path.join(WORK, "read15.der"), "-w", rec)
    out, _ = expect_exit(0, replay(rec, "--port", s.path), "READ of index 15 on a newer module")
    check(re.search(r": ok: 4 exchanges answered as recorded\n", out), out)
    check("problem only in" not in out, out)
    s.stop()


def test_four_in_parallel():
    sample = os.path.join(SAMPLES, "wrong-key.pcap")
    sims = [sim("--require-rtscts") for _ in range(4)]
    args = [sample, "--rtscts", "-w", os.path.join(WORK, "par.pcap")]
    for s in sims:
        args += ["--port", s.path]
    out, _ = expect_exit(0, replay(*args), "four ports")
    for s in sims:
        check(f"{s.path}: ok: 5 exchanges answered as recorded" in out, out)
    check("4 ports, 4 as recorded, 0 diverged, 0 failed" in out, out)
    for i in range(1, 5):
        t = os.path.join(WORK, f"par.{i}.pcap")
        ev = decode_trace_json(ATTRACE, t)
        check(len([e for e in ev if e.get("type") == "exchange"]) == 5, f"{t}: 5 exchanges")
        check(all(e.get("channel") == i - 1 for e in ev if e.get("type") == "exchange"),
              f"{t}: channel {i - 1}")
    for s in sims:
        s.stop()


def test_pace_and_channel():
    # The second port's trace of test_four_in_parallel holds channel 1 only.
    t = os.path.join(WORK, "par.2.pcap")
    s = sim("--require-rtscts")
    _, err = expect_exit(3, replay(t, "--channel", "0", "--port", s.path, "--rtscts"),
                         "an empty channel")
    check("no data on that channel" in err, err)
    start = time.monotonic()
    out, _ = expect_exit(0, replay(t, "--channel", "1", "--port", s.path, "--rtscts", "--pace",
                                   "recorded", "--gap-ms", "0"), "--channel 1 --pace recorded")
    check(f"{s.path}: ok: 5 exchanges answered as recorded" in out, out)
    # The recording has 100 ms (its driver's gap) after each of the first four
    # final results; without a gap of its own the replay keeps them.
    check(time.monotonic() - start >= 0.4, "the recorded pauses were kept")
    s.stop()


def test_port_vanishes():
    sample = os.path.join(SAMPLES, "provisioning-ok.pcap")
    # A slow line (5 ms a byte): the first frame alone takes seconds.
    s = sim("--byte-time-us", "5000", imei=IMEI)
    trace = os.path.join(WORK, "vanish.pcap")
    p = subprocess.Popen([ATTRACE, "replay", sample, "--port", s.path, "--only-secure",
                          "-w", trace], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    s.proc.kill()
    s.proc.wait()
    out, err = p.communicate(timeout=60)
    out, err = out.decode(), err.decode()
    check(p.returncode == 3, f"exit {p.returncode}\n{out}\n{err}")
    check("the port is gone" in out, out)
    ev = decode_trace_json(ATTRACE, trace)
    check(any(e.get("type") == "trace_event" and e.get("text") == "port lost" for e in ev),
          "the trace notes the lost port")
    check(any(e.get("type") == "exchange" for e in ev), "the trace holds what happened")
    s.kill()


def test_silent_module():
    sample = os.path.join(SAMPLES, "wrong-key.pcap")
    s = sim()
    s.proc.send_signal(signal.SIGSTOP)
    trace = os.path.join(WORK, "silent.pcap")
    try:
        out, _ = expect_exit(3, replay(sample, "--port", s.path, "--timeout-ms", "700", "-w", trace),
                        "silent module")
        check("the module is silent: no answer to ATE1\\r within 700 ms" in out, out)
        check("FAILED: exchange 1 ATE1: the module is silent" in out, out)
    finally:
        s.proc.send_signal(signal.SIGCONT)
    ev = decode_trace_json(ATTRACE, trace)
    check([e["command"] for e in ev if e.get("type") == "exchange"] == ["ATE1"],
          "the trace holds the unanswered command")
    s.stop()


def test_data_mode_escape():
    """A module in data mode: replay with --escape leaves it with +++ first,
    then the session answers as recorded."""
    sample = os.path.join(SAMPLES, "wrong-key.pcap")
    simopts, rtscts, _ = TABLE["wrong-key"]
    s = sim("--data-mode", *simopts)
    out, err = expect_exit(0, replay(sample, "--port", s.path, "--escape",
                                     *(["--rtscts"] if rtscts else [])), "--escape")
    check(err == f"attrace replay: --escape: {s.path} answered +++: it was in data mode and now "
          "takes commands (its connection stays open: ATO or AT^SIST goes back to it)\n", err)
    check(re.search(rf"{re.escape(s.path)}: ok: \d+ exchanges answered as recorded", out), out)
    s.stop()


def test_usage_and_trace_errors():
    expect_exit(2, replay(os.path.join(SAMPLES, "wrong-key.pcap")), "no --port")
    expect_exit(2, replay(os.path.join(SAMPLES, "wrong-key.pcap"), "--port", "x", "--resign"),
           "--resign without --key")
    _, err = expect_exit(3, replay(os.path.join(WORK, "missing.pcap"), "--port", "x"), "no trace")
    check("missing.pcap" in err, err)


runner = TestRunner("replay")
for t in (test_every_sample_replays, test_other_imei_needs_resign, test_read_back_frame_differs,
          test_newer_module_high_index, test_four_in_parallel,
          test_pace_and_channel, test_port_vanishes, test_silent_module, test_data_mode_escape,
          test_usage_and_trace_errors):
    runner.run(t)
runner.finish()
