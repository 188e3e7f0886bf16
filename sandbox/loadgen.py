#!/usr/bin/env python3
"""A tiny load generator for the sandbox: a few requests a second to the demo stack on loopback,
so that Prometheus sees an error rate (v2's bookings page fails) and a recovery after a rollback.

Only 127.0.0.1 URLs are accepted; it stops by itself after --max-seconds and on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def loopback_only(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        raise argparse.ArgumentTypeError(f"only http://127.0.0.1 URLs are allowed, not {url!r}")
    return url


def hit(opener: urllib.request.OpenerDirector, url: str) -> None:
    try:
        with opener.open(url, timeout=3) as response:
            response.read()
    except urllib.error.HTTPError as exc:  # a 500 is what v2 answers: that is the point
        exc.read()
    except (OSError, ValueError):
        pass  # the service is being restarted by a rollback: keep going


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="+", type=loopback_only, help="http://127.0.0.1:PORT/PATH to request in turn")
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second (all URLs together)")
    parser.add_argument("--max-seconds", type=float, default=7200.0, help="stop by itself after this long")
    args = parser.parse_args()
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + args.max_seconds
    pause = 1.0 / max(args.rate, 0.1)
    i = 0
    while not stop and time.monotonic() < deadline:
        hit(opener, args.urls[i % len(args.urls)])
        i += 1
        time.sleep(pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
