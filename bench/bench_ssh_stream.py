"""Benchmark: compose-log-like lines streamed from the host over our SSH transport into the log pane.

Run (needs the sandbox's sshd; only ``python3`` writing to stdout runs on the host):

    .venv/bin/python bench/bench_ssh_stream.py [--config sandbox/.state/console.toml]
        [--lines 2000000] [--repeat 3] [--flood-seconds 8]

The connection is opened the way the app opens it: ``SSHTransport(config.target)``
with the config's key and pinned known_hosts. On the host, ``python3 -c GENERATOR``
writes lines shaped like ``docker compose logs -t`` output (four services, v1 and
v2 prefixes, ~110 characters; a pre-built block of 10 000 distinct lines written
over and over) as fast as the channel takes them.

(a) bare read: the same remote command on a raw asyncssh channel, stdout read in
    64 KiB chunks and newlines counted: the ceiling for any consumer of the stream.
(b) transport: ``SSHTransport.run`` with an ``on_output`` that only counts lines
    (the transport's own decoding and splitting).
(c) pane: the live pane's path. In a headless Textual app (``App.run_test``)
    ``follow_logs(..., chunks=True)`` runs on a ``LogFollowThread`` (its own thread,
    event loop and ``SSHTransport``) and hands each batch to ``pane.ingest_batch``, as
    ``ProcedureScreen.stream_logs`` does; the UI's loop drains the pane's queue on its
    timer. Timed from the first chunk until the last line is in the pane's buffer.
Rates run from the first chunk received to the end, so channel set-up and the
remote python start-up are left out. (a), (b) and (c) take turns ``--repeat``
times in one run; the medians are reported with their ratios to (a).
(d) key->frame latency (as in ``bench_log_pane.py`` (b)) while the host streams
    into the pane for ``--flood-seconds``, against the same app with no stream.
RSS is read before (a), after (c) and after (d): it must not grow with the lines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_log_pane import key_latencies, lines_per_s, p50_p95_ms, p95, print_rows, rss_mb  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402

from console.config import Config, load_config  # noqa: E402
from console.live.logfollow import FollowRestart, LogBatch  # noqa: E402
from console.live.logthread import LogFollowThread  # noqa: E402
from console.transport.process_group import wrap_in_process_group  # noqa: E402
from console.transport.ssh import SSHTransport  # noqa: E402
from console.transport.streams import CHUNK_SIZE  # noqa: E402
from widgets.log_pane import LogPane  # noqa: E402

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "sandbox" / ".state" / "console.toml"

# argv[1]: lines to write; argv[2]: seconds after which to stop early (0: no limit).
GENERATOR = r"""
import sys, time
services = ("mr-dj-backend-1", "mr-dj-frontend-1", "mr-dj_mr-dj-backend_1", "db-1")
lines, seconds = int(sys.argv[1]), float(sys.argv[2])
rows = [f"{services[i % 4]}  | 2026-03-01T10:15:{i % 60:02d}.{i:09d}Z GET /api/bookings/{i} 200 "
        f"{i % 97}ms user={i % 1000} request_id=req-{i:08x}\n".encode() for i in range(10_000)]
block, out, deadline = b"".join(rows), sys.stdout.buffer, time.monotonic() + seconds
while lines > 0 and not (seconds and time.monotonic() > deadline):
    n = min(lines, len(rows))
    out.write(block if n == len(rows) else b"".join(rows[:n]))
    lines -= n
