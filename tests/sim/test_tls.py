#!/usr/bin/env python3
"""End-to-end test of attrace-sim's internet services with real TLS.

Usage: test_tls.py SIM ATTRACE WORKDIR

Generates with the `openssl` command a CA, a server certificate it signs
and an unrelated second CA; runs `openssl s_server -rev` on a free
loopback port; starts attrace-sim with a temporary store, writes the
client certificate (index 0), the CA (index 1) and the unrelated CA
(index 2) with frames from `attrace encode`, then opens TLS services with
secOpt 1 (verified: +CIEV: is_cert with the server certificate's exact
fields, ^SISW/^SISR round trip through the reversing server), 2 (^SIS 66),
a list, an empty slot (^SIS 77), -1 (no verification), plain TCP with a
peer close (^SISR: id,2), Http over TLS, and non-loopback addresses
(refused without connecting). Finally the simulator's trace is decoded
with `attrace decode --json`. Nothing depends on timing tighter than ~0.5 s.
Every server listens on 127.0.0.1 only.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import (COMMAND_PAUSE_S, Host, Simulator, TestRunner, check, check_trace_commands,  # noqa: E402
                    decode_trace_json, encode_write_frame, fresh_workdir, make_self_signed,
                    openssl, parse_args, start_process)

SIM, ATTRACE, WORK, _ = parse_args("test_tls.py SIM ATTRACE WORKDIR")
IMEI = "358240051111110"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- DER


def der_tlv(b, i):
    """(tag, content start, content end) of the TLV at i."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def der_serial_hex(der):
    """Uppercase hex of the serial INTEGER's content bytes (leading 00 kept)."""
    _, c0, _ = der_tlv(der, 0)          # Certificate
    _, t0, _ = der_tlv(der, c0)         # tbsCertificate
    tag, v0, v1 = der_tlv(der, t0)
    if tag == 0xA0:                     # [0] version
        tag, v0, v1 = der_tlv(der, v1)
    check(tag == 0x02, "serial is no INTEGER")
    return der[v0:v1].hex().upper()


# ---------------------------------------------------------------- internet services


class ServiceHost(Host):
    """A Host that also moves data through the internet services (^SISW/^SISR)."""

    def sisw(self, sid, data):
        self.send_line(f"AT^SISW={sid},{len(data)}")
        self.wait_for(rf"\^SISW: {sid},{len(data)},0\r\n".encode(), 5.0)
        os.write(self.fd, data)
        self.wait_for(rb"\r\nOK\r\n", 5.0)
        time.sleep(COMMAND_PAUSE_S)

    def sisr(self, sid, n=1500):
        """One AT^SISR; returns the m bytes it carried."""
        self.send_line(f"AT^SISR={sid},{n}")
        m = self.wait_for(rf"\r\n\^SISR: {sid},(\d+)\r\n".encode(), 5.0)
        cnt = int(m.group(1))
        self.read_until(lambda b: True if len(b) >= cnt + 6 else None, 5.0)
        data = self.take(cnt)
        check(self.take(6) == b"\r\nOK\r\n", f"AT^SISR: no OK after {cnt} bytes")
        time.sleep(COMMAND_PAUSE_S)
        return data

    def read_all(self, sid, want, timeout=8.0):
        """Waits for ^SISR: sid,1 and reads until `want` bytes arrived."""
        self.wait_for(rf"\^SISR: {sid},1\r\n".encode(), timeout)
        got = b""
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            got += self.sisr(sid)
            if len(got) < want:
                time.sleep(0.2)
        return got


# ---------------------------------------------------------------- setup

fresh_workdir(WORK)


def p(name):
    return os.path.join(WORK, name)


