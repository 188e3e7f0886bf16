"""Benchmark of the log pane: ingest rate, key->frame latency under a flood, memory.

Run:  .venv/bin/python bench/bench_log_pane.py [--lines 1000000]

Every figure is reported next to a baseline measured in the same run, because
the machines here are noisy; the ratio is what to compare between runs. Input
lines come from a pool of 100 000 distinct lines cycled to the volume wanted.

(a) ingest: ``LogParser.columns`` + ``LogBuffer.extend_columns`` in 1000-line
    batches, against plain ``list.extend`` of the same batches.
(b) flood: the pane runs in a headless Textual app (``App.run_test``) while a
    thread pushes N lines through ``LogPane.ingest`` (1000 per call, as fast as
    it can). Meanwhile a key (``f`` / ``t``, alternating) is injected every
    ~25 ms straight into the driver (not ``pilot.press``, which waits for idle).
    Latency = time from injecting the key to the first frame the compositor
    hands to ``App._display`` *after* the key's action ran, i.e. the first frame
    that can show its effect. The same measurement with no flood is the baseline.
    RSS is read from /proc before the flood, after N lines and after 2N lines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402

from console.logstream import LogBuffer, LogParser  # noqa: E402
from widgets.log_pane import LogPane  # noqa: E402

BATCH = 1000
GC_FREEZE = False
SERVICES = ("mr-dj-backend-1", "mr-dj-frontend-1", "mr-dj_mr-dj-backend_1", "db-1")


def make_batches(unique: int = 100_000) -> list[list[str]]:
    """A pool of ``unique`` distinct lines in 1000-line batches, cycled to make any volume.

    Holding 1 M raw strings would make every full GC pass walk them (~25 ms here):
    a cost of the benchmark, not of the pane, whose lines arrive from a stream.
    """
    lines = make_lines(unique)
    return [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]


def make_lines(n: int) -> list[str]:
    return [f"{SERVICES[i % 4]}  | 2026-03-01T10:15:{i % 60:02d}.{i % 1_000_000_000:09d}Z "
            f"GET /api/bookings/{i} 200 {i % 97}ms user={i % 1000} request_id=req-{i:08x}"
            for i in range(n)]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def batches_of(pool: list[list[str]], total: int):
    for i in range(total // BATCH):
        yield pool[i % len(pool)]


def bench_ingest(pool: list[list[str]], total: int) -> dict[str, float]:
    # The baseline keeps the newest 100 000 lines too, so both sides hold the same amount.
    baseline: list[str] = []
    started = time.perf_counter()
    for batch in batches_of(pool, total):
        baseline.extend(batch)
        if len(baseline) > 125_000:
            del baseline[:25_000]
    base_s = time.perf_counter() - started
    del baseline
    parser, buffer = LogParser("mr-dj", ["mr-dj-backend", "mr-dj-frontend", "db"]), LogBuffer()
    started = time.perf_counter()
    for batch in batches_of(pool, total):
        buffer.extend_columns(*parser.columns(batch))
    ours_s = time.perf_counter() - started
    return {"lines": total, "baseline_lps": total / base_s, "ours_lps": total / ours_s}


class FloodApp(App):
    def compose(self) -> ComposeResult:
        yield LogPane(id="logs")

    def on_mount(self) -> None:
        self.query_one(LogPane).focus()


async def key_latencies(app: FloodApp, pane: LogPane, stop: threading.Event | None,
                        max_presses: int) -> list[float]:
    """Inject keys; return key->frame latencies in ms."""
    latencies: list[float] = []
    waiting: dict[str, float] = {}
    original_display = app._display

    def display(screen, renderable):  # the first frame after the key's action ran
        original_display(screen, renderable)
        if renderable is not None and "handled" in waiting:
            latencies.append((time.perf_counter() - waiting["sent"]) * 1000)
            waiting.clear()

    app._display = display  # type: ignore[method-assign]
    for name in ("action_toggle_follow", "action_toggle_timestamps"):
        action = getattr(pane, name)

        def wrapped(action=action):
            action()
            waiting["handled"] = time.perf_counter()
        setattr(pane, name, wrapped)
    presses = 0
    while presses < max_presses and (stop is None or not stop.is_set()):
        key = "f" if presses % 2 == 0 else "t"
        waiting.clear()
        waiting["sent"] = time.perf_counter()
        app._driver.send_message(events.Key(key, key))
        presses += 1
        deadline = time.perf_counter() + 2.0
        while waiting and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.025)
    app._display = original_display  # type: ignore[method-assign]
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else float("nan")


async def bench_flood(pool: list[list[str]], total: int) -> dict[str, float]:
    app = FloodApp()
    results: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause()
        idle = await key_latencies(app, pane, None, 40)
        results["idle_p50"], results["idle_p95"] = statistics.median(idle), p95(idle)
        gc.collect()
        if GC_FREEZE:
            gc.freeze()   # start-up objects leave the collector's walks
        results["rss_before"] = rss_mb()

        stop = threading.Event()
        produced = {"n": 0, "seconds": 0.0}

        def produce(rounds: int) -> None:
            started = time.perf_counter()
            for _ in range(rounds):
                for batch in batches_of(pool, total):
                    pane.ingest(batch)
                    produced["n"] += BATCH
            produced["seconds"] = time.perf_counter() - started
            stop.set()

        producer = threading.Thread(target=produce, args=(1,), daemon=True)
        producer.start()
        flood = await key_latencies(app, pane, stop, 10_000)
        producer.join()
        await pilot.pause(0.2)
        gc.collect()
        results["rss_after_1x"] = rss_mb()
        results["flood_lps"] = produced["n"] / produced["seconds"]
        results["flood_p50"], results["flood_p95"] = statistics.median(flood), p95(flood)
        results["flood_max"], results["presses"] = max(flood), len(flood)
        results["stored"] = len(pane.buffer)
        results["end_seq"] = pane.buffer.end_seq
        # A second pass: memory must not keep growing once the buffer is full.
        stop.clear()
        producer = threading.Thread(target=produce, args=(1,), daemon=True)
        producer.start()
        producer.join()
        await pilot.pause(0.2)
        gc.collect()
        results["rss_after_2x"] = rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() once the app is up, as an app may do after start-up")
    args = parser.parse_args()
    global GC_FREEZE
    GC_FREEZE = args.gc_freeze
    pool = make_batches()
    a = bench_ingest(pool, args.lines)
    b = asyncio.run(bench_flood(pool, args.lines))
    rows = [
        ("(a) ingest, list.extend baseline", f"{a['baseline_lps'] / 1e6:8.2f} M lines/s", ""),
        ("(a) ingest, parse + LogBuffer", f"{a['ours_lps'] / 1e6:8.2f} M lines/s",
         f"{a['ours_lps'] / a['baseline_lps']:.3f}x baseline (target >= 1 M/s)"),
        ("(b) flood through LogPane.ingest", f"{b['flood_lps'] / 1e6:8.2f} M lines/s",
         f"{b['end_seq']:,} lines, {b['stored']:,} kept"),
        ("(b) key->frame idle p50 / p95", f"{b['idle_p50']:6.1f} / {b['idle_p95']:.1f} ms", "baseline"),
        ("(b) key->frame flood p50 / p95", f"{b['flood_p50']:6.1f} / {b['flood_p95']:.1f} ms",
         f"{b['flood_p95'] / b['idle_p95']:.2f}x idle p95, max {b['flood_max']:.1f} ms, "
         f"{b['presses']:.0f} keys (target p95 < 50 ms)"),
        ("(b) RSS before / N / 2N lines", f"{b['rss_before']:.0f} / {b['rss_after_1x']:.0f} / "
         f"{b['rss_after_2x']:.0f} MB", f"growth 1x->2x {b['rss_after_2x'] - b['rss_after_1x']:+.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<26} {note}")


if __name__ == "__main__":
    main()
