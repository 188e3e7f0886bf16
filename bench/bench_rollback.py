"""Benchmark: the rollback v2 -> v1 on the sandbox, four ways, and the customers' downtime window.

Run inside the sandbox lock, from the worktree root (each round resets the sandbox to v2 with
``sandbox/ctl reset``, as the sandbox tests do):

    /work/sbx .venv/bin/python bench/bench_rollback.py [--rounds 3] [--json FILE]

Four ways, taking turns in every round (the order rotates from round to round):

- console: ``python -m console --config C rollback --yes --json``, with all its checks, the
  lock and the journal; timed from process start to exit;
- script: the runbook's commands as a bash script, one ``ssh`` call per step (OpenSSH,
  the config's key and pinned known_hosts), as an operator would script it;
- floor: the same commands in one ssh session (``bash -s`` on the host): what the host
  itself needs; nothing can be faster without running less;
- floor_own: the console's own commands (``docker exec``/``ps``/``logs`` by compose's labels
  where the console uses them instead of compose) in one ssh session, one after another: what
  the console's procedure needs on the host, so console / floor_own is the console's own cost.

The commands are the procedure's own (``rollback_procedure(config, log, "v2", "v1")``):
every step with an argv runs it; a step the console runs as an action runs its runbook
equivalent (``sha256sum`` of the artifacts, ``tar -tzf`` of the bundle, ``docker image inspect`` or
``docker manifest inspect`` of each image, ``migrate:status``, ``compose ps``, and a health wait that
polls every health URL until it reports v1); where the console asks the docker CLI what the runbook
asks compose (``verify_logs``, the smoke tests), the script and the floor run the runbook's compose
command; a pull runs, as in the console, only when ``docker
image inspect`` does not find the captured image on the host.

Downtime window: from the start of the first step customers notice (``maintenance_on``) to
health green on v1. The start comes from the console's journal (``step_started``) or from
the script's own timestamps; green is seen by an external poller in this process (every
health check of the config, every 50 ms, the console's own check code): the first moment
every check passes with version v1.

Per-step profile of the console's run: the journal's step durations against the floor's
per-step times (measured on the host between the commands) and the script's (per ssh call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import load_config  # noqa: E402
from console.engine.rollback import rollback_procedure  # noqa: E402
from console.incident.journal import Journal  # noqa: E402
from console.incident.records import StepFinished, StepStarted  # noqa: E402
from console.live.health import check_all  # noqa: E402
from console.release.release_log import ReleaseLog  # noqa: E402
from tests._sandbox_access import openssh_argv, sandbox_env  # noqa: E402

DEFAULT_CONFIG = ROOT / "sandbox" / ".state" / "console.toml"
CTL = ROOT / "sandbox" / "ctl"
FROM, TO = "v2", "v1"


def reset(config=None, attempts: int = 3) -> None:
    """Back to v2 deployed. The shared dockerd sometimes drops a request mid-reset: try again."""
    for _attempt in range(attempts):
        result = subprocess.run([str(CTL), "reset"], capture_output=True, text=True, timeout=600)
        if result.returncode == 0:
            break
        time.sleep(2)
    else:
        raise RuntimeError(f"sandbox/ctl reset failed {attempts} times: {result.stderr[-1500:]}")
    if config is not None:
        wait_until_serving(config, FROM)


def wait_until_serving(config, version: str, limit: float = 60.0) -> None:
    """Every health URL answers (any status) with ``version``: the stack is up, not half-recreated."""
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if all(
                httpx.get(h.url, timeout=2, trust_env=False).json().get("version") == version for h in config.health
            ):
                time.sleep(1.0)  # and its one-off commands can start
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the stack does not serve {version} {limit:g}s after the reset")


# -- the commands -------------------------------------------------------------------------------


def runbook_commands(config, *, own: bool = False) -> list[tuple[str, str]]:
    """(step id, shell command) for every step of the console's rollback, in order.

    By default the runbook's commands: where the console runs a command in the service's running
    container with the docker CLI (``docker exec`` by compose's labels) or reads ps/logs with it,
    the runbook's ``compose exec -T`` / ``compose ps`` / ``compose logs``. ``own``: the console's
    own commands, so a floor of them is what the console's procedure needs on the host."""
    from console.commands import artifacts as art
    from console.commands.compose import ComposeCommands
    from console.commands.containers import ContainerCommands

    log = ReleaseLog.load(config.paths.release_log)
    procedure = rollback_procedure(config, log, FROM, TO)
    target = config.target
    compose = ComposeCommands.for_target(target)
    release = log.get(TO)
    files = [art.bundle_path(target.artifacts_dir, TO)]
    if not (release is not None and release.pushed):
        files.append(art.images_path(target.artifacts_dir, TO))
    health_urls = " ".join(shlex.quote(h.url) for h in config.health)
    # POSIX sh (the login shell runs it in the script): every URL answers 2xx, status ok, version v1
    health_wait = (
        f'for url in {health_urls}; do until b=$(curl -fsS --max-time 2 "$url" 2>/dev/null) '
        f'&& echo "$b" | grep -Eq \'"status": ?"ok"\' && echo "$b" | grep -Eq \'"version": ?"{TO}"\'; '
        f"do sleep 0.05; done; done"
    )
    via = config.commands.service_command_mode
    containers = ContainerCommands.for_target(target)
    exec_script = containers.exec_in_service("s", ["c"])[:3]  # sh -c SCRIPT: a docker exec by labels

    def runbook_argv_of(argv: list[str]) -> list[str]:
        """The runbook's compose command for the console's docker exec by labels, else argv."""
        if own or argv[:3] != exec_script:
            return argv
        return compose.exec_(argv[5], argv[6:])  # sh -c SCRIPT sh PROJECT SERVICE COMMAND...

    migration_check = shlex.join(
        runbook_argv_of(compose.migrate_status(config.backend.name, config.commands.migrate_status, via=via))
    )
    # The console also reads the down SQL of each migration it will undo (what the rollback drops,
    # shown before the confirmation): one more command on the host, so the script and the floor
    # run it too. Here the undone migrations are the ones between the two releases' heads (one here).
    source = log.get(FROM)
    down_sql = config.commands.migration_down_sql
    if down_sql and source is not None and source.migration_head and source.migration_head != release.migration_head:
        argv = compose.migrate_status(
            config.backend.name,
            [part.replace("{migration}", source.migration_head) for part in down_sql],
            via=via,
        )
        migration_check += f" && {shlex.join(runbook_argv_of(argv))}"
    actions = {
        "verify_artifacts": "sha256sum "
        + " ".join(shlex.quote(f) for f in files)
        + f" && cat {shlex.quote(art.sha256sums_path(target.artifacts_dir))} >/dev/null",
        "inspect_bundle": shlex.join(art.list_bundle(target.artifacts_dir, TO)) + " >/dev/null",
        "migration_check": migration_check,
        "verify_ps": shlex.join(containers.ps() if own else compose.ps()),
        "verify_health": health_wait,
    }
    present = {}  # service name -> "the host has the captured image" (the console's image_present)
    if release is not None and release.pushed:
        from console.commands.images import image_present, registry_has
        from console.engine.registry_pull import captured_digest

        checks = []
        for service in config.services:
            digest = captured_digest(release, service.image, service.name)
            ref = (
                art.digest_ref(config.registry.url, service.image, digest)
                if digest
                else art.image_ref(config.registry.url, service.image, TO)
            )
            present[service.name] = f"{shlex.join(image_present(ref))} >/dev/null 2>&1"
            checks.append(f"{{ {present[service.name]} || {shlex.join(registry_has(config.registry.url, ref))}; }}")
        actions["images_available"] = " && ".join(checks)
    actions["disk_space"] = (
        "df -Pk \"$(docker info --format '{{.DockerRootDir}}')\" >/dev/null && "
        f"stat -c %s {shlex.quote(art.images_path(target.artifacts_dir, TO))}"
    )
    # The runbook's own commands where the console asks the docker CLI instead of compose (its
    # read-only steps, console.commands.containers): the script and the floor stay what the
    # runbook says an operator runs, so the console's saving shows in the ratios.
    runbook_argv = {} if own else {"verify_logs": compose.logs_tail(50)}
    commands = []
    for step in procedure.steps:
        name = step.id[len("pull_") :] if step.id.startswith("pull_") else None
        if step.id in runbook_argv:
            commands.append((step.id, shlex.join(runbook_argv[step.id])))
        elif step.argv is not None and name in present:  # as the console: no pull for an image already there
            commands.append((step.id, f"{present[name]} || {shlex.join(step.argv)}"))
        elif step.argv is not None:
            commands.append((step.id, shlex.join(runbook_argv_of(step.argv))))
        elif step.id in actions:
            commands.append((step.id, actions[step.id]))
        else:
            raise RuntimeError(f"no runbook command known for the console's action step {step.id!r}")
    return commands


def old_order(commands: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The console's order before the schema check and the pulls moved out of the window: the schema
    check right after ``maintenance_on``, the image pulls and tags after ``restore_bundle`` (sizes what
    the reorder saves, docs/BENCHMARKS.md)."""
    ids = [c[0] for c in commands]
    window = ids.index("maintenance_on")
    early = [c for c in commands[:window] if c[0] == "migration_check" or c[0].startswith(("pull_", "tag_"))]
    check = [c for c in early if c[0] == "migration_check"]
    pulls = [c for c in early if c not in check]
    rest = [c for c in commands if c not in early]
    for after, moved in (("restore_bundle", pulls), ("maintenance_on", check)):
        at = [c[0] for c in rest].index(after) + 1
        rest = rest[:at] + moved + rest[at:]
    return rest


def config_without_metrics(path: Path) -> Path:
    """A copy of the config without its ``[[metrics]]`` checks (beside it, so its relative paths hold).
    The console's ``verify_metrics`` step waits for Prometheus to scrape the restarted stack
    (up to each check's window): a wait on the monitoring, not work the host does, and the
    script and the floor have no equivalent. ``--with-metrics`` keeps them."""
    kept, skipping = [], False
    for line in path.read_text().splitlines(keepends=True):
        header = line.strip()
        if header.startswith("["):
            skipping = header == "[[metrics]]"
        if not skipping:
            kept.append(line)
    copy = path.with_name(f".bench-{path.stem}-no-metrics.toml")
    copy.write_text("".join(kept))
    return copy


def script_text(config, commands: list[tuple[str, str]]) -> str:
    """The operator's script: one ssh call per step; prints 'T <step> <epoch>' before each and at the end."""
    ssh = shlex.join(openssh_argv(config.target))
    lines = ["set -e"]
    for step_id, command in commands:
        lines.append(f'echo "T {step_id} $(date +%s.%N)"')
        lines.append(f"{ssh} {shlex.quote(command)} >/dev/null 2>&1 </dev/null")
    lines.append('echo "T end $(date +%s.%N)"')
    return "\n".join(lines) + "\n"


def floor_text(commands: list[tuple[str, str]]) -> str:
    """The same commands in one remote bash, with the same timestamps (the host's clock is this machine's)."""
    lines = ["set -e"]
    for step_id, command in commands:
        lines.append(f'echo "T {step_id} $(date +%s.%N)"')
        lines.append(f"( {command} ) >/dev/null 2>&1 </dev/null")
    lines.append('echo "T end $(date +%s.%N)"')
    return "\n".join(lines) + "\n"


def parse_marks(stdout: str) -> list[tuple[str, float]]:
    return [
        (parts[1], float(parts[2]))
        for parts in (line.split() for line in stdout.splitlines())
        if len(parts) == 3 and parts[0] == "T"
    ]


# -- the external health poller -----------------------------------------------------------------


class GreenWatcher:
    """Polls every health check (expecting v1) every 50 ms in its own thread; notes when all pass."""

    def __init__(self, config) -> None:
        self.config = config
        self.green_at: list[float] = []  # epoch seconds of each all-green round
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            while not self._stop.is_set():
                started = time.time()
                results = await check_all(self.config.health, client, TO)
                if all(r.ok for r in results):
                    self.green_at.append(started)
                await asyncio.sleep(0.05)

    def __enter__(self) -> GreenWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def first_green_after(self, moment: float) -> float | None:
        return next((t for t in self.green_at if t >= moment), None)


# -- the three ways ------------------------------------------------------------------------------


def run_console(config_path: Path, config, tree: Path = ROOT) -> dict:
    """``tree``: the checkout whose console runs (``--compare-console``), with this interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with GreenWatcher(config) as watcher:
        started = time.time()
        result = subprocess.run(
            [sys.executable, "-m", "console", "--config", str(config_path), "rollback", "--yes", "--json"],
            capture_output=True,
            text=True,
            cwd=tree,  # ``-m console`` imports the package from the working directory
            env=sandbox_env(),
            timeout=900,
        )
        ended = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(0.2)
    if result.returncode != 0:
        raise RuntimeError(
            f"console rollback exited {result.returncode}: {result.stdout[-2000:]} {result.stderr[-2000:]}"
        )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    incident = events[0]["incident_id"]
    journal = Journal(config.paths.state_dir / "incidents" / incident)
    steps, starts = {}, {}
    for record in journal.records():
        if isinstance(record, StepStarted):
            starts[record.step_id] = _epoch(record.ts)
        elif isinstance(record, StepFinished):
            steps[record.step_id] = record.duration
    first = starts["maintenance_on"]
    green = watcher.first_green_after(first)
    return {
        "total_s": ended - started,
        "steps_s": steps,
        "window_s": None if green is None else green - first,
        "first_step_at_s": min(starts.values()) - started,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run_shell(config, text: str, *, remote: bool) -> dict:
    argv = [*openssh_argv(config.target), "bash", "-s"] if remote else ["bash", "-s"]
    with GreenWatcher(config) as watcher:
        started = time.time()
        result = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=900)
        ended = time.time()
        time.sleep(0.2)
    if result.returncode != 0:
        raise RuntimeError(
            f"{'floor' if remote else 'script'} exited {result.returncode}: {result.stdout[-1500:]} "
            f"{result.stderr[-1500:]}"
        )
    marks = parse_marks(result.stdout)
    steps = {marks[i][0]: marks[i + 1][1] - marks[i][1] for i in range(len(marks) - 1)}
    first = dict(marks)["maintenance_on"]
    green = watcher.first_green_after(first)
    return {"total_s": ended - started, "steps_s": steps, "window_s": None if green is None else green - first}


def spread(values: list[float]) -> dict:
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "all": []}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="the sandbox's console config (default: sandbox/.state/console.toml)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs the three ways once (default: 3)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument(
        "--old-order",
        action="store_true",
        help="a fourth way: the floor in the console's order "
        "before the reorder (schema check and image pulls inside the window), to size what it saves",
    )
    parser.add_argument(
        "--compare-console",
        type=Path,
        metavar="TREE",
        help="a fourth way: the console of another checkout (e.g. `git worktree add` or `git archive` of main) "
        "run from TREE with this interpreter, to size a change in the same run (console_before)",
    )
    parser.add_argument(
        "--with-metrics",
        action="store_true",
        help="keep the config's [[metrics]] checks (the console then waits for Prometheus in verify_metrics, "
        "which the script and the floor do not)",
    )
    args = parser.parse_args()
    if args.compare_console is not None and not (args.compare_console / "console" / "__main__.py").exists():
        parser.error(f"--compare-console: {args.compare_console} holds no console package")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.config.exists():
        parser.error(f"{args.config} does not exist: run this through /work/sbx (the sandbox writes it)")
    if not args.with_metrics:
        args.config = config_without_metrics(args.config)
    config = load_config(args.config)
    reset(config)
    commands = runbook_commands(config)
    own_commands = runbook_commands(config, own=True)
    ways = {
        "console": lambda: run_console(args.config, config),
        "script": lambda: run_shell(config, script_text(config, commands), remote=False),
        "floor": lambda: run_shell(config, floor_text(commands), remote=True),
        # the console's own commands (docker exec/ps/logs where it uses them), one after another
        "floor_own": lambda: run_shell(config, floor_text(own_commands), remote=True),
    }
    if args.compare_console is not None:
        ways["console_before"] = lambda: run_console(args.config, config, args.compare_console.resolve())
    if args.old_order:
        ways["floor_old_order"] = lambda: run_shell(config, floor_text(old_order(commands)), remote=True)
    order = list(ways)
    runs: dict[str, list[dict]] = {name: [] for name in ways}
    for round_no in range(args.rounds):
        for name in order[round_no % len(order) :] + order[: round_no % len(order)]:
            try:
                reset(config)
            except RuntimeError as exc:  # the shared sandbox broke: report what was measured so far
                print(f"round {round_no + 1}: the sandbox could not be reset, stopping: {str(exc)[-300:]}")
                break
            try:
                runs[name].append({"round": round_no, **ways[name]()})
            except RuntimeError as exc:  # one failed run is reported and left out, not the whole bench
                print(f"round {round_no + 1} {name:7s}: FAILED, left out: {str(exc)[-600:]}", flush=True)
                continue
            print(
                f"round {round_no + 1} {name:7s}: {runs[name][-1]['total_s']:.2f} s, window "
                f"{runs[name][-1]['window_s'] or float('nan'):.2f} s",
                flush=True,
            )
            if args.json:
                args.json.write_text(json.dumps({"runs": runs}, indent=1))
        else:
            continue
        break
    try:
        reset(config)
    except RuntimeError as exc:
        print(f"the final reset failed: {str(exc)[-300:]}")
    summary = summarize(runs)
    print_summary(summary, runs)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    return 0


def summarize(runs: dict[str, list[dict]]) -> dict:
    total = {n: [r["total_s"] for r in runs[n]] for n in runs}
    window = {n: [r["window_s"] for r in runs[n]] for n in runs}

    def per_round(a: str, b: str, key: dict) -> list[float]:
        """a / b within each round where both ran (and the figure exists)."""
        rounds_b = {r["round"]: i for i, r in enumerate(runs[b])}
        return [
            key[a][i] / key[b][rounds_b[r["round"]]]
            for i, r in enumerate(runs[a])
            if r["round"] in rounds_b and key[a][i] is not None and key[b][rounds_b[r["round"]]]
        ]

    return {
        "total_s": {n: spread(v) for n, v in total.items()},
        "window_s": {n: spread([v for v in vals if v is not None]) for n, vals in window.items()},
        "console_vs_floor": spread(per_round("console", "floor", total)),
        "console_vs_script": spread(per_round("console", "script", total)),
        "script_vs_floor": spread(per_round("script", "floor", total)),
        "window_console_vs_floor": spread(per_round("console", "floor", window)),
        "console_vs_floor_own": spread(per_round("console", "floor_own", total)),
        "window_console_vs_floor_own": spread(per_round("console", "floor_own", window)),
        **(
            {
                "console_before_vs_floor": spread(per_round("console_before", "floor", total)),
                "console_before_vs_script": spread(per_round("console_before", "script", total)),
                "window_console_before_vs_floor": spread(per_round("console_before", "floor", window)),
                "console_vs_console_before": spread(per_round("console", "console_before", total)),
            }
            if "console_before" in runs
            else {}
        ),
        **(
            {"window_floor_vs_old_order": spread(per_round("floor", "floor_old_order", window))}
            if "floor_old_order" in runs
            else {}
        ),
    }


def print_summary(summary: dict, runs: dict[str, list[dict]]) -> None:
    t, w = summary["total_s"], summary["window_s"]
    print(f"\nrollback {FROM} -> {TO}, {len(runs['console'])} rounds: medians (min-max)")
    for name in runs:
        print(
            f"  {name:7s} total {t[name]['median']:6.2f} s ({t[name]['min']:.2f}-{t[name]['max']:.2f})   "
            f"downtime window {w[name]['median']:5.2f} s ({w[name]['min']:.2f}-{w[name]['max']:.2f})"
        )
    for key, label, target in (
        ("console_vs_floor", "console / floor", "<= 1.05x"),
        ("console_vs_script", "console / script", "<= 0.70x"),
        ("window_console_vs_floor", "window console / floor", "<= 1.10x"),
        ("console_vs_floor_own", "console / floor_own", "(the console's own commands)"),
        ("window_console_vs_floor_own", "window console / own", ""),
        ("console_before_vs_floor", "console_before / floor", "(--compare-console)"),
        ("console_before_vs_script", "console_before / script", ""),
        ("window_console_before_vs_floor", "window before / floor", ""),
        ("console_vs_console_before", "console / console_before", "(the change)"),
        ("window_floor_vs_old_order", "window floor / old order", "(the reorder)"),
    ):
        if key not in summary:
            continue
        s = summary[key]
        print(f"  {label:24s} {s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f}; target {target})")
    print("\nper step, medians in s (console: journal durations; script: per ssh call; floor: on the host)")
    steps = list(runs["floor"][0]["steps_s"]) if runs["floor"] else []
    columns = [n for n in ("console", "console_before", "script", "floor", "floor_own") if n in runs]
    print(f"  {'':22s} " + " ".join(f"{n[:14]:>14s}" for n in columns))
    for step in steps:
        row = [
            statistics.median([r["steps_s"].get(step, float("nan")) for r in runs[n]] or [float("nan")])
            for n in columns
        ]
        print(f"  {step:22s} " + " ".join(f"{v:14.2f}" for v in row))
    for name in ("console", "console_before"):
        c = runs.get(name)
        if not c:
            continue
        print(
            f"  ({name}: process start to first step {statistics.median([r['first_step_at_s'] for r in c]):.2f} s; "
            f"its own CPU, user+sys, {statistics.median([r['cpu_s'] for r in c]):.2f} s)"
        )


if __name__ == "__main__":
    sys.exit(main())
