"""Docker Swarm commands for a target that is a swarm manager (``[target] engine = "swarm"``).

The stack is ``project_name``; its stack file is the release bundle's compose file, unpacked
into ``project_dir``. A compose service ``backend`` is the swarm service ``<stack>_backend``.

``deploy`` flags, and why:

- ``--with-registry-auth``: the manager's registry login travels with the service spec, so
  every node can pull the release's images from a private registry (without it a worker
  node fails its tasks with "No such image" and the stack never converges).
- ``--prune``: a service the newer release added and the rolled-back-to release does not have
  is removed. Without it that service keeps running the newer code against the older schema.
- ``--resolve-image``: ``always`` (docker's default, said explicitly) when the images come from
  the registry: a stack file pinned ``repo:tag@sha256:...`` is checked against the registry and
  each node pulls that exact manifest. ``never`` when the images were loaded from the release's
  tarball on this node (a single-node swarm): there is no registry to ask.
- no ``--detach``: docker 20.10's client does not know the flag (26+ does, and its default
  waits without saying why a service does not converge); the console waits itself and names
  the service and its task errors (console.engine.swarm).

Maintenance and migration commands run with ``docker exec`` in a running task of the service
on this node, found by the label swarm puts on its containers. A one-off ``docker run`` would
need the service's networks, secrets and env repeated here; ``exec`` uses the task as deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from console.commands.base import argv, docker, sh, user_argv
from console.validate import UnsafeValue, require_line_count, require_project_name, require_remote_path, require_service

NO_TASK_EXIT = 125  # docker's own "the docker command failed" status: the command never ran
SERVICE_LABEL = "com.docker.swarm.service.name"
JSON_FORMAT = "{{json .}}"
ResolveImage = Literal["always", "changed", "never"]

# $1: the swarm service; the rest: the command. The values travel as parameters, never as text
# of the script. Swarm restarts a task that died (its restart policy), so a service can be
# between two tasks for a few seconds: the script looks again for up to TASK_WAIT_SECONDS. A
# service whose tasks all run on other nodes cannot be exec'd into from here.
TASK_WAIT_SECONDS = 30
_EXEC_IN_TASK = (
    "i=0; while :; do "
    'id=$(docker ps -q --filter "label=' + SERVICE_LABEL + '=$1" --filter status=running | head -n 1); '
    f'[ -n "$id" ] || [ "$i" -ge {TASK_WAIT_SECONDS} ] && break; i=$((i + 1)); sleep 1; done; '
    'if [ -z "$id" ]; then '
    f'echo "no running task of service $1 on this node (docker ps shows none after {TASK_WAIT_SECONDS} s): '
    'start one here, or run the command on the node that runs it" >&2; '
    f"exit {NO_TASK_EXIT}; fi; "
    'shift; exec docker exec -i "$id" "$@"'
)
# Every service's logs in one stream (docker service logs takes one service): the live pane's
# command. Each follower is a child of this shell, killed with it when the link closes. Swarm
# prints "TIMESTAMP <stack>_<service>.<slot>@<node> | text"; sed -u turns it, line by line as it
# comes, into compose v1's "<stack>_<service>_<slot> | TIMESTAMP text", the shape the log pane
# reads (console.live.logstream), so the pane's service column and filter work unchanged.
# BusyBox sed has no -u (and flushes each line to a pipe anyway): it is asked for only where known.
_FOLLOW_ALL = (
    "u=; echo | sed -u p >/dev/null 2>&1 && u=-u; "
    'tail=$1; shift; for s in "$@"; do '
    'docker service logs -f --timestamps --no-task-ids --tail "$tail" "$s" 2>&1 & done | '
    r"sed $u 's/^\([^ ]*\) \([^ |]*\)\.\([0-9][0-9]*\)@[^ |]* *| /\2_\3 | \1 /'"
)


def is_swarm(target) -> bool:
    """Is this target a swarm manager (``[target] engine = "swarm"``)?"""
    return getattr(target, "engine", "compose") == "swarm"


class SwarmCommands:
    """Builders bound to one stack: its name, the directory of its stack file, the stack files."""

    def __init__(self, stack: str, project_dir: str, stack_files: str | Sequence[str] = "docker-compose.yml") -> None:
        self.stack = require_project_name(stack)
        self.project_dir = require_remote_path(project_dir, "project directory")
        names = [stack_files] if isinstance(stack_files, str) else list(stack_files)
        if not names:
            raise UnsafeValue("refusing an empty list of stack files")
        for name in names:
            if not isinstance(name, str) or name.startswith("/"):
                raise UnsafeValue(f"refusing stack file {name!r}: give a path relative to project_dir")
        self.stack_files = [require_remote_path(f"{self.project_dir}/{name}", "stack file") for name in names]

    @classmethod
    def for_target(cls, target) -> SwarmCommands:
        files = getattr(target, "compose_files", None) or (getattr(target, "compose_file", "docker-compose.yml"),)
        return cls(target.project_name, target.project_dir, files)

    def service(self, service: str) -> str:
        """The swarm service of a compose service: ``<stack>_<service>``."""
        return f"{self.stack}_{require_service(service)}"

    # -- Changing the stack ------------------------------------------------------------------

    def deploy(self, resolve_image: ResolveImage = "always") -> list[str]:
        if resolve_image not in ("always", "changed", "never"):
            raise UnsafeValue(f"refusing --resolve-image {resolve_image!r}: use always, changed or never")
        files = [part for name in self.stack_files for part in ("-c", name)]
        return docker(
            "stack", "deploy", "--with-registry-auth", "--prune", "--resolve-image", resolve_image, files, self.stack
        )

    def exec_in_task(self, service: str, command: Iterable[str]) -> list[str]:
        """``command`` in a running task of ``service`` on this node; exit 125 and a clear
        message when none runs here."""
        return sh(_EXEC_IN_TASK, self.service(service), *user_argv(command, "service command"))

    # -- Looking -----------------------------------------------------------------------------

    @staticmethod
    def node_role() -> list[str]:
        """``active true`` on a manager, ``active false`` on a worker, ``inactive false`` outside a swarm."""
        return docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")

    def services(self) -> list[str]:
        return docker("stack", "services", self.stack, "--format", JSON_FORMAT)

    def stack_ps(self, filters: Iterable[str] = ()) -> list[str]:
        """Every task of the stack (``filters`` as :meth:`service_ps`'s)."""
        return docker("stack", "ps", self.stack, "--no-trunc", _filters(filters), "--format", JSON_FORMAT)

    def service_ps(self, service: str, filters: Iterable[str] = ()) -> list[str]:
        """Task history of one service, newest first per slot; ``filters`` as docker's
        ``key=value`` (``desired-state=running``)."""
        return docker("service", "ps", self.service(service), "--no-trunc", _filters(filters), "--format", JSON_FORMAT)

    def inspect(self, services: Iterable[str]) -> list[str]:
        names = [self.service(s) for s in services]
        if not names:
            raise UnsafeValue("refusing to inspect: name at least one service")
        return docker("service", "inspect", names)

    def logs_tail(self, service: str, n: int = 50) -> list[str]:
        return docker(
            "service", "logs", "--timestamps", "--no-task-ids", "--tail", require_line_count(n), self.service(service)
        )

    def logs_follow(self, service: str, tail: int = 50) -> list[str]:
        return docker(
            "service", "logs", "-f", "--timestamps", "--tail", require_line_count(tail), self.service(service)
        )

    def logs_follow_all(self, services: Iterable[str], tail: int = 50) -> list[str]:
        """Every named service's logs, followed, in one stream (the live pane)."""
        names = [self.service(s) for s in services]
        if not names:
            raise UnsafeValue("refusing to follow logs: name at least one service")
        return sh(_FOLLOW_ALL, require_line_count(tail), *names)

    def logs_tail_all(self, services: Iterable[str], n: int = 50) -> list[str]:
        """The last ``n`` lines of each named service, one after the other (verification)."""
        return argv(
            "sh",
            "-c",
            'n=$1; shift; rc=0; for s in "$@"; do '
            'docker service logs --timestamps --no-task-ids --tail "$n" "$s" 2>&1 || rc=1; done; exit $rc',
            "sh",
            require_line_count(n),
            [self.service(s) for s in services],
        )


def _filters(filters: Iterable[str]) -> list[str]:
    parts = []
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or key not in ("desired-state", "id", "name", "node") or not value or not value.isprintable():
            raise UnsafeValue(f"refusing task filter {item!r}: use desired-state|id|name|node=VALUE")
        parts += ["--filter", item]
    return parts
