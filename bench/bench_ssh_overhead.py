"""Benchmark: what one remote step costs before its command does anything, on the sandbox's sshd.

Run (needs only the sandbox's sshd):

    .venv/bin/python bench/bench_ssh_overhead.py [--config sandbox/.state/console.toml] [--calls 20]

For a command that does nothing (``true``), medians over ``--calls`` calls:

- connect: ``SSHTransport(config.target).connect()`` (TCP, key exchange, auth; once per run);
- transport: ``SSHTransport.run(["true"])``, the console's way per step: a new channel, sshd
  starts the user's shell with the process-group wrapper, output read to exit;
- exec: a raw asyncssh ``conn.run("true")`` on the same connection (channel + login shell's
  ``-c``, no wrapper);
- persistent shell: one ``bash -s`` channel kept open, each command written to it and read
  back to a marker line (what one long-lived remote shell per run would cost per step);
- openssh: ``ssh host true`` from this machine, the script's way (a new connection each time).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import load_config  # noqa: E402
from console.transport.ssh import SSHTransport  # noqa: E402
from tests._sandbox_access import openssh_argv  # noqa: E402

DEFAULT_CONFIG = ROOT / "sandbox" / ".state" / "console.toml"


async def measure(config, calls: int) -> dict:
    transport = SSHTransport(config.target)
    started = time.perf_counter()
    await transport.connect()
    connect = time.perf_counter() - started
    try:
        conn = transport.connection  # the same connection, for the raw channel figures
        per = {"transport": [], "exec": [], "persistent": []}
        shell = await conn.create_process("bash -s", encoding="utf-8")
        for i in range(calls):
            t = time.perf_counter()
            result = await transport.run(["true"])
            per["transport"].append(time.perf_counter() - t)
            assert result.exit_status == 0, result
            t = time.perf_counter()
            await conn.run("true", check=True)
            per["exec"].append(time.perf_counter() - t)
            t = time.perf_counter()
            shell.stdin.write(f"true; echo __done_{i}_$?\n")
            while not (await shell.stdout.readline()).startswith(f"__done_{i}_"):
                pass
            per["persistent"].append(time.perf_counter() - t)
        shell.stdin.write_eof()
        await shell.wait_closed()
    finally:
        await transport.close()
    return {"connect_s": connect, **{k: statistics.median(v) for k, v in per.items()}}


def openssh(config, calls: int) -> float:
    argv = [*openssh_argv(config.target), "true"]
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="console config with the sandbox target")
    parser.add_argument("--calls", type=int, default=20, help="calls per way (default: 20)")
    args = parser.parse_args()
    config = load_config(args.config)
    result = asyncio.run(measure(config, args.calls))
    result["openssh"] = openssh(config, args.calls)
    print(f"per-step overhead of a no-op command, medians of {args.calls} calls (ms)")
    print(f"  connect once (asyncssh)          {result['connect_s'] * 1000:7.1f}")
    print(f"  SSHTransport.run (console)       {result['transport'] * 1000:7.1f}")
    print(f"  raw channel exec                 {result['exec'] * 1000:7.1f}")
    print(f"  persistent remote shell          {result['persistent'] * 1000:7.1f}")
    print(f"  ssh per call (the script)        {result['openssh'] * 1000:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
