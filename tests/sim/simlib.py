"""Shared helpers for the end-to-end tests of attrace-sim (python3 stdlib only).

Used by test_sim.py (ctest sim_e2e) and test_tls.py (ctest sim_tls); both
import it from their own directory. What is here:

- parse_args(), fresh_workdir(): the common command line SIM ATTRACE WORKDIR
  and a clean work directory;
- Fail, check(): a failed expectation (a Fail is reported as the reason,
  any other exception with its traceback);
- run(), openssl(), make_self_signed(), encode_write_frame(): the external
  programs (`openssl`, `attrace encode`);
- Simulator, start_process(): running attrace-sim and helper servers; every
  process started this way is killed when the test script exits, however
  it exits;
- open_pty(), Host, final_result(): the host side of the module's PTY,
  talking AT like a real host (echo, final result codes, the secure-command
  frame transfer);
- decode_trace_json(), check_trace_commands(): the trace the simulator
  wrote, read back with `attrace decode --json`; expect_exit(): a
  command's exit status;
- TestRunner: runs the test functions in order, prints `ok`/`FAIL` per test
  and the `LABEL: N passed, M failed` line, exits non-zero on any failure.
"""

import atexit
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
import traceback

# A final result code in verbose mode (ATV1), as the simulator frames it.
FINAL_RE = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*|NO CARRIER)\r\n")

# The command that starts a secure-command frame transfer (index 0..n is in the frame).
SECURE_WRITE_CMD = "AT^SBNW=is_cert,1"

# PROTOCOL.md 10: a host leaves ~100 ms between commands.
COMMAND_PAUSE_S = 0.1


# ---------------------------------------------------------------- checks


class Fail(Exception):
    """An expectation of a test that did not hold; the message says which."""


def check(cond, what):
    """Raises Fail(what) unless cond holds."""
    if not cond:
        raise Fail(what)


# ---------------------------------------------------------------- setup


def parse_args(usage):
    """(SIM, ATTRACE, WORKDIR, extra arguments) from sys.argv; exits with usage if short."""
    if len(sys.argv) < 4:
        sys.exit("usage: " + usage)
    return sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def fresh_workdir(path):
    """Empties (or creates) the work directory."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


# ---------------------------------------------------------------- external programs


def run(args, **kw):
    """subprocess.run with stdout and stderr captured."""
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def openssl(*args):
    """Runs `openssl ARGS`; returns its stdout, exits the test if it fails."""
    r = run(["openssl"] + list(args))
    if r.returncode != 0:
        sys.exit(f"openssl {' '.join(args)} failed: {r.stderr.decode()}")
    return r.stdout.decode()


def make_self_signed(key, cert, subject, *extra):
    """A new RSA-2048 key and a self-signed certificate (PEM, 10 years) for it."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "3650", "-subj", subject, *extra)


def encode_write_frame(attrace, out, index, cert, key, imei):
    """The secure-command WRITE frame from `attrace encode write`, saved to out; its bytes."""
    r = run([attrace, "encode", "write", "--index", str(index), "--cert", cert, "--key", key,
             "--imei", imei, "-o", out])
    if r.returncode != 0:
        sys.exit("attrace encode failed: " + r.stderr.decode())
    with open(out, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- processes

_started = []  # every process started here (Popen or Simulator), for _kill_started


def _kill_started():
    for p in _started:
        if isinstance(p, Simulator):
            p.kill()
        elif p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_started)


def start_process(args, **kw):
    """subprocess.Popen(args, **kw), killed at exit if still running."""
    p = subprocess.Popen(args, **kw)
    _started.append(p)
    return p


