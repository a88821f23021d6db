#!/usr/bin/env python3
"""Tests of attrace-extcap, the Wireshark extcap interface.

Usage: test_extcap.py EXTCAP SIM ATTRACE WORKDIR HELP_URL
(HELP_URL: the installed README the extcap must link to)

1. The extcap protocol called directly: interfaces (with the path
   interface), DLT 252, the configuration arguments, capture filters
   refused, bad options refused.
2. Captures against attrace-sim into a FIFO the test reads itself and into
   a file: the stream decodes with `attrace decode -` to the exchanges sent
   through the host PTY; closing the FIFO (what Wireshark does) and SIGTERM
   both end the capture with status 0.
3. tshark with the extcap: `tshark -i attrace-path -a duration:N` as an
   unprivileged user (tshark ignores WIRESHARK_EXTCAP_DIR when run as
   root), the extcap found through WIRESHARK_EXTCAP_DIR, its options given
   as extcap preferences (-o extcap.attrace-path.<option>:value); the
   packets must name the dissector "attrace".
"""

import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import termios
import threading
import time
import traceback

EXTCAP, SIM, ATTRACE, WORK, HELP_URL = sys.argv[1:6]
IFACE = "attrace-path"
# Wireshark names the extcap preferences after the interface, lower-case,
# with characters other than letters, digits and "_" turned into "_".
PREF = "attrace_path"


class Fail(Exception):
    pass


# Every process a test starts; whatever still runs after a test is killed.
PROCS = []


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    PROCS.append(p)
    return p


def reap_all():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    PROCS.clear()


def check(cond, what):
    if not cond:
        raise Fail(what)


def run(*args, timeout=20, **kw):
    return subprocess.run([EXTCAP] + list(args), capture_output=True, timeout=timeout, **kw)


def fields(line):
    """'arg {a=1}{b=x}' -> ('arg', {'a': '1', 'b': 'x'})."""
    m = re.fullmatch(r"(\w+) ((?:\{[^{}=]+=[^{}]*\})+)", line)
    check(m, f"malformed extcap sentence {line!r}")
    return m.group(1), dict(re.findall(r"\{([^{}=]+)=([^{}]*)\}", m.group(2)))


# ---------------------------------------------------------------- simulator