CLIENT_KEY, CLIENT_CERT = p("client.key"), p("client.pem")
make_self_signed(CLIENT_KEY, CLIENT_CERT, "/C=DE/O=attrace test/CN=tls e2e client")
CA_KEY, CA = p("ca.key"), p("ca.pem")
CA_EXTENSIONS = ("-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
make_self_signed(CA_KEY, CA, "/C=DE/O=attrace test/CN=tls e2e CA", *CA_EXTENSIONS)
OTHER_KEY, OTHER_CA = p("other.key"), p("other.pem")
make_self_signed(OTHER_KEY, OTHER_CA, "/C=DE/O=unrelated/CN=other CA", *CA_EXTENSIONS)
SRV_KEY, SRV_CSR, SRV = p("server.key"), p("server.csr"), p("server.pem")
# a comma inside a DN value: the +CIEV fields are unquoted
openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", SRV_KEY, "-out", SRV_CSR,
        "-subj", "/C=DE/O=Example, Inc./CN=127.0.0.1")
with open(p("server.ext"), "w") as f:
    f.write("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
            "extendedKeyUsage=serverAuth\n")
# a serial with its top bit set: DER keeps a leading 00
openssl("x509", "-req", "-in", SRV_CSR, "-CA", CA, "-CAkey", CA_KEY, "-set_serial",
        "0x8A1B2C3D4E5F60", "-days", "825", "-sha256", "-extfile", p("server.ext"),
        "-out", SRV)
openssl("x509", "-in", SRV, "-outform", "DER", "-out", p("server.der"))
with open(p("server.der"), "rb") as f:
    SRV_DER = f.read()


def x509_field(opt):
    return openssl("x509", "-in", SRV, "-noout", opt, "-nameopt", "compat").strip()


EXP_ISSUER = x509_field("-issuer").split("=", 1)[1]
EXP_SUBJECT = x509_field("-subject").split("=", 1)[1]
EXP_SERIAL_OPENSSL = x509_field("-serial").split("=", 1)[1]
EXP_THUMB = x509_field("-fingerprint").split("=", 1)[1].replace(":", "").upper()
EXP_SERIAL = der_serial_hex(SRV_DER)
if not (EXP_ISSUER == "/C=DE/O=attrace test/CN=tls e2e CA" and
        EXP_SUBJECT == "/C=DE/O=Example, Inc./CN=127.0.0.1" and
        EXP_SERIAL == "008A1B2C3D4E5F60" and
        EXP_SERIAL.lstrip("0") == EXP_SERIAL_OPENSSL.lstrip("0")):
    sys.exit(f"unexpected openssl output: {EXP_ISSUER!r} {EXP_SUBJECT!r} {EXP_SERIAL!r} "
             f"{EXP_SERIAL_OPENSSL!r}")
EXP_CIEV = (f"+CIEV: is_cert,1,{EXP_ISSUER},{EXP_SERIAL},{EXP_SUBJECT},sha256RSA,sha1,"
            f"{EXP_THUMB}")


def encode(index, cert):
    return encode_write_frame(ATTRACE, p(f"write{index}.bin"), index, cert, CLIENT_KEY, IMEI)


FRAMES = [encode(0, CLIENT_CERT), encode(1, CA), encode(2, OTHER_CA)]


def start_tls_server():
    port = free_port()
    out = open(p("s_server.out"), "wb")
    proc = start_process(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                          SRV, "-key", SRV_KEY, "-rev"], stdin=subprocess.DEVNULL,
                         stdout=out, stderr=subprocess.STDOUT)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(p("s_server.out"), "rb") as f:
            if b"ACCEPT" in f.read():
                return port
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    sys.exit("openssl s_server did not start: " + open(p("s_server.out")).read())


TLS_PORT = start_tls_server()


