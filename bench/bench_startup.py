"""Benchmark: process start to the first interactive home screen, in a real pty.

Run:

    .venv/bin/python bench/bench_startup.py [--rounds 5] [--config PATH] [--json]

Each round forks a pty (``pty.fork``, 120x40, ``TERM=xterm-256color``), execs the
program and reads what it writes until the screen shows a marker text (escape
sequences stripped), then sends ctrl+q and waits for the exit. Two programs take
turns in every round:

- baseline: a minimal Textual app (Header, DataTable, Footer; ``bench/minimal_app.py``);
- console: ``python -m console --config PATH``, the TUI's home screen ("Open incidents"
  and the "Start incident" button drawn). The config need not reach a host: the home
  screen's facts come from local files and health is polled after first paint.

The figure is the median of the per-round ratios console / baseline, with the spread. The CPU
each process used until its screen was up is reported too: on a shared, busy machine it moves
less than wall time. It is the on-CPU time of the process's threads in nanoseconds
(``/proc/PID/task/*/schedstat``; no thread of either program has ended by its first frame), or,
without schedstat, user + system time from ``/proc/PID/stat`` in 10 ms ticks.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ESCAPES = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]"
)
CONSOLE_MARKERS = (b"Open incidents", b"Start incident")
BASELINE_MARKERS = (b"Minimal baseline",)


def screen_text(raw: bytes) -> bytes:
    """What the terminal shows, roughly: the output with every escape sequence removed."""
    return ESCAPES.sub(b"", raw)


def process_cpu(pid: int) -> float:
    """CPU seconds the process's threads have run so far, from /proc (ns; else 10 ms ticks)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks) / 1e9
    except (OSError, ValueError, IndexError):  # no schedstat (kernel without it) or a thread just ended
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_screen(
    argv: list[str], markers: tuple[bytes, ...], *, env: dict[str, str], timeout: float = 30.0
) -> tuple[float, float]:
    """Seconds from fork to the first moment every marker is on screen, and the CPU seconds used by then."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec the program in the pty
        try:
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    raw = b""
    found_at = None
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            raw += chunk
            text = screen_text(raw[-200_000:])
            if all(m in text for m in markers):
                found_at = time.perf_counter()
                cpu = process_cpu(pid)
                break
    finally:
        _stop(pid, fd)
    if found_at is None:
        tail = screen_text(raw)[-600:].decode(errors="replace")
        raise RuntimeError(f"{argv[-1]!r}: no {markers!r} on screen within {timeout:g}s; last output: {tail!r}")
    return found_at - started, cpu


def _stop(pid: int, fd: int) -> None:
    try:
        os.write(fd, b"\x11")  # ctrl+q
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.read(fd, 65536) if select.select([fd], [], [], 0.05)[0] else None
        except OSError:
            pass
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def quiet_config(directory: Path, source: Path | None) -> Path:
    """A config whose state lives in ``directory`` (no journals of the user's; health on 127.0.0.1:9)."""
    if source is not None:
        return source
    text = (ROOT / "config.example.toml").read_text()
    text = re.sub(r'state_dir = ".*?"', f'state_dir = "{directory}"', text)
    text = re.sub(r'release_log = ".*?"', f'release_log = "{directory}/releases.toml"', text)
    ports = iter(range(9, 100))  # nothing listens there: the checks fail fast, on loopback
    text = re.sub(r'url = "https?://[^"]*"', lambda _m: f'url = "http://127.0.0.1:{next(ports)}/api/health"', text)
    path = directory / "console.toml"
    path.write_text(text)
    return path


def run(rounds: int, config: Path | None) -> dict:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40", PYTHONDONTWRITEBYTECODE="")
    env.pop("TEXTUAL", None)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env["XDG_CONFIG_HOME"] = tmp
        config_path = quiet_config(Path(tmp), config)
        baseline_argv = [PYTHON, str(ROOT / "bench" / "minimal_app.py")]
        console_argv = [PYTHON, "-m", "console", "--config", str(config_path)]
        # one untimed start each, so both read their modules from a warm page cache
        time_to_screen(baseline_argv, BASELINE_MARKERS, env=env)
        time_to_screen(console_argv, CONSOLE_MARKERS, env=env)
        base, cons, base_cpu, cons_cpu = [], [], [], []
        for _ in range(rounds):
            wall, cpu = time_to_screen(baseline_argv, BASELINE_MARKERS, env=env)
            base.append(wall)
            base_cpu.append(cpu)
            wall, cpu = time_to_screen(console_argv, CONSOLE_MARKERS, env=env)
            cons.append(wall)
            cons_cpu.append(cpu)
    ratios = [c / b for b, c in zip(base, cons, strict=True)]
    cpu_ratios = [c / b for b, c in zip(base_cpu, cons_cpu, strict=True) if b]
    return {
        "rounds": rounds,
        "baseline_s": base,
        "console_s": cons,
        "ratios": ratios,
        "baseline_median_s": statistics.median(base),
        "console_median_s": statistics.median(cons),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "baseline_cpu_s": base_cpu,
        "console_cpu_s": cons_cpu,
        "cpu_ratio_median": statistics.median(cpu_ratios) if cpu_ratios else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (each starts both programs once)")
    parser.add_argument(
        "--config",
        type=Path,
        help="console config to open (default: a local copy of "
        "config.example.toml with its state in a temporary directory)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    result = run(args.rounds, args.config)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"start-up to first interactive screen, {args.rounds} rounds (medians)")
    print(
        f"  minimal Textual app : {result['baseline_median_s'] * 1000:7.0f} ms  "
        f"({', '.join(f'{v * 1000:.0f}' for v in result['baseline_s'])})"
    )
    print(
        f"  console home        : {result['console_median_s'] * 1000:7.0f} ms  "
        f"({', '.join(f'{v * 1000:.0f}' for v in result['console_s'])})"
    )
    print(
        f"  ratio               : {result['ratio_median']:.2f}x  "
        f"(min {result['ratio_min']:.2f}x, max {result['ratio_max']:.2f}x; target <= 1.20x)"
    )
    print(
        f"  CPU used by then    : {statistics.median(result['baseline_cpu_s']) * 1000:.0f} ms vs "
        f"{statistics.median(result['console_cpu_s']) * 1000:.0f} ms, ratio {result['cpu_ratio_median'] or 0:.2f}x "
        f"(on-CPU time of its threads, from /proc; less sensitive to a busy machine than wall time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
