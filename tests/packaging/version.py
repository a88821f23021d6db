#!/usr/bin/env python3
"""`attrace --version` names its own version and the run-time versions of
libpcap and OpenSSL, asked here of the very libraries the binary loads
(found with ldd, called through ctypes); and the Wireshark version the
plugin was built for exactly when the plugin is built.

    version.py ATTRACE PROJECT_VERSION WIRESHARK_VERSION_OR_EMPTY
"""
import ctypes
import re
import subprocess
import sys


def loaded_library(binary, stem):
    """Path of the shared library named stem* that binary loads."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*(" + re.escape(stem) + r"\S*) => (\S+)", line)
        if m:
            return m.group(2)
    sys.exit(f"FAIL: {binary} loads no {stem}*")


def main():
    attrace, version, wireshark = sys.argv[1], sys.argv[2], sys.argv[3]
    pcap = ctypes.CDLL(loaded_library(attrace, "libpcap.so"))
    pcap.pcap_lib_version.restype = ctypes.c_char_p
    crypto = ctypes.CDLL(loaded_library(attrace, "libcrypto.so"))
    crypto.OpenSSL_version.restype = ctypes.c_char_p
    crypto.OpenSSL_version.argtypes = [ctypes.c_int]
    want = [
        f"attrace {version}",
        "libpcap: " + pcap.pcap_lib_version().decode(),
        "OpenSSL: " + crypto.OpenSSL_version(0).decode(),  # OPENSSL_VERSION
    ]
    if wireshark:
        want.append(f"Wireshark plugin built for {wireshark}")

    failed = False
    for option in ("--version", "-V"):
        run = subprocess.run([attrace, option], capture_output=True, text=True)
        got = run.stdout.splitlines()
        if run.returncode != 0 or got != want or run.stderr:
            print(f"FAIL: attrace {option}: exit {run.returncode}, stdout {got!r}, "
                  f"stderr {run.stderr!r}; want {want!r}")
            failed = True
    run = subprocess.run([attrace, "--version", "x"], capture_output=True, text=True)
    if run.returncode != 2 or "unexpected argument 'x'" not in run.stderr:
        print(f"FAIL: attrace --version x: exit {run.returncode}, stderr {run.stderr!r}")
        failed = True
    if not failed:
        print("version: " + " | ".join(want))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
