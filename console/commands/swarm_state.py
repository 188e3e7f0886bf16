"""Parse what a swarm manager says about a stack, and judge whether it converged.

Read from ``docker stack services --format '{{json .}}'``, ``docker service ps --no-trunc
--format '{{json .}}'`` (one JSON object a line) and ``docker service inspect`` (a JSON array).

Converged means, for every service of the stack:

- replicas N/N (``stack services``), N > 0;
- no update in flight or stopped: ``UpdateStatus.State`` (inspect) is absent (never updated),
  ``completed`` or ``rollback_completed``... and never ``updating``, ``paused``,
  ``rollback_started`` or ``rollback_paused``. Replicas alone are not enough: with the default
  ``stop-first`` order a 1-replica service shows 1/1 while the old task still runs (captured in
  tests/fixtures/swarm/ps_backend_after_update.jsonl), and a ``rollback_*`` state means swarm
  itself is returning to the previous spec, which is not the release the console deployed;
- every slot's newest task (``service ps`` lists a slot's history newest first) is desired
  Running and is Running, with the service spec's image (``stack deploy`` changes the spec
  before it returns; swarm replaces the tasks after, so right after a deploy the old tasks can
  still look converged). A failed task gets desired state Shutdown as soon as swarm replaces
  it, so "desired Running and failed" never shows for long: the failures are read from the
  history instead, and only those of the expected image count (an older release's failure
  is history, not this deploy's);
- each running task's image is the digest the release log recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from console.commands.json_lines import json_lines
from console.safetext import plain_line

_REPLICAS = re.compile(r"(\d+)/(\d+)")
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})\Z")
UNSETTLED_UPDATES = ("updating", "paused", "rollback_started", "rollback_paused")
FAILED_STATES = ("failed", "rejected")


class SwarmParseError(ValueError):
    """The output is not what a swarm manager prints for these commands."""


@dataclass(frozen=True)
class StackService:
    name: str  # the swarm service, <stack>_<service>
    mode: str  # replicated | global
    running: int
    desired: int
    image: str

    @property
    def converged(self) -> bool:
        return self.desired > 0 and self.running == self.desired


@dataclass(frozen=True)
class SwarmTask:
    id: str
    name: str  # <service>.<slot>
    image: str  # as the task runs it: repo:tag@sha256:... when the registry resolved it
    desired: str  # running | shutdown | ready | accepted ...
    state: str  # first word of CurrentState, lower case: running, failed, rejected, shutdown ...
    current: str  # CurrentState as docker says it ("Failed 6 seconds ago")
    error: str  # docker's error text, quotes removed ("task: non-zero exit (3)")
    node: str = ""

    @property
    def slot(self) -> str:
        """``<service>.<n>`` (replicated) or ``<service>.<node id>`` (global): every task of one
        slot has the same name."""
        return self.name

    @property
    def digest(self) -> str | None:
        return image_digest(self.image)

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str  # Spec.TaskTemplate.ContainerSpec.Image
    replicas: int | None  # None: global mode
    update_state: str | None  # UpdateStatus.State; None when the service was never updated
    update_message: str = ""


@dataclass
class Convergence:
    """What is not converged yet, per swarm service (empty: converged)."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    task_errors: dict[str, list[str]] = field(default_factory=dict)  # the last failures seen, per service

    @property
    def converged(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = []
        for service, problems in self.problems.items():
            errors = self.task_errors.get(service)
            tail = f" (last task errors: {'; '.join(errors)})" if errors else ""
            parts.append(f"{service}: {', '.join(problems)}{tail}")
        return "; ".join(parts)


def image_digest(ref: str) -> str | None:
    match = _DIGEST.search(ref or "")
    return match.group(1) if match else None


def parse_stack_services(text: str) -> list[StackService]:
    services = []
    for item in json_lines(text, "docker stack services", SwarmParseError):
        match = _REPLICAS.match(str(item.get("Replicas") or ""))
        if match is None or not item.get("Name"):
            raise SwarmParseError(f"docker stack services printed no Name or Replicas N/M: {item!r:.200}")
        services.append(
            StackService(
                name=str(item["Name"]),
                mode=str(item.get("Mode") or ""),
                running=int(match.group(1)),
                desired=int(match.group(2)),
                image=str(item.get("Image") or ""),
            )
        )
    return services


def parse_service_ps(text: str) -> list[SwarmTask]:
    tasks = []
    for item in json_lines(text, "docker service ps", SwarmParseError):
        name = str(item.get("Name") or "")
        current = str(item.get("CurrentState") or "")
        if not current:
            raise SwarmParseError(f"docker service ps printed a task without CurrentState: {item!r:.200}")
        tasks.append(
            SwarmTask(
                id=str(item.get("ID") or ""),
                name=name.strip().lstrip("\\_ ").strip(),  # without --no-trunc, history rows start "\_ "
                image=str(item.get("Image") or ""),
                desired=str(item.get("DesiredState") or "").lower(),
                state=current.split()[0].lower(),
                current=current,
                # docker's text, but it can quote what the image or the host printed
                error=plain_line(str(item.get("Error") or "").strip().strip('"'))[:300],
                node=str(item.get("Node") or ""),
            )
        )
    return tasks


def parse_service_inspect(text: str) -> list[ServiceSpec]:
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise SwarmParseError(f"docker service inspect printed no JSON array ({exc})") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SwarmParseError("docker service inspect printed JSON that is not a list of objects")
    specs = []
    for item in items:
        spec = item.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        replicated = (spec.get("Mode") or {}).get("Replicated")
        status = item.get("UpdateStatus") or {}
        specs.append(
            ServiceSpec(
                name=str(spec.get("Name") or ""),
                image=str(container.get("Image") or ""),
                replicas=int(replicated.get("Replicas", 0)) if isinstance(replicated, dict) else None,
                update_state=str(status["State"]) if status.get("State") else None,
                update_message=plain_line(str(status.get("Message") or ""))[:300],
            )
        )
    return specs


def newest_per_slot(tasks: Iterable[SwarmTask]) -> dict[str, SwarmTask]:
    """The first task listed for each slot: ``service ps`` prints a slot's newest task first."""
    newest: dict[str, SwarmTask] = {}
    for task in tasks:
        newest.setdefault(task.slot, task)
    return newest


def judge_convergence(
    expected: Iterable[str],
    services: list[StackService],
    specs: list[ServiceSpec],
    tasks: dict[str, list[SwarmTask]],
    digests: dict[str, str] | None = None,
) -> Convergence:
    """``expected``: the swarm services the stack must have; ``tasks``: each one's ``service ps``;
    ``digests``: swarm service -> the digest (or image reference, :func:`runs_image`) its running
    tasks must run (None: not checked)."""
    result = Convergence()
    by_name = {s.name: s for s in services}
    spec_by_name = {s.name: s for s in specs}
    for name in expected:
        problems: list[str] = []
        service = by_name.get(name)
        if service is None:
            result.problems[name] = ["not in the stack"]
            continue
        if not service.converged:
            problems.append(f"replicas {service.running}/{service.desired}")
        spec = spec_by_name.get(name)
        if spec is not None and spec.update_state in UNSETTLED_UPDATES:
            problems.append(
                f"update {spec.update_state}" + (f" ({spec.update_message})" if spec.update_message else "")
            )
        history = tasks.get(name, [])
        want = (digests or {}).get(name)
        for slot, task in sorted(newest_per_slot(history).items()):
            if task.desired != "running" or task.state != "running":
                problems.append(f"task {slot} is {task.state} (desired {task.desired})")
            elif want is not None and not runs_image(task, want):
                problems.append(f"task {slot} runs {task.image or '(no image)'}, not {want}")
            elif spec is not None and spec.image and task.image != spec.image and not runs_image(task, spec.image):
                # the deploy changed the spec before swarm replaced this task: not converged yet
                problems.append(f"task {slot} runs {task.image or '(no image)'}, the service spec says {spec.image}")
        failed = failed_tasks(history, want)
        if failed:
            result.task_errors[name] = [f"{t.slot} {t.current}: {t.error or '(no error text)'}" for t in failed[:3]]
        if problems:
            result.problems[name] = problems
    return result


def runs_image(task: SwarmTask, want: str) -> bool:
    """``want``: a digest (``sha256:...``, what a registry-resolved task runs), or an image
    reference (``registry/image:tag``: images loaded from a tarball carry no digest)."""
    if want.startswith("sha256:"):
        return task.digest == want
    return task.image == want or task.image.startswith(want + "@")


def failed_tasks(history: Iterable[SwarmTask], digest: str | None = None) -> list[SwarmTask]:
    """Failed or rejected tasks in a service's history (newest first); with ``digest`` (or an
    image reference, as :func:`runs_image`), only those that ran that image: an older release's
    failure is history, not this deploy's."""
    return [t for t in history if t.failed and (digest is None or runs_image(t, digest))]
