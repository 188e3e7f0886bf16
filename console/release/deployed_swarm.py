"""What a swarm stack runs, in the terms of console.release.deployed (one entry per running task).

On a swarm the containers carry ``com.docker.stack.namespace``, not compose's project label,
and may run on other nodes: the manager's ``docker stack ps`` is what knows every task. A task's
image is ``repo:tag@sha256:...`` once the registry resolved it; that digest is matched against
the release log's as a compose container's RepoDigests are.
"""

from __future__ import annotations

from console.commands.swarm import SwarmCommands
from console.commands.swarm_state import parse_service_ps
from console.release.deployed import READ_TIMEOUT, RunningContainer


def parse_stack_tasks(text: str, stack: str) -> list[RunningContainer]:
    """The running tasks of ``docker stack ps --filter desired-state=running`` as containers
    whose ``service`` is the compose service (``<stack>_backend.1`` -> ``backend``)."""
    prefix = f"{stack}_"
    running = []
    for task in parse_service_ps(text):
        service, _dot, _slot = task.name.rpartition(".")
        if not service.startswith(prefix) or task.state != "running":
            continue
        digest_ref = (task.image,) if task.digest else ()
        running.append(
            RunningContainer(
                name=task.name,
                service=service[len(prefix) :],
                image_ref=task.image.partition("@")[0],
                image_id="",
                repo_digests=digest_ref,
                running=True,
            )
        )
    return running


async def read_stack_containers(transport, target) -> list[RunningContainer]:
    swarm = SwarmCommands.for_target(target)
    result = await transport.run(swarm.stack_ps(["desired-state=running"]), timeout=READ_TIMEOUT, capture=True)
    if not result.ok:
        why = (result.stderr.strip().splitlines() or [f"exit {result.exit_status}"])[-1][:300]
        raise ValueError(f"docker stack ps {swarm.stack} failed: {why}")
    return parse_stack_tasks(result.stdout, swarm.stack)
