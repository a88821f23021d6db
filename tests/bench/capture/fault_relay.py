#!/usr/bin/env python3
"""Stand-in relay to check that run.py catches wrong bytes (README.md,
"Checking the checker").  Speaks the subset of `attrace capture` run.py uses:

    fault_relay.py capture --module PTY --link PATH -w FILE [extra ...]

and relays between the module PTY and a new PTY linked at PATH, writing
only a placeholder line into FILE.  FAULT (environment, default none) breaks
the module->host direction once, after about 1 MB: drop (loses one byte),
dup (sends one byte twice), swap (exchanges two bytes), flip (changes one).
"""

import os
import select
import signal
import sys
import tty


def main():
    a = sys.argv[1:]
    module = a[a.index("--module") + 1]
    link = a[a.index("--link") + 1]
    out = a[a.index("-w") + 1]
    fault = os.environ.get("FAULT", "none")
    with open(out, "wb") as f:
        f.write(b"fault_relay: no records\n")
    mfd = os.open(module, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(mfd)
    hm, hs = os.openpty()
    tty.setraw(hs)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(hs), link)
    print("fault_relay: host side on %s" % os.ttyname(hs), file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    done = False
    count = 0
    while True:
        r, _, _ = select.select([mfd, hm], [], [])
        for fd in r:
            data = os.read(fd, 65536)
            if fd == mfd:
                count += len(data)
                if not done and count > 1_000_000 and len(data) > 4:
                    done = True
                    b = bytearray(data)
                    if fault == "drop":
                        del b[2]
                    elif fault == "dup":
                        b.insert(2, b[2])
                    elif fault == "swap":
                        b[2], b[3] = b[3], b[2]
                    elif fault == "flip":
                        b[2] ^= 0x55
                    data = bytes(b)
                os.write(hm, data)
            else:
                os.write(mfd, data)


if __name__ == "__main__":
    main()