out.flush()
"""


def generator_argv(lines: int, seconds: float = 0) -> list[str]:
    return ["python3", "-c", GENERATOR, str(lines), str(seconds)]


class StreamApp(App):
    def __init__(self, project: str, services: list[str]) -> None:
        super().__init__()
        self.project, self.services = project, services

    def compose(self) -> ComposeResult:
        yield LogPane(id="logs", project=self.project, services=self.services)

    def on_mount(self) -> None:
        self.query_one(LogPane).focus()


async def bare_read(transport: SSHTransport, lines: int) -> tuple[int, float]:
    """Newlines counted in the raw 64 KiB chunks; (count, seconds from first chunk to EOF)."""
    await transport.connect()
    proc = await transport.connection.create_process(wrap_in_process_group(generator_argv(lines)), encoding=None)
    proc.stdin.write_eof()
    count, first = 0, None
    while chunk := await proc.stdout.read(CHUNK_SIZE):
        if first is None:
            first = time.perf_counter()
        count += chunk.count(b"\n")
    seconds = time.perf_counter() - first
    await proc.wait_closed()
    return count, seconds


async def transport_read(transport: SSHTransport, lines: int) -> tuple[int, float]:
    """Lines as SSHTransport.run hands them on, only counted."""
    state = {"count": 0, "first": None}

    def count(_stream: str, batch: list[str]) -> None:
        if state["first"] is None:
            state["first"] = time.perf_counter()
        state["count"] += len(batch)

    result = await transport.run(generator_argv(lines), on_output=count)
    assert result.ok, result
    return state["count"], time.perf_counter() - state["first"]


class PaneFollower:
    """The live pane's path, as ``ProcedureScreen.stream_logs`` runs it: ``follow_logs`` on a
    :class:`LogFollowThread` (its own thread, loop and SSH link) handing batches to
    ``LogPane.ingest_batch``; the UI's loop only drains the pane's queue on its timer."""

    def __init__(self, app: App, config: Config, argv: list[str]) -> None:
        self.pane = app.query_one(LogPane)
        self.first: float | None = None
        self.ended = asyncio.Event()
        loop = asyncio.get_running_loop()

        def deliver(batch: LogBatch) -> None:
            if isinstance(batch, FollowRestart):  # the command ended: every line was handed on
                loop.call_soon_threadsafe(self.ended.set)
                return
            if self.first is None:
                self.first = time.perf_counter()
            self.pane.ingest_batch(batch)

        self.thread = LogFollowThread(lambda: SSHTransport(config.target), argv, deliver)

    def start(self) -> None:
        self.thread.start()

    async def stop(self) -> None:
        self.thread.stop()
        await self.thread.wait()


async def pane_read(app: App, config: Config, lines: int) -> tuple[int, float]:
    """Lines streamed into the pane by its follower thread, until all are in its buffer."""
    pane = app.query_one(LogPane)
    pane.drain()
    before = pane.buffer.end_seq
    follower = PaneFollower(app, config, generator_argv(lines))
    follower.start()
    await follower.ended.wait()
    pane.drain()
    seconds = time.perf_counter() - follower.first
    await follower.stop()
    return pane.buffer.end_seq - before, seconds


async def run(config_path: Path, lines: int, repeat: int, flood_seconds: float) -> dict:
    config = load_config(config_path)
    transport = SSHTransport(config.target)
    app = StreamApp(config.target.project_name, [s.name for s in config.services])
    rates: dict[str, list[float]] = {"bare": [], "transport": [], "pane": []}
    results: dict = {"target": transport.description}
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await transport_read(transport, 10_000)  # connect and warm up
            results["rss_before"] = rss_mb()
            for _ in range(repeat):
                for name, read in (
                    ("bare", lambda: bare_read(transport, lines)),
                    ("transport", lambda: transport_read(transport, lines)),
                    ("pane", lambda: pane_read(app, config, lines)),
                ):
                    count, seconds = await read()
                    if count != lines:
                        raise SystemExit(f"{name}: got {count:,} lines, expected {lines:,}")
                    rates[name].append(count / seconds)
            pane = app.query_one(LogPane)
            results["kept"] = len(pane.buffer)
            results["rss_after"] = rss_mb()

            # (d) key->frame while the host streams into the pane, against no stream.
            idle = await key_latencies(app, pane, None, 60)
            stop = threading.Event()
            streamed_before = pane.buffer.end_seq

            follower = PaneFollower(app, config, generator_argv(10**10, flood_seconds))
            started = time.perf_counter()
            follower.start()

            async def until_ended() -> None:
                await follower.ended.wait()
                stop.set()

            ended = asyncio.ensure_future(until_ended())
            flood = await key_latencies(app, pane, stop, 100_000)
            await ended
            await follower.stop()
            pane.drain()
            results["flood_lines"] = pane.buffer.end_seq - streamed_before
            results["flood_lps"] = results["flood_lines"] / (time.perf_counter() - started)
            results["idle_p50"], results["idle_p95"] = statistics.median(idle), p95(idle)
            results["flood_p50"], results["flood_p95"] = statistics.median(flood), p95(flood)
            results["flood_max"], results["presses"] = max(flood), len(flood)
            results["rss_end"] = rss_mb()
    finally:
        await transport.close()
    results.update({name: statistics.median(values) for name, values in rates.items()})
    results["runs"] = rates
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flood-seconds", type=float, default=8.0)
    args = parser.parse_args()
    r = asyncio.run(run(args.config, args.lines, args.repeat, args.flood_seconds))

    def each(name: str) -> str:
        return "runs " + " / ".join(f"{v / 1e6:.2f}" for v in r["runs"][name])

    rows = [
        ("over SSH to", r["target"], f"{args.lines:,} lines x {args.repeat}, medians"),
        ("(a) bare SSH read, newlines counted", lines_per_s(r["bare"]), f"baseline; {each('bare')}"),
        (
            "(b) SSHTransport.run, lines counted",
            lines_per_s(r["transport"]),
            f"{r['transport'] / r['bare']:.2f}x baseline; {each('transport')}",
        ),
        (
            "(c) LogFollowThread -> LogPane.ingest_batch",
            lines_per_s(r["pane"]),
            f"{r['pane'] / r['bare']:.2f}x baseline (target >= 0.7x); {each('pane')}; {r['kept']:,} kept",
        ),
        ("(d) key->frame idle p50 / p95", p50_p95_ms(r["idle_p50"], r["idle_p95"]), "baseline"),
        (
            "(d) key->frame streaming p50 / p95",
            p50_p95_ms(r["flood_p50"], r["flood_p95"]),
            f"{r['flood_p95'] / r['idle_p95']:.2f}x idle p95 (target <= 1.2x), max {r['flood_max']:.1f} ms, "
            f"{r['presses']} keys, "
            f"{r['flood_lines']:,} lines at {r['flood_lps'] / 1e6:.2f} M/s",
        ),
        (
            "RSS before / after (c) / after (d)",
            f"{r['rss_before']:.0f} / {r['rss_after']:.0f} / {r['rss_end']:.0f} MB",
            f"{args.repeat * args.lines + r['flood_lines']:,} lines into the pane in all",
        ),
    ]
    print_rows(rows, value_width=24)


if __name__ == "__main__":
    main()
