"""Benchmark of the log pane: ingest rate, key->frame latency under a flood, memory.

Run:  .venv/bin/python bench/bench_log_pane.py [--lines 1000000] [--min-keys 200] [--gc-freeze]

Every figure is reported next to a baseline measured in the same run, because
the machines here are noisy; the ratio is what to compare between runs. Input
lines come from a pool of 100 000 distinct lines cycled to the volume wanted.

(a) ingest: what ``LogPane.ingest`` + ``drain`` do per line (``prepare_lines`` +
    ``LogBuffer.extend``) in 1000-line batches, against plain ``list.extend`` of
    the same batches; the same batches arriving from three fleet hosts (each tagged
    with its host); and, for reference, parsing every line as it arrives
    (``LogParser.parse``), which is what the pane did before parsing went lazy.
    A row for raw chunks (``prepare_chunk`` + ``LogBuffer.extend_text``, what the pane
    does with a stream's output now: newlines counted, nothing split).
(b) flood: the pane runs in a headless Textual app (``App.run_test``) while a
    thread pushes 1000-line blocks of raw bytes through ``LogPane.ingest_chunk``
    (as a follower thread does, releasing the GIL between chunks as its socket read
    does; ``--split``: decoded and split, through
    ``LogPane.ingest``) as fast as it can, until it has pushed N lines *and*
    ``--min-keys`` keys were measured, so a fast ingest cannot end the flood before
    the latency has a sample. Every chunk becomes a new string (as from a stream),
    so RSS counts what is kept.
    Meanwhile a key (``f`` / ``t``, alternating) is injected every ~25 ms
    straight into the driver (not ``pilot.press``, which waits for idle).
    Latency = time from injecting the key to the first frame the compositor
    hands to ``App._display`` *after* the key's action ran, i.e. the first frame
    that can show its effect. The same measurement with no flood is the baseline,
    taken twice: on the empty pane before the flood, and on the full pane (100 000
    lines) after it. RSS is read from /proc before the flood, after it, and after N
    more lines.
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

from console.live.logstream import LogBuffer, LogParser, prepare_chunk, prepare_lines  # noqa: E402
from widgets.log_pane import LogPane  # noqa: E402

BATCH = 1000
GC_FREEZE = False
SPLIT = False  # --split: the flood arrives as decoded, split lines (LogPane.ingest), not raw chunks
MIN_KEYS = 200
SERVICES = ("mr-dj-backend-1", "mr-dj-frontend-1", "mr-dj_mr-dj-backend_1", "db-1")


def make_batches(unique: int = 100_000) -> list[tuple[str, ...]]:
    """A pool of ``unique`` distinct lines in 1000-line batches, cycled to make any volume.

    Batches are tuples, which the garbage collector stops walking once it has seen
    they hold only strings: lists of 100 000 strings would add ~10 ms of cache
    misses to every full GC pass, a cost of the benchmark, not of the pane, whose
    lines arrive from a stream and are held nowhere else.
    """
    lines = make_lines(unique)
    return [tuple(lines[i : i + BATCH]) for i in range(0, len(lines), BATCH)]


def make_lines(n: int) -> list[str]:
    return [
        f"{SERVICES[i % 4]}  | 2026-03-01T10:15:{i % 60:02d}.{i % 1_000_000_000:09d}Z "
        f"GET /api/bookings/{i} 200 {i % 97}ms user={i % 1000} request_id=req-{i:08x}"
        for i in range(n)
    ]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def as_blocks(pool: list[tuple[str, ...]]) -> list[bytes]:
    """The pool as the bytes a stream delivers, one block per batch."""
    return ["".join(line + "\n" for line in batch).encode() for batch in pool]


def batches_of(pool: list[tuple[str, ...]], total: int):
    for i in range(total // BATCH):
        yield pool[i % len(pool)]


def bench_ingest(pool: list[tuple[str, ...]], total: int) -> dict[str, float]:
    # The baseline keeps the newest 100 000 lines too, so both sides hold the same amount.
    baseline: list[str] = []
    started = time.perf_counter()
    for batch in batches_of(pool, total):
        baseline.extend(batch)
        if len(baseline) > 125_000:
            del baseline[:25_000]
    base_s = time.perf_counter() - started
    del baseline
    parser = LogParser("mr-dj", ["mr-dj-backend", "mr-dj-frontend", "db"])
    buffer = LogBuffer(parser=parser)
    started = time.perf_counter()
    for batch in batches_of(pool, total):
        buffer.extend(prepare_lines(batch), prepared=True)
    ours_s = time.perf_counter() - started
    del buffer
    # What the pane does with a stream's raw chunks now: kept unsplit, nothing per line.
    blocks = as_blocks(pool)
    buffer = LogBuffer(parser=parser)
    started = time.perf_counter()
    for i in range(total // BATCH):
        buffer.extend_text(*prepare_chunk(blocks[i % len(blocks)]))
    chunks_s = time.perf_counter() - started
    del buffer
    # A fleet's pane: the same batches from three hosts' followers, each tagged with its host
    # (kept per chunk: no per-line work), so it should match the single-host figure.
    buffer = LogBuffer(parser=parser)
    hosts = ("web1", "web2", "web3")
    started = time.perf_counter()
    for i, batch in enumerate(batches_of(pool, total)):
        buffer.extend(prepare_lines(batch), prepared=True, host=hosts[i % 3])
    fleet_s = time.perf_counter() - started
    del buffer
    # Reference: parse every line on arrival, kept in a bounded list like the others.
    eager: list = []
    started = time.perf_counter()
    for batch in batches_of(pool, total):
        eager.extend(parser.parse(batch))
        if len(eager) > 125_000:
            del eager[:25_000]
    eager_s = time.perf_counter() - started
    return {
        "lines": total,
        "baseline_lps": total / base_s,
        "ours_lps": total / ours_s,
        "chunks_lps": total / chunks_s,
        "fleet_lps": total / fleet_s,
        "eager_lps": total / eager_s,
    }


class FloodApp(App):
    def compose(self) -> ComposeResult:
        yield LogPane(id="logs")

    def on_mount(self) -> None:
        self.query_one(LogPane).focus()


async def key_latencies(
    app: App, pane: LogPane, stop: threading.Event | None, max_presses: int, enough: threading.Event | None = None
) -> list[float]:
    """Inject keys until ``stop`` (or ``max_presses``); return key->frame latencies in ms.

    ``enough`` is set once MIN_KEYS latencies were measured.
    """
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
        if enough is not None and len(latencies) >= MIN_KEYS:
            enough.set()
        await asyncio.sleep(0.025)
    app._display = original_display  # type: ignore[method-assign]
    return latencies


def lines_per_s(rate: float) -> str:
    return f"{rate / 1e6:8.2f} M lines/s"


def p50_p95_ms(p50: float, p95: float) -> str:
    return f"{p50:6.1f} / {p95:.1f} ms"


def print_rows(rows: list[tuple[str, str, str]], value_width: int) -> None:
    """The figures as a table (this benchmark's and bench_ssh_stream.py's): name, value, note."""
    width = max(len(row[0]) for row in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<{value_width}} {note}")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else float("nan")


async def bench_flood(pool: list[tuple[str, ...]], total: int) -> dict[str, float]:
    app = FloodApp()
    results: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause()
        idle = await key_latencies(app, pane, None, 40)
        results["idle_p50"], results["idle_p95"] = statistics.median(idle), p95(idle)
        gc.collect()
        if GC_FREEZE:
            gc.freeze()  # start-up objects leave the collector's walks
        results["rss_before"] = rss_mb()

        stop, enough = threading.Event(), threading.Event()
        produced = {"n": 0, "seconds": 0.0}
        blocks = as_blocks(pool)

        def produce(lines: int, until: threading.Event | None) -> None:
            """At least ``lines`` lines, and on until ``until`` is set."""
            produced["n"] = 0
            started = time.perf_counter()
            i = 0
            while produced["n"] < lines or (until is not None and not until.is_set()):
                if SPLIT:
                    pane.ingest(blocks[i % len(blocks)].decode().split("\n")[:-1])
                else:
                    pane.ingest_chunk(blocks[i % len(blocks)])
                    time.sleep(0)  # a follower thread's socket read releases the GIL between chunks
                produced["n"] += BATCH
                i += 1
            produced["seconds"] = time.perf_counter() - started
            stop.set()

        producer = threading.Thread(target=produce, args=(total, enough), daemon=True)
        producer.start()
        flood = await key_latencies(app, pane, stop, 10_000, enough)
        producer.join()
        await pilot.pause(0.2)
        gc.collect()
        results["rss_after_1x"] = rss_mb()
        full = await key_latencies(app, pane, None, 60)
        results["full_p50"], results["full_p95"] = statistics.median(full), p95(full)
        results["flood_lps"] = produced["n"] / produced["seconds"]
        results["flood_p50"], results["flood_p95"] = statistics.median(flood), p95(flood)
        results["flood_max"], results["presses"] = max(flood), len(flood)
        results["stored"] = len(pane.buffer)
        results["end_seq"] = pane.buffer.end_seq
        # A second pass: memory must not keep growing once the buffer is full.
        stop.clear()
        producer = threading.Thread(target=produce, args=(total, None), daemon=True)
        producer.start()
        producer.join()
        await pilot.pause(0.2)
        gc.collect()
        results["rss_after_2x"] = rss_mb()
    return results


def main() -> None:
    global GC_FREEZE, MIN_KEYS, SPLIT
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--min-keys", type=int, default=MIN_KEYS, help="keep flooding until this many key latencies were measured"
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() once the app is up, as an app may do after start-up"
    )
    parser.add_argument(
        "--split", action="store_true", help="flood with decoded, split lines (LogPane.ingest), not raw chunks"
    )
    args = parser.parse_args()
    GC_FREEZE, MIN_KEYS, SPLIT = args.gc_freeze, args.min_keys, args.split
    pool = make_batches()
    a = bench_ingest(pool, args.lines)
    b = asyncio.run(bench_flood(pool, args.lines))
    rows = [
        ("(a) ingest, list.extend baseline", lines_per_s(a["baseline_lps"]), ""),
        (
            "(a) ingest, prepare + LogBuffer",
            lines_per_s(a["ours_lps"]),
            f"{a['ours_lps'] / a['baseline_lps']:.3f}x baseline (target >= 1 M/s)",
        ),
        (
            "(a) ingest, raw chunks kept unsplit",
            lines_per_s(a["chunks_lps"]),
            f"{a['chunks_lps'] / a['baseline_lps']:.3f}x baseline (prepare_chunk + extend_text)",
        ),
        (
            "(a) ingest, 3 hosts' batches tagged",
            lines_per_s(a["fleet_lps"]),
            f"{a['fleet_lps'] / a['ours_lps']:.2f}x the single host's (tagged per batch, not per line)",
        ),
        (
            "(a) reference: parse every line",
            lines_per_s(a["eager_lps"]),
            f"{a['eager_lps'] / a['baseline_lps']:.3f}x baseline",
        ),
        (
            "(b) flood through LogPane.ingest" if SPLIT else "(b) flood through LogPane.ingest_chunk",
            lines_per_s(b["flood_lps"]),
            f"{b['end_seq']:,} lines, {b['stored']:,} kept",
        ),
        ("(b) key->frame idle p50 / p95", p50_p95_ms(b["idle_p50"], b["idle_p95"]), "baseline, empty pane"),
        (
            "(b) key->frame idle, full pane",
            p50_p95_ms(b["full_p50"], b["full_p95"]),
            f"baseline, {b['stored']:,} lines held, after the flood",
        ),
        (
            "(b) key->frame flood p50 / p95",
            p50_p95_ms(b["flood_p50"], b["flood_p95"]),
            f"{b['flood_p95'] / b['idle_p95']:.2f}x / {b['flood_p95'] / b['full_p95']:.2f}x idle p95s, "
            f"max {b['flood_max']:.1f} ms, "
            f"{b['presses']:.0f} keys (target p95 < 50 ms)",
        ),
        (
            "(b) RSS before / flood / +N lines",
            f"{b['rss_before']:.0f} / {b['rss_after_1x']:.0f} / {b['rss_after_2x']:.0f} MB",
            f"growth after the flood {b['rss_after_2x'] - b['rss_after_1x']:+.0f} MB",
        ),
    ]
    print_rows(rows, value_width=26)


if __name__ == "__main__":
    main()
