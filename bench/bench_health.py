"""Benchmark: a healthy endpoint breaks; how long until the home screen's health pane shows it.

Run:

    .venv/bin/python bench/bench_health.py [--endpoints 1 100] [--trials 5] [--interval 2] [--json]

The endpoints are local HTTP servers on 127.0.0.1 (ephemeral ports), served by a separate
process (asyncio, one listener per endpoint) so that serving them does not share the GIL
with the app being measured. Each answers ``GET /api/health`` with ``{"status": "ok",
"version": "v1"}``, or, once told to break, ``503 {"status": "down"}``.

The app is the real one: ``make_app(config)`` in a headless ``App.run_test``, on its home
screen, with a config whose ``[[health]]`` checks are those endpoints (``interval`` as
given, ``timeout`` 2 s). Each trial waits for the pane to be healthy, waits a random part
of one poll interval (so breaks land anywhere in the poll cycle), breaks one endpoint and
times from the moment the server flipped (its ``time.monotonic()``: the clock is shared by
the two processes) to the pane's ``StatusChanged(healthy=False)``, which is posted when the
pane takes the failing result and asks for its repaint. Target: every trial within one
poll interval + 0.5 s.

Meanwhile a probe on the app's event loop sleeps 5 ms at a time and records how late it
wakes (event-loop lag); target p95 <= 5 ms with 100 endpoints. The baseline, in the same run:
the same probe on the same app after its health polling is stopped (what the machine's own
noise costs the probe).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = r"""
import asyncio, json, os, sys, time
count = int(sys.argv[1])
broken = set()
OK = json.dumps({"status": "ok", "version": "v1"}).encode()
DOWN = json.dumps({"status": "down"}).encode()

def reply(status, body):
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body

async def serve(index, reader, writer):
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            if not request:
                break
            writer.write(reply("503 Service Unavailable", DOWN) if index in broken else reply("200 OK", OK))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()

async def main():
    servers = []
    for i in range(count):
        server = await asyncio.start_server(lambda r, w, i=i: serve(i, r, w), "127.0.0.1", 0)
        servers.append(server)
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            os._exit(0)   # the bench is done: no shutdown of the open connections to wait for
        verb, index = line.split()
        (broken.add if verb == "break" else broken.discard)(int(index))
        print(f"{time.monotonic():.6f}", flush=True)