class Simulator:
    """One running attrace-sim, started as

        SIM --store STORE --log WORK/NAME.log [EXTRA...] [--link WORK/NAME-modem]

    with its stderr in WORK/NAME.stderr. `pty` is the module's PTY from the
    first line it prints; `link` the checked symlink to it (None with
    link=False). Killed at exit if still running.
    """

    def __init__(self, sim, work, name, store, *extra, link=True):
        self.name = name
        self.link = os.path.join(work, name + "-modem") if link else None
        self.log = os.path.join(work, name + ".log")
        args = [sim, "--store", store, "--log", self.log] + list(extra)
        if self.link:
            args += ["--link", self.link]
        self.errf = open(os.path.join(work, name + ".stderr"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errf)
        _started.append(self)
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

    @property
    def path(self):
        """The device a host opens: the link if there is one, else the PTY."""
        return self.link or self.pty

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and returns the exit status; Fail if it does not stop within 10 s."""
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


# ---------------------------------------------------------------- the host side


def open_pty(path, rtscts=False):
    """Opens a serial device raw (cfmakeraw), 115200 8N1, non-blocking reads."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    a = termios.tcgetattr(fd)
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


def final_result(buf):
    """The text of the last final result code in buf ("OK", "+CME ERROR: ...")."""
    return FINAL_RE.findall(buf)[-1].decode()


class Host:
    """The host side of one PTY.

    What is read but not yet consumed stays in `pending` (URCs that come
    after a final result belong to what follows). `sent` is every command
    line sent, in order (for the trace check); `consumed` everything
    consumed so far (a test may reset it to b"").
    """

    def __init__(self, path, rtscts=False):
        self.fd = open_pty(path, rtscts)
        self.pending = b""
        self.sent = []
        self.consumed = b""
        self.closed = False

    def close(self):
        os.close(self.fd)
        self.closed = True

    def send_line(self, cmd):
        """Writes cmd and CR; remembers it in `sent`."""
        os.write(self.fd, cmd.encode() + b"\r")
        self.sent.append(cmd)

    def read_until(self, pred, timeout):
        """Reads until pred(pending) is not None and returns that; Fail on timeout."""
        end = time.monotonic() + timeout
        while True:
            r = pred(self.pending)
            if r is not None:
                return r
            left = end - time.monotonic()
            if left <= 0:
                raise Fail(f"timeout after {timeout} s; have {self.pending!r}")
            rd, _, _ = select.select([self.fd], [], [], left)
            if rd:
                try:
                    self.pending += os.read(self.fd, 4096)
                except BlockingIOError:
                    pass

    def take(self, n):
        """Consumes the first n pending bytes."""
        b, self.pending = self.pending[:n], self.pending[n:]
        self.consumed += b
        return b

    def wait_for(self, regex, timeout=10.0):
        """Consumes up to and including the first match of regex; returns the match
        (m.string[:m.end()] is what was consumed)."""
        rx = re.compile(regex)
        m = self.read_until(lambda buf: rx.search(buf), timeout)
        self.take(m.end())
        return m

    def at(self, cmd, timeout=10.0, final=FINAL_RE):
        """Sends a command line; returns everything up to and including its final
        result (a match of `final`), then pauses between commands."""
        self.send_line(cmd)
        try:
            m = self.wait_for(final, timeout)
        except Fail:
            raise Fail(f"{cmd!r}: no final result within {timeout} s, got {self.pending!r}")
        time.sleep(COMMAND_PAUSE_S)
        return m.string[:m.end()]

    def ok(self, cmd, timeout=10.0):
        """at() that must end in OK."""
        b = self.at(cmd, timeout)
        check(b.endswith(b"\r\nOK\r\n"), f"{cmd}: {b!r}")
        return b

    def poll(self, timeout):
        """Waits up to timeout for anything to arrive; consumes and returns what is
        pending then (b"" if the line stayed silent)."""
        try:
            self.read_until(lambda b: True if b else None, timeout)
        except Fail:
            pass
        return self.take(len(self.pending))

    def drain(self, quiet=0.3):
        """Discards what is pending and whatever arrives until the line is quiet."""
        if self.closed:
            return
        while select.select([self.fd], [], [], quiet)[0]:
            if not os.read(self.fd, 4096):
                break
        self.pending = b""

    def secure(self, frame, cut=None, timeout=8.0):
        """AT^SBNW=is_cert,1, then the frame (or its first `cut` bytes) after
        SECURE CMD READY; returns (secure result line, final result). The
        result line must come right before the final result."""
        self.send_line(SECURE_WRITE_CMD)
        m = self.read_until(lambda b: re.search(rb"SECURE CMD READY[^\r\n]*\r\n", b)
                            or FINAL_RE.search(b), 5.0)
        check(m.group(0).startswith(b"SECURE CMD READY"), f"no SECURE CMD READY: {m.string!r}")
        self.take(m.end())
        os.write(self.fd, frame if cut is None else frame[:cut])
        try:
            m = self.wait_for(FINAL_RE, timeout)
        except Fail:
            raise Fail(f"secure command: no final result within {timeout} s: {self.pending!r}")
        got = m.string[:m.end()]
        r = re.search(rb"(SECURE CMD [^\r\n]*)\r\n" + re.escape(m.group(0)) + rb"\Z", got)
        check(r, f"secure command: no SECURE CMD result line before the final result: {got!r}")
        time.sleep(COMMAND_PAUSE_S)
        return r.group(1).decode(), m.group(1).decode()


# ---------------------------------------------------------------- the trace


def expect_exit(rc_want, res, what):
    """res is (exit status, stdout, stderr) of a command: Fail unless the
    status is rc_want (the message shows both outputs); (stdout, stderr)."""
    rc, out, err = res
    check(rc == rc_want, f"{what}: exit {rc}, expected {rc_want}\nstdout:\n{out}\nstderr:\n{err}")
    return out, err


def decode_trace_json(attrace, trace):
    """The objects of `attrace decode --json TRACE` (exit 0 or 1 expected)."""
    r = run([attrace, "decode", "--json", trace])
    check(r.returncode in (0, 1), f"decode exit {r.returncode}: {r.stderr.decode()}")
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


def check_trace_commands(objs, sent):
    """The trace's exchanges carry exactly the command lines the host sent."""
    cmds = [o.get("command", "") for o in objs if o.get("type") == "exchange"]
    check(cmds == sent, f"trace commands differ:\n  trace {cmds}\n  sent  {sent}")


# ---------------------------------------------------------------- running the tests


class TestRunner:
    """Runs test functions in order; a broken test does not hide the others.

    before_each() runs before every test, after_failure() after a failed one.
    finish() prints `LABEL: N passed, M failed` and exits 1 if any failed.
    """

    def __init__(self, label, before_each=None, after_failure=None):
        self.label = label
        self.before_each = before_each
        self.after_failure = after_failure
        self.passed = 0
        self.failed = 0

    def fail(self, name, why):
        """Counts a test as failed without running it."""
        self.failed += 1
        print(f"FAIL {name}: {why}")
        sys.stdout.flush()

    def run(self, fn):
        try:
            if self.before_each:
                self.before_each()
            fn()
            self.passed += 1
            print(f"ok   {fn.__name__}")
        except Exception as e:
            self.failed += 1
            print(f"FAIL {fn.__name__}: {e}")
            if not isinstance(e, Fail):
                traceback.print_exc()
            if self.after_failure:
                self.after_failure()
        sys.stdout.flush()

    def finish(self):
        _kill_started()
        print(f"{self.label}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