class PlainServer:
    """One-shot loopback TCP server: answers the first chunk upper-cased, then closes."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.got = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
            c.settimeout(20)
            self.got = c.recv(4096)
            c.sendall(self.got.upper())
            time.sleep(0.3)
            c.close()
        except OSError:
            pass
        finally:
            self.sock.close()


STORE = p("store")
TRACE = p("tls.pcap")
sim = Simulator(SIM, WORK, "sim", STORE, "--imei", IMEI, "-w", TRACE, "--timeout-ms", "1500",
                link=False)
LOG = sim.log
host = ServiceHost(sim.pty)


def reset_consumed():
    """wait_for consumes text; each test looks at what it consumed itself."""
    host.consumed = b""


def siss(sid, **kv):
    for k, v in kv.items():
        host.ok(f'AT^SISS={sid},{k},"{v}"')


def open_service(sid, timeout=10.0):
    """AT^SISO; returns the OK and the URCs up to ^SISW: id,1 / ^SIS: / ^SISR: id,1."""
    b = host.at(f"AT^SISO={sid}")
    check(b.endswith(b"\r\nOK\r\n"), f"AT^SISO={sid}: {b!r}")
    m = host.wait_for(rf"\r\n(\^SISW: {sid},1|\^SIS: {sid},[^\r\n]*|\^SISR: {sid},1)\r\n"
                      .encode(), timeout)
    return b, m


def ciev_lines(text):
    return [l for l in text.split("\r\n") if l.startswith("+CIEV:")]


# ---------------------------------------------------------------- tests


def t_setup():
    host.ok("ATE0")
    host.ok("AT+CMEE=2")
    for i, fr in enumerate(FRAMES):
        check(host.secure(fr) == ("SECURE CMD END OK", "OK"), f"write index {i} refused")
    b = host.ok("AT^SBNR=is_cert").decode()
    check("tls e2e CA" in b.split("^SBNR: 1,")[1].split("\r\n")[0], f"index 1: {b!r}")
    check("other CA" in b.split("^SBNR: 2,")[1].split("\r\n")[0], f"index 2: {b!r}")
    host.ok("AT^SIND=is_cert,1")
    host.ok("AT+CMER=3,0,0,2")
    host.ok('AT^SICS=0,conType,"GPRS0"')
    host.ok('AT^SICS=0,apn,"internet"')
    check(b'^SICS: 0,"apn","internet"' in host.ok("AT^SICS?"), "AT^SICS? lacks the apn")
    siss(1, srvType="Socket", conId="0", address=f"socktcps://127.0.0.1:{TLS_PORT}")
    host.ok("AT^SISS=1,secOpt,1")
    b = host.ok("AT^SISS?")
    check(f'^SISS: 1,"address","socktcps://127.0.0.1:{TLS_PORT}"'.encode() in b and
          b'^SISS: 1,"secOpt","1"' in b, f"AT^SISS?: {b!r}")
    # invalid values are refused
    for bad in ('AT^SISS=1,secOpt,"0"', "AT^SISS=1,secOpt,11", 'AT^SISS=1,srvType,"Ftp"',
                "AT^SISS=10,srvType,Socket"):
        check(b"+CME ERROR" in host.at(bad), f"{bad} accepted")
    host.ok("AT^SISS=1,secOpt,1")


def t_verified():
    ok, m = open_service(1)
    check(m.group(1) == b"^SISW: 1,1", f"secOpt 1: {m.group(1)!r}")
    # the URC comes after OK, as the open runs after the command
    check(not ciev_lines(ok.decode()), f"+CIEV before OK: {ok!r}")
    log = open(LOG).read()
    check("trust anchors at index 1" in log, "log lacks the verification")
    check(EXP_CIEV.encode() + b"\r\n" in host.consumed, f"+CIEV mismatch: want {EXP_CIEV!r} in "
          f"{host.consumed!r}")
    host.sisw(1, b"hello attrace\n")
    got = host.read_all(1, len(b"ecartta olleh\n"))
    check(got == b"ecartta olleh\n", f"reversed echo: {got!r}")
    # nothing left: m = 0
    check(host.sisr(1, 100) == b"", "AT^SISR on an empty buffer returned data")
    b = host.ok("AT^SISI=1")
    check(re.search(rb"\^SISI: 1,4,14,14,0,0", b), f"AT^SISI=1: {b!r}")
    host.ok("AT^SISC=1")
    check(b"+CME ERROR" in host.at("AT^SISR=1,10"), "AT^SISR on a closed service")


def t_untrusted():
    host.ok("AT^SISS=1,secOpt,2")
    _, m = open_service(1)
    check(m.group(1) == b'^SIS: 1,0,66,"peer certificate is not confirmed"',
          f"secOpt 2: {m.group(1)!r}")
    check(EXP_CIEV.encode() in host.consumed, "no +CIEV for the refused server certificate")
    check(b"^SISW: 1,1" not in host.consumed, "^SISW after a failed check")
    check(b"+CME ERROR" in host.at("AT^SISW=1,5"), "AT^SISW on a refused service")
    check(re.search(rb"\^SISI: 1,6,", host.ok("AT^SISI=1")), "srvState not down")
    host.ok("AT^SISC=1")


def t_list():
    host.ok('AT^SISS=1,secOpt,"2,1"')
    _, m = open_service(1)
    check(m.group(1) == b"^SISW: 1,1", f'secOpt "2,1": {m.group(1)!r}')
    host.ok("AT^SISC=1")
    host.ok("AT^SISS=1,secOpt,2,1")  # the unquoted list form
    check(b'"secOpt","2,1"' in host.ok("AT^SISS?"), "unquoted list not joined")


def t_empty_slot():
    host.ok("AT^SISS=1,secOpt,5")
    _, m = open_service(1)
    check(m.group(1) == b'^SIS: 1,0,77,"the certificate does not exist"',
          f"secOpt 5 (empty): {m.group(1)!r}")
    check(b"+CIEV" not in host.consumed, "+CIEV without a connection")
    host.ok("AT^SISC=1")


def t_no_verify():
    host.ok("AT^SISS=1,secOpt,-1")
    _, m = open_service(1)
    check(m.group(1) == b"^SISW: 1,1", f"secOpt -1: {m.group(1)!r}")
    check(EXP_CIEV.encode() in host.consumed, "no +CIEV with secOpt -1")
    host.sisw(1, b"abc\n")
    check(host.read_all(1, 4) == b"cba\n", "secOpt -1 round trip")
    # a payload that stops short: nothing is sent, +CME ERROR after the
    # service timeout (--timeout-ms 1500), and the service still works
    t0 = time.monotonic()
    host.send_line("AT^SISW=1,10")
    host.wait_for(rb"\^SISW: 1,10,0\r\n", 5.0)
    os.write(host.fd, b"xyz")
    m = host.wait_for(rb"\r\n(OK|\+CME ERROR: [^\r\n]*)\r\n", 6.0)
    check(m.group(1).startswith(b"+CME ERROR") and time.monotonic() - t0 >= 1.0,
          f"short ^SISW payload: {m.group(0)!r} after {time.monotonic() - t0:.1f} s")
    time.sleep(0.1)
    host.sisw(1, b"ok\n")
    check(host.read_all(1, 3) == b"ko\n", "round trip after the short payload")
    host.ok("AT^SISC=1")


def t_plain_close():
    srv = PlainServer()
    siss(2, srvType="Socket", conId="0", address=f"socktcp://127.0.0.1:{srv.port}")
    _, m = open_service(2)
    check(m.group(1) == b"^SISW: 2,1", f"plain TCP: {m.group(1)!r}")
    check(b"+CIEV" not in host.consumed, "+CIEV for plain TCP")
    host.sisw(2, b"ping\x00\x11\r\n")  # binary payload, CR LF inside
    got = host.read_all(2, 8)
    check(got == b"PING\x00\x11\r\n", f"plain echo: {got!r}")
    check(srv.got == b"ping\x00\x11\r\n", f"server received {srv.got!r}")
    host.wait_for(rb"\^SISR: 2,2\r\n", 5.0)  # the peer closed after the data
    host.ok("AT^SISC=2")


def t_http():
    siss(3, srvType="Http", conId="0", address=f"https://127.0.0.1:{TLS_PORT}/status/x?y=1")
    host.ok("AT^SISS=3,secOpt,1")
    _, m = open_service(3)
    check(m.group(1) == b"^SISR: 3,1", f"Http: {m.group(1)!r}")
    want = b"1.1/PTTH 1=y?x/sutats/ TEG\n"
    got = b""
    end = time.monotonic() + 8
    while want not in got and time.monotonic() < end:
        got += host.sisr(3)
        time.sleep(0.2)
    check(want in got, f"the server did not see the GET request line: {got!r}")
    check(f"Host: 127.0.0.1:{TLS_PORT}"[::-1].encode() + b"\n" in got and
          b"esolc :noitcennoC\n" in got, f"Host or Connection header: {got!r}")
    host.ok("AT^SISC=3")


def t_not_loopback():
    for addr in ("socktcps://192.0.2.1:443", "socktcp://10.0.0.1:80",
                 "socktcps://example.com:443"):
        siss(4, srvType="Socket", conId="0", address=addr)
        t0 = time.monotonic()
        _, m = open_service(4)
        check(m.group(1).startswith(b"^SIS: 4,0,14,") and b"loopback" in m.group(1),
              f"{addr}: {m.group(1)!r}")
        check(time.monotonic() - t0 < 2.5, f"{addr}: refusal took a connect timeout")
        host.ok("AT^SISC=4")
    log = open(LOG).read()
    check(log.count("refused without connecting") == 3, "refusals not logged")
    siss(4, srvType="Http", address="https://203.0.113.9/")
    _, m = open_service(4)
    check(m.group(1).startswith(b"^SIS: 4,0,14,"), f"Http non-loopback: {m.group(1)!r}")
    # a malformed address or a srvType mismatch is an error of the command
    siss(4, srvType="Socket", address="https://127.0.0.1/")
    check(b"+CME ERROR" in host.at("AT^SISO=4"), "Socket with https:// accepted")


def t_trace_decodes():
    host.close()
    check(sim.stop() == 0, "simulator exit status")
    objs = decode_trace_json(ATTRACE, TRACE)

    def walk(o):
        if isinstance(o, dict):
            yield o
            for v in o.values():
                yield from walk(v)
        elif isinstance(o, list):
            for v in o:
                yield from walk(v)
    all_dicts = [d for o in objs for d in walk(o)]
    cievs = [d for d in all_dicts if d.get("indicator") == "is_cert"]
    check(cievs, "no +CIEV: is_cert in the decoded trace")
    c = cievs[0]
    check(c.get("srv_profile") == 1 and c.get("issuer") == EXP_ISSUER and
          c.get("subject") == EXP_SUBJECT and c.get("serial") == EXP_SERIAL and
          c.get("thumbprint") == EXP_THUMB and c.get("signature") == "sha256RSA",
          f"+CIEV fields decoded as {c}")
    sis = [d for d in all_dicts if d.get("info_id") == 66]
    check(sis and sis[0].get("srv_profile") == 1, "^SIS 66 not decoded")
    rules = [o.get("rule") for o in objs if o.get("type") == "finding"]
    check("tls_server_not_trusted" in rules, f"findings: {rules}")
    # the binary payloads did not derail the command tokenizer
    check_trace_commands(objs, host.sent)


TESTS = [t_setup, t_verified, t_untrusted, t_list, t_empty_slot, t_no_verify, t_plain_close,
         t_http, t_not_loopback, t_trace_decodes]
runner = TestRunner("tls", before_each=reset_consumed, after_failure=host.drain)
for t in TESTS:
    runner.run(t)
runner.finish()