asyncio.run(main())
"""


class Endpoints:
    """The server process: ``break_(i)`` / ``heal(i)`` return the server's monotonic time of the flip."""

    def __init__(self, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ports: list[int] = json.loads(self.process.stdout.readline())

    def _say(self, verb: str, index: int) -> float:
        self.process.stdin.write(f"{verb} {index}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def break_(self, index: int) -> float:
        return self._say("break", index)

    def heal(self, index: int) -> float:
        return self._say("heal", index)

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def write_config(directory: Path, ports: list[int], interval: float) -> Path:
    text = (ROOT / "config.example.toml").read_text()
    text = re.sub(r"\n\[\[health\]\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)  # drop the example's checks
    text = re.sub(r"\n\[staging\](?:(?!\n\[(?!\[staging)).)*", "\n", text, flags=re.S)  # and staging
    text = re.sub(r'state_dir = ".*?"', f'state_dir = "{directory}"', text)
    text = re.sub(r'release_log = ".*?"', f'release_log = "{directory}/releases.toml"', text)
    checks = "".join(
        f'\n[[health]]\nname = "ep{i:03d}"\nurl = "http://127.0.0.1:{port}/api/health"\n'
        f'timeout = 2\ninterval = {interval}\nexpect = {{ status = "ok" }}\n'
        for i, port in enumerate(ports)
    )
    path = directory / "console.toml"
    path.write_text(text + checks)
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(count: int, trials: int, interval: float) -> dict:
    from console.config import load_config
    from screens.app import make_app
    from widgets.health_pane import HealthPane

    endpoints = Endpoints(count)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
            config = load_config(write_config(Path(tmp), endpoints.ports, interval))
            changes: list[tuple[float, bool | None]] = []

            def hook(message) -> None:
                if isinstance(message, HealthPane.StatusChanged):
                    changes.append((time.monotonic(), message.healthy))

            async def wait_for(healthy: bool, after: float, limit: float) -> float:
                deadline = time.monotonic() + limit
                while time.monotonic() < deadline:
                    for at, state in changes:
                        if at >= after and state is healthy:
                            return at
                    await asyncio.sleep(0.005)
                raise TimeoutError(f"the pane did not turn healthy={healthy} within {limit:g}s")

            lags: list[float] = []
            probing = True

            async def probe() -> None:
                while probing:
                    started = time.monotonic()
                    await asyncio.sleep(0.005)
                    lags.append(time.monotonic() - started - 0.005)

            app = make_app(config)
            detections = []
            async with app.run_test(size=(160, 50), message_hook=hook) as pilot:
                await wait_for(True, 0.0, 10 + interval * 2)
                probe_task = asyncio.create_task(probe())
                victim = random.Random(count).randrange(count)
                for _ in range(trials):
                    await asyncio.sleep(random.uniform(0, interval))
                    broke_at = endpoints.break_(victim)
                    shown_at = await wait_for(False, broke_at, interval * 3 + 10)
                    detections.append(shown_at - broke_at)
                    healed_at = endpoints.heal(victim)
                    await wait_for(True, healed_at, interval * 3 + 10)
                probing = False
                await probe_task
                polling_lags, lags[:] = list(lags), []
                # the baseline, same app and run: the home screen with its health polling stopped
                home = app.screen
                home._poller = None
                app.workers.cancel_group(home, "health")
                probing = True
                probe_task = asyncio.create_task(probe())
                await asyncio.sleep(min(trials * interval, 10))
                probing = False
                await probe_task
                idle_lags = list(lags)
                await pilot.pause()
    finally:
        endpoints.close()
    return {
        "endpoints": count,
        "interval_s": interval,
        "trials": trials,
        "detection_s": detections,
        "detection_median_s": statistics.median(detections),
        "detection_max_s": max(detections),
        "target_s": interval + 0.5,
        "lag_p50_ms": percentile(polling_lags, 0.5) * 1000,
        "lag_p95_ms": percentile(polling_lags, 0.95) * 1000,
        "lag_p99_ms": percentile(polling_lags, 0.99) * 1000,
        "lag_max_ms": max(polling_lags) * 1000,
        "lag_samples": len(polling_lags),
        "idle_lag_p50_ms": percentile(idle_lags, 0.5) * 1000,
        "idle_lag_p95_ms": percentile(idle_lags, 0.95) * 1000,
        "idle_lag_max_ms": max(idle_lags) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--endpoints",
        type=int,
        nargs="+",
        default=[1, 100],
        help="endpoint counts to measure, one run each (default: 1 100)",
    )
    parser.add_argument("--trials", type=int, default=5, help="breaks per endpoint count (default: 5)")
    parser.add_argument("--interval", type=float, default=2.0, help="the checks' poll interval in seconds (default: 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per endpoint count")
    args = parser.parse_args()
    if args.trials < 1 or args.interval <= 0 or min(args.endpoints) < 1:
        parser.error("--trials, --interval and --endpoints must be positive")
    for count in args.endpoints:
        result = asyncio.run(measure(count, args.trials, args.interval))
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        print(
            f"{count:3d} endpoint(s), poll every {args.interval:g}s, {args.trials} breaks: detection median "
            f"{result['detection_median_s']:.2f}s, max {result['detection_max_s']:.2f}s "
            f"(target <= {result['target_s']:.1f}s; {', '.join(f'{d:.2f}' for d in result['detection_s'])}); "
            f"event-loop lag p50 {result['lag_p50_ms']:.1f} / p95 {result['lag_p95_ms']:.1f} / p99 "
            f"{result['lag_p99_ms']:.1f} / max "
            f"{result['lag_max_ms']:.1f} ms (target p95 <= 5 ms); same app, polling stopped: p50 "
            f"{result['idle_lag_p50_ms']:.1f} / p95 {result['idle_lag_p95_ms']:.1f} / max "
            f"{result['idle_lag_max_ms']:.1f} ms",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    sys.exit(main())
