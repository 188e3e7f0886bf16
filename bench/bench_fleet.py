"""Benchmark: a fleet rollback of the sandbox's three hosts against one host's rollback, same run.

Run inside the sandbox lock, from the worktree root (each run resets the sandbox to v2 with
``sandbox/ctl reset``):

    /work/sbx .venv/bin/python bench/bench_fleet.py [--rounds 3] [--json FILE]

Three ways, taking turns in every round (the order rotates from round to round), each
``python -m console --config C rollback --to v1 --yes --json`` timed from process start to exit:

- single: one host's rollback: the fleet config's first host (web1, which also runs the
  migrations) as a plain ``[target]`` config, so both sides have the same checks and database;
- fleet: the three hosts (``sandbox/.state/fleet.toml``) as configured for production use: the
  canary alone, then a batch of two (the migrations host in it), with the health-gated pause
  set to 0 s (the pause is waiting by design; it adds exactly its length);
- fleet-parallel: the same three hosts with ``canary = "none"`` and ``batch_size = 3``: one wave;
- three-singles: three one-host consoles started at once, one per host (web2/web3 with
  ``migrations = false``): what running the hosts in parallel costs on this machine, without the
  fleet engine; fleet-parallel against it is the engine's own cost.

``--compare-console TREE`` adds ``single-before`` and ``fleet-parallel-before``: the same runs with
another checkout's console (``git archive main | tar -x -C TREE``), so a change's per-host CPU is
measured against main's in the same run; ``--ways`` runs only the named ways.

The target (issue 15/14): fleet-parallel <= 1.3x single. A canary wave makes two waves in
sequence, so ``fleet`` is expected near 2x the host work plus one shared preflight.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from tempfile import TemporaryDirectory

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "sandbox" / ".state"


def ctl(*args: str) -> None:
    subprocess.run([str(ROOT / "sandbox" / "ctl"), *args], check=True, capture_output=True, timeout=900)


def env() -> dict[str, str]:
    values = dict(os.environ)
    for line in (STATE / "env.sh").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            values[key] = value.strip("'\"")
    return values


def config_copy(source: Path, into: Path, *, one_host: int | None = None, **fleet) -> Path:
    """The config with its own state dir and release log copy (a run never sees another's incidents).
    ``one_host``: the fleet's first host as a plain single-host config (same keys, checks, database)."""
    data = tomllib.loads(source.read_text())
    if one_host is not None:
        first = data.pop("hosts")[one_host]
        data.pop("fleet", None)
        data["health"] = first.pop("health")
        if "migrations" not in first.pop("roles", []):
            data["commands"]["migrations"] = False  # the database is the fleet's: web1 rolls it back
            for key in ("migrate_rollback", "migrate_status", "migration_down_sql"):
                data["commands"].pop(key, None)
        first.pop("name")
        data["target"].update(first)
    log = into / "releases.toml"
    log.write_bytes(Path(data["paths"]["release_log"]).read_bytes())
    data["paths"].update(state_dir=str(into / "state"), release_log=str(log), host_state=False)
    if fleet:
        data.setdefault("fleet", {}).update(fleet)
    path = into / "config.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def busy_cpu_seconds() -> float:
    """The whole machine's busy CPU time so far (/proc/stat: every CPU, all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed_rollback(*configs: Path, tree: Path = ROOT) -> tuple[float, float, float]:
    """Wall time of one console rollback per config, all started at once, the machine's busy
    CPU seconds meanwhile (console, ssh, sshd, docker-compose, dockerd: everything the hosts did)
    and the consoles' own CPU seconds (user + sys).
    ``tree``: the checkout whose console runs."""
    cpu = busy_cpu_seconds()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    consoles = [
        subprocess.Popen(
            [sys.executable, "-m", "console", "--config", str(c), "rollback", "--to", "v1", "--yes", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tree,
            env=env(),
        )
        for c in configs
    ]
    errors = [(c, p.communicate(timeout=900)[1], p.returncode) for c, p in zip(configs, consoles, strict=True)]
    took = time.perf_counter() - started
    busy = busy_cpu_seconds() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    for config, stderr, status in errors:
        if status != 0:
            raise SystemExit(f"rollback with {config} failed ({status}):\n{stderr[-2000:]}")
    return took, busy, own


def _sub(parent: Path, index: int) -> Path:
    path = parent / f"host{index}"
    path.mkdir()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each runs every way once)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    parser.add_argument(
        "--compare-console",
        metavar="TREE",
        type=Path,
        help="also run single and fleet-parallel with the console of this checkout (e.g. main exported)",
    )
    parser.add_argument(
        "--ways", metavar="NAME,...", help="run only these ways (single, three-singles, fleet, fleet-parallel, ...)"
    )
    args = parser.parse_args()
    if args.compare_console is not None and not (args.compare_console / "console" / "__main__.py").exists():
        parser.error(f"--compare-console: {args.compare_console} holds no console package")
    ways = {
        "single": lambda d: (config_copy(STATE / "fleet.toml", d, one_host=0),),
        "three-singles": lambda d: tuple(config_copy(STATE / "fleet.toml", _sub(d, i), one_host=i) for i in range(3)),
        "fleet": lambda d: (config_copy(STATE / "fleet.toml", d, canary_pause_seconds=0),),
        "fleet-parallel": lambda d: (config_copy(STATE / "fleet.toml", d, canary="none", batch_size=3),),
    }
    trees = dict.fromkeys(ways, ROOT)
    if args.compare_console is not None:
        for name in ("single", "fleet-parallel"):
            ways[f"{name}-before"] = ways[name]
            trees[f"{name}-before"] = args.compare_console.resolve()
    if args.ways:
        wanted = args.ways.split(",")
        unknown = [w for w in wanted if w not in ways]
        if unknown or "single" not in wanted:
            parser.error(f"--ways: name single and any of {', '.join(ways)} (unknown: {', '.join(unknown) or '-'})")
        ways = {name: ways[name] for name in wanted}
    times: dict[str, list[float]] = {name: [] for name in ways}
    busy: dict[str, list[float]] = {name: [] for name in ways}
    own: dict[str, list[float]] = {name: [] for name in ways}
    cores = os.cpu_count() or 1
    names = list(ways)
    for round_no in range(args.rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            ctl("reset")
            with TemporaryDirectory() as tmp:
                took, cpu, console_cpu = timed_rollback(*ways[name](Path(tmp)), tree=trees[name])
            times[name].append(took)
            busy[name].append(cpu)
            own[name].append(console_cpu)
            print(
                f"round {round_no + 1}: {name:15s} {took:6.2f} s wall, {cpu:6.2f} s busy CPU, "
                f"consoles' own CPU {console_cpu:5.2f} s",
                flush=True,
            )
    ctl("reset")
    base = statistics.median(times["single"])
    print(f"\nmedian (s) and ratio to one host's rollback measured in the same run ({cores} CPUs):")
    figures = {}
    for name, values in times.items():
        median = statistics.median(values)
        cpu = statistics.median(busy[name])
        figures[name] = {
            "median_s": round(median, 3),
            "ratio": round(median / base, 3),
            "busy_cpu_s": round(cpu, 3),
            "console_cpu_s": round(statistics.median(own[name]), 3),
            "runs": values,
        }
        # busy CPU / CPUs: the shortest wall time this machine allows for that much work
        print(
            f"  {name:15s} {median:6.2f} s  {median / base:5.2f}x   busy CPU {cpu:6.2f} s (floor {cpu / cores:5.2f} s),"
            f" consoles' own {statistics.median(own[name]):5.2f} s"
        )
    print("target: fleet-parallel <= 1.30x single")
    if "single-before" in figures and "fleet-parallel-before" in figures:
        before = figures["fleet-parallel-before"]["median_s"] / figures["single-before"]["median_s"]
        print(f"with the --compare-console tree: fleet-parallel-before / single-before {before:.2f}x")
    if "three-singles" in figures and "fleet-parallel" in figures:
        engine = figures["fleet-parallel"]["median_s"] / figures["three-singles"]["median_s"]
        print(f"fleet-parallel against three one-host consoles started at once: {engine:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