class Sim:
    def __init__(self, name, prefix=()):
        store = os.path.join(WORK, name + "-store")
        os.makedirs(store, exist_ok=True)
        os.chmod(store, 0o777)
        self.errf = open(os.path.join(WORK, name + ".stderr"), "wb")
        self.proc = spawn(list(prefix) + [SIM, "--store", store],
                                     stdout=subprocess.PIPE, stderr=self.errf)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        check(r, f"{name}: simulator printed no path within 10 s")
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"attrace-sim: module on (/dev/\S+)\n", line)
        check(m, f"{name}: unexpected first line {line!r}")
        self.pty = m.group(1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.errf.close()


def wait_for(pred, secs, what):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise Fail(f"timed out after {secs} s waiting for {what}")


def open_host(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    a = termios.tcgetattr(fd)
    a[0] = 0
    a[1] = 0
    a[3] = 0
    a[2] |= termios.CREAD | termios.CLOCAL
    a[6][termios.VMIN] = 0
    a[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, a)
    return fd


def exchange(fd, cmd, secs=5):
    """Sends cmd + CR, returns everything until a final OK/ERROR."""
    os.write(fd, cmd + b"\r")
    buf = b""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            buf += os.read(fd, 4096)
            if re.search(rb"\r\n(OK|ERROR|\+CME ERROR[^\r]*)\r\n", buf):
                return buf
    raise Fail(f"no final result to {cmd!r} through the proxy; got {buf!r}")


def decode_json(data):
    r = subprocess.run([ATTRACE, "decode", "--json", "-"], input=data,
                       capture_output=True, timeout=30)
    check(r.returncode == 0,
          f"attrace decode - failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


def check_exchanges(objs, cmds, what):
    got = [(o.get("command"), (o.get("final") or {}).get("kind"))
           for o in objs if o.get("type") == "exchange"]
    for c in cmds:
        check((c, "OK") in got, f"{what}: exchange {c!r} -> OK not decoded; got {got}")


# ---------------------------------------------------------------- protocol


def t_interfaces():
    r = run("--extcap-interfaces", "--extcap-version=4.0")
    check(r.returncode == 0, f"--extcap-interfaces exit {r.returncode}: {r.stderr!r}")
    lines = r.stdout.decode().splitlines()
    check(lines, "--extcap-interfaces printed nothing")
    kind, f = fields(lines[0])
    check(kind == "extcap" and f.get("version") and f.get("help"),
          f"first line is not 'extcap {{version=}}{{help=}}': {lines[0]!r}")
    # The help link is the README where the build installs it (its
    # configured prefix and doc folder).
    check(f["help"] == HELP_URL, f"help link {f['help']!r}, installed README {HELP_URL!r}")
    ifaces = {}
    for l in lines[1:]:
        kind, f = fields(l)
        check(kind == "interface", f"unexpected sentence {l!r}")
        check(f.get("value", "").startswith("attrace-") and f.get("display"), f"bad interface {l!r}")
        ifaces[f["value"]] = f["display"]
    check(IFACE in ifaces, f"no {IFACE} interface in {ifaces}")
    r = run("--extcap-version")
    check(r.returncode == 0 and r.stdout.decode().startswith("extcap {version="),
          f"--extcap-version: {r.returncode} {r.stdout!r}")


def t_dlts():
    r = run("--extcap-interface", IFACE, "--extcap-dlts")
    check(r.returncode == 0, f"--extcap-dlts exit {r.returncode}: {r.stderr!r}")
    lines = r.stdout.decode().splitlines()
    check(len(lines) == 1, f"expected one dlt, got {lines}")
    kind, f = fields(lines[0])
    check(kind == "dlt" and f.get("number") == "252" and f.get("name") and f.get("display"),
          f"bad dlt line {lines[0]!r}")
    r = run("--extcap-interface", "nosuch", "--extcap-dlts")
    check(r.returncode == 2 and b"unknown interface" in r.stderr,
          f"unknown interface accepted: {r.returncode} {r.stderr!r}")


def config_args(iface):
    r = run("--extcap-interface", iface, "--extcap-config")
    check(r.returncode == 0, f"--extcap-config exit {r.returncode}: {r.stderr!r}")
    args, values = {}, {}
    for l in r.stdout.decode().splitlines():
        kind, f = fields(l)
        if kind == "arg":
            check(f.get("number", "").isdigit() and f.get("call", "").startswith("--")
                  and f.get("display") and f.get("type"), f"incomplete arg {l!r}")
            check(f["number"] not in [a["number"] for a in args.values()],
                  f"duplicate arg number in {l!r}")
            args[f["call"]] = f
        elif kind == "value":
            num = f.get("arg")
            call = [c for c, a in args.items() if a["number"] == num]
            check(call, f"value for an undeclared arg: {l!r}")
            values.setdefault(call[0], []).append(f)
        else:
            raise Fail(f"unexpected sentence in config: {l!r}")
    return args, values


def t_config():
    args, values = config_args(IFACE)
    for call, typ in [("--mode", "selector"), ("--device", "string"),
                      ("--second-port", "string"), ("--link", "string"),
                      ("--baud", "unsigned"), ("--flow", "selector")]:
        check(call in args and args[call]["type"] == typ, f"config: {call} ({typ}) missing: {args}")
    check(args["--device"].get("required") == "true", "--device of the path interface not required")
    check(args["--baud"].get("default") == "115200", "baud default is not 115200")
    for call, want in [("--mode", ["proxy", "tap"]), ("--flow", ["none", "rtscts", "xonxoff"])]:
        got = [v["value"] for v in values.get(call, [])]
        check(got == want, f"{call} values {got}, want {want}")
        defaults = [v["value"] for v in values[call] if v.get("default") == "true"]
        check(defaults == [want[0]], f"{call} default {defaults}")
    # A port interface has the port itself: no device argument.
    args, _ = config_args("attrace-ttyS0")
    check("--device" not in args and "--mode" in args, f"port interface config: {args}")


def t_filter():
    r = run("--extcap-interface", IFACE, "--extcap-capture-filter", "tcp port 80")
    check(r.returncode == 1 and b"not supported" in r.stderr,
          f"filter check accepted a filter: {r.returncode} {r.stderr!r}")
    fifo = os.path.join(WORK, "never-written")
    r = run("--extcap-interface", IFACE, "--capture", "--fifo", fifo, "--device", "/dev/null",
            "--extcap-capture-filter", "at")
    check(r.returncode == 1 and b"capture filters are not supported" in r.stderr,
          f"capture accepted a filter: {r.returncode} {r.stderr!r}")
    check(not os.path.exists(fifo), "refused capture still created its output")
    for extra in (["--extcap-capture-filter", ""], ["--extcap-capture-filter"],
                  ["--extcap-capture-filter="]):
        r = run("--extcap-interface", IFACE, *extra)
        check(r.returncode == 0, f"empty filter {extra} refused: {r.returncode} {r.stderr!r}")


def t_bad_options():
    out = os.path.join(WORK, "bad.pcap")
    # Usage errors exit 2 with the hint, like the other programs; a port
    # that cannot be opened is a runtime error (1).
    cases = [
        ([], b"needs a device path", 2),
        (["--device", "/dev/null", "--baud", "fast"], b'--baud: "fast" is not a rate', 2),
        (["--device", "/dev/null", "--baud", "abc"], b'--baud: "abc" is not a rate', 2),
        (["--device", "/dev/null", "--baud", "0"], b"--baud", 2),
        (["--device", "/dev/null", "--flow", "dsrdtr"], b"--flow", 2),
        (["--device", "/dev/null", "--mode", "sniff"], b"--mode", 2),
        (["--device", "/dev/null", "--mode", "tap"], b"ME->TE", 2),
        (["--device", os.path.join(WORK, "nonexistent-port")], b"nonexistent-port", 1),
    ]
    for extra, msg, want in cases:
        r = run("--extcap-interface", IFACE, "--capture", "--fifo", out, *extra)
        check(r.returncode == want and msg in r.stderr and
              (want == 1 or b"Try 'attrace-extcap --help'" in r.stderr),
              f"options {extra}: exit {r.returncode} (want {want}), stderr {r.stderr!r} (want {msg!r})")
    r = run("--extcap-interface", IFACE, "--capture", "--device", "/dev/null")
    check(r.returncode == 2 and b"--fifo" in r.stderr, f"capture without --fifo: {r.stderr!r}")
    r = run("--extcap-interface", "attrace-nosuchport0", "--capture", "--fifo", out)
    check(r.returncode == 1 and b"not present" in r.stderr, f"absent port: {r.stderr!r}")
    r = run("--bogus")
    check(r.returncode == 2, f"unknown option: exit {r.returncode}")


# ---------------------------------------------------------------- capture


def t_capture_fifo():
    """Wireshark's way: a FIFO, closed by the reader to stop."""
    sim = Sim("fifo")
    fifo = os.path.join(WORK, "extcap.fifo")
    link = os.path.join(WORK, "fifo-host")
    os.mkfifo(fifo, 0o600)
    errf = open(os.path.join(WORK, "fifo-extcap.stderr"), "wb")
    proc = spawn([EXTCAP, "--capture", "--extcap-interface", IFACE, "--fifo", fifo,
                             "--device", sim.pty, "--link", link, "--baud", "115200",
                             "--flow", "none", "--mode", "proxy"], stderr=errf)
    data = bytearray()
    # Opening blocks until the extcap opens its end: do it in a thread and
    # release it ourselves if the extcap never does.
    opened = []
    opener = threading.Thread(target=lambda: opened.append(os.open(fifo, os.O_RDONLY)))
    opener.start()
    opener.join(10)
    if not opened:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        opener.join()
        os.close(opened[0])
        raise Fail("the extcap did not open the FIFO within 10 s")
    rfd = opened[0]
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            r, _, _ = select.select([rfd], [], [], 0.1)
            if r:
                chunk = os.read(rfd, 65536)
                if not chunk:
                    return
                data.extend(chunk)

    th = threading.Thread(target=reader)
    th.start()
    try:
        wait_for(lambda: os.path.islink(link), 10, "the host PTY symlink")
        hfd = open_host(link)
        try:
            check(b"OK" in exchange(hfd, b"AT"), "AT not answered")
            check(b"OK" in exchange(hfd, b"AT+CMEE=2"), "AT+CMEE=2 not answered")
        finally:
            os.close(hfd)
        # Records are flushed at least every 100 ms.
        wait_for(lambda: b"AT+CMEE=2" in data and data.count(b"OK") >= 2, 5,
                 "the exchange in the FIFO")
        check(proc.poll() is None, "extcap ended before the FIFO was closed")
    finally:
        stop.set()
        th.join()
        os.close(rfd)  # Wireshark closes the FIFO
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Fail("extcap still running 5 s after the FIFO was closed (quiet line)")
    errf.close()
    sim.stop()
    check(rc == 0, f"extcap exit {rc} after the FIFO closed: "
          f"{open(os.path.join(WORK, 'fifo-extcap.stderr'), 'rb').read()!r}")
    check(data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"),
          f"stream is not nanosecond pcap: {bytes(data[:4]).hex()}")
    check(int.from_bytes(data[20:24], "little" if data[0] == 0x4d else "big") == 252,
          "link type is not 252")
    check_exchanges(decode_json(bytes(data)), ["AT", "AT+CMEE=2"], "FIFO capture")


def t_capture_sigterm():
    """SIGTERM (Wireshark's stop button) ends the capture with a valid trace."""
    sim = Sim("term")
    out = os.path.join(WORK, "term.pcap")
    link = os.path.join(WORK, "term-host")
    proc = spawn([EXTCAP, "--capture", "--extcap-interface", IFACE, "--fifo", out,
                             "--device", sim.pty, "--link", link], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: os.path.islink(link), 10, "the host PTY symlink")
        hfd = open_host(link)
        try:
            exchange(hfd, b"AT")
        finally:
            os.close(hfd)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Fail("extcap did not stop within 5 s of SIGTERM")
        sim.stop()
    check(proc.returncode == 0, f"exit {proc.returncode} after SIGTERM: {err!r}")
    check(stat.S_IMODE(os.stat(out).st_mode) == 0o600, "trace file not created 0600")
    with open(out, "rb") as f:
        check_exchanges(decode_json(f.read()), ["AT"], "file capture")


def t_port_lost():
    """The module's port going away ends the capture with a message and 1."""
    sim = Sim("lost")
    out = os.path.join(WORK, "lost.pcap")
    link = os.path.join(WORK, "lost-host")
    proc = spawn([EXTCAP, "--capture", "--extcap-interface", IFACE, "--fifo", out,
                  "--device", sim.pty, "--link", link], stderr=subprocess.PIPE)
    wait_for(lambda: os.path.islink(link), 10, "the host PTY symlink")
    hfd = open_host(link)
    try:
        exchange(hfd, b"AT")
        sim.stop()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("extcap still running 10 s after the module's port went away")
    finally:
        os.close(hfd)
    check(proc.returncode == 1 and err.strip(),
          f"port lost: exit {proc.returncode}, stderr {err!r}")
    with open(out, "rb") as f:
        check_exchanges(decode_json(f.read()), ["AT"], "capture ended by port loss")


# ---------------------------------------------------------------- tshark


def t_tshark():
    tshark = shutil.which("tshark")
    check(tshark, "tshark is not installed (package tshark)")
    base = os.path.join(WORK, "tshark")
    home, extdir = os.path.join(base, "home"), os.path.join(base, "extcap")
    os.makedirs(home)
    os.makedirs(extdir)
    os.symlink(os.path.realpath(EXTCAP), os.path.join(extdir, "attrace-extcap"))
    for d in (base, home, extdir):
        os.chmod(d, 0o777)
    # tshark ignores WIRESHARK_EXTCAP_DIR when run as root: drop to nobody.
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    env = dict(os.environ, HOME=home, WIRESHARK_EXTCAP_DIR=extdir, XDG_CONFIG_HOME=home)

    # The simulator runs as the same user so that its PTY can be opened.
    sim = Sim("tshark", prefix)
    link = os.path.join(base, "host")
    out = os.path.join(base, "out.pcapng")
    r = subprocess.run(prefix + [tshark, "-D"], env=env, capture_output=True, timeout=60)
    check(IFACE.encode() in r.stdout,
          f"tshark -D does not list {IFACE}: {r.stdout!r} {r.stderr!r}")
    errf = open(os.path.join(base, "tshark.stderr"), "wb")
    proc = spawn(prefix + [tshark, "-i", IFACE,
                                      "-o", f"extcap.{PREF}.device:{sim.pty}",
                                      "-o", f"extcap.{PREF}.link:{link}",
                                      "-o", f"extcap.{PREF}.baud:115200",
                                      "-a", "duration:6", "-w", out],
                            env=env, stdout=subprocess.DEVNULL, stderr=errf, cwd=base)
    try:
        wait_for(lambda: os.path.islink(link), 15, "the PTY link of the extcap under tshark")
        hfd = open_host(link)
        try:
            exchange(hfd, b"AT")
            exchange(hfd, b"AT+CMEE=2")
        finally:
            os.close(hfd)
        rc = proc.wait(timeout=30)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        errf.close()
        sim.stop()
    err = open(os.path.join(base, "tshark.stderr"), "rb").read()
    check(rc == 0, f"tshark exit {rc}: {err!r}")
    r = subprocess.run([tshark, "-r", out, "-T", "fields", "-e", "exported_pdu.prot_name",
                        "-e", "exported_pdu.p2p_dir"], capture_output=True, timeout=60)
    check(r.returncode == 0, f"tshark -r failed: {r.stderr!r}")
    rows = [l.split("\t") for l in r.stdout.decode().splitlines() if l]
    check(rows and all(row[0] == "attrace" for row in rows),
          f"packets do not all name dissector attrace: {rows[:5]}")
    dirs = {row[1] for row in rows if len(row) > 1}
    check({"0", "1"} <= dirs, f"not both directions captured: {dirs}")
    # The pcapng from tshark, converted to pcap, decodes to the exchanges.
    pcap = os.path.join(base, "out.pcap")
    subprocess.run([tshark, "-r", out, "-F", "nsecpcap", "-w", pcap],
                   check=True, capture_output=True, timeout=60)
    with open(pcap, "rb") as f:
        check_exchanges(decode_json(f.read()), ["AT", "AT+CMEE=2"], "tshark capture")


def main():
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    os.chmod(WORK, 0o777)
    tests = [t_interfaces, t_dlts, t_config, t_filter, t_bad_options,
             t_capture_fifo, t_capture_sigterm, t_port_lost, t_tshark]
    failed = 0
    for t in tests:
        try:
            t()
            print(f"PASS {t.__name__}")
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {t.__name__}: {e}")
            if not isinstance(e, Fail):
                traceback.print_exc()
        finally:
            reap_all()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
