"""Read-only looks into a compose project with the ``docker`` CLI, by compose's own labels.

``docker-compose`` 1.29 is a Python program: every call costs 0.3-0.45 s of CPU before it
does anything, and a rollback made about ten of them per host (docs/BENCHMARKS.md). The Go
``docker`` CLI starts in a few milliseconds. What a read-only step asks (which containers of
the project run, their last log lines, a command in the running service) the docker CLI
answers exactly, through the labels compose puts on every container, the same in v1 and v2:
``com.docker.compose.project``, ``.service``, ``.oneoff`` (``True`` on ``run`` containers) and
``.container-number``. A command in the running service (``exec``, read-only or not: a smoke
test, maintenance on/off, a migration rollback in the service) is ``docker exec`` as compose
itself does it. What changes the stack (down, up, recreate, ``run --rm``) stays with compose:
those are compose's semantics.

Every value reaches the remote shell as a positional parameter (``$1``...), never as script
text; service and project names are validated first.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from console.commands.base import docker, sh, user_argv
from console.commands.json_lines import json_lines
from console.commands.ps import PsParseError, ServiceState, _exit_from_status, _health_from_status
from console.validate import require_line_count, require_project_name, require_service

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
NUMBER_LABEL = "com.docker.compose.container-number"
# docker's own "the docker command failed" status: the service's command never ran
NO_CONTAINER_EXIT = 125
NO_CONTAINER = "no running container of service "  # how the exec script's message starts

# One JSON object per container, with exactly the labels read: `{{json .}}` gives the labels as
# one "k=v,k=v" string, which a label value holding a comma (compose's own config_files has
# them) makes ambiguous.
PS_FORMAT = (
    '{"name":{{json .Names}},"service":{{json (.Label "' + SERVICE_LABEL + '")}},'
    '"number":{{json (.Label "' + NUMBER_LABEL + '")}},"oneoff":{{json (.Label "' + ONEOFF_LABEL + '")}},'
    '"state":{{json .State}},"status":{{json .Status}}}'
)

# $1 project, $2 service, the rest: the command. As `compose exec -T` (which in v1 itself runs
# `docker exec -i CONTAINER ...`): the service's container with the lowest number, and only a
# running one; none: exit 125 with a message naming service and project.
_EXEC_IN_SERVICE = (
    'found=$(docker ps --filter "label=' + PROJECT_LABEL + '=$1" --filter "label=' + SERVICE_LABEL + '=$2" '
    "--filter label=" + ONEOFF_LABEL + "=False --filter status=running "
    '--format "{{.Label \\"' + NUMBER_LABEL + '\\"}} {{.ID}}") || { '
    'echo "cannot list the containers of service $2 in compose project $1 (docker ps failed)" >&2; '
    f"exit {NO_CONTAINER_EXIT}; }}; "
    'id=$(printf "%s\\n" "$found" | sort -n | head -n 1); id=${id#* }; '
    'if [ -z "$id" ]; then '
    'echo "' + NO_CONTAINER + '$2 in compose project $1 (docker ps shows none): start it first" >&2; '
    f"exit {NO_CONTAINER_EXIT}; fi; "
    'shift 2; exec docker exec -i "$id" "$@"'
)

# $1 project, $2 line count, the rest: services (none: all). As `compose logs --no-color
# --tail=N [SERVICE...]`: every container of the project, stopped ones included, one-off `run`
# containers left out, each line prefixed "<service>-<number> | " as compose v2 prints it; by service,
# then container number. Exit 1 when a container's logs could not be read (its lines say why).
_LOGS_TAIL = (
    "p=$1; n=$2; shift 2; "
    'list=$(docker ps -a --filter "label=' + PROJECT_LABEL + '=$p" --filter label=' + ONEOFF_LABEL + "=False "
    '--format "{{.Label \\"' + SERVICE_LABEL + '\\"}}:{{.Label \\"' + NUMBER_LABEL + '\\"}}:{{.Names}}") || exit $?; '
    "set -f; rc=0; "
    'for row in $(printf "%s\\n" "$list" | sort -t: -k1,1 -k2,2n); do '
    "s=${row%%:*}; name=${row##*:}; num=${row#*:}; num=${num%%:*}; "
    'if [ $# -gt 0 ]; then case " $* " in *" $s "*) ;; *) continue ;; esac; fi; '
    'out=$(docker logs --tail "$n" "$name" 2>&1) || rc=1; '
    '[ -z "$out" ] || printf "%s\\n" "$out" | '
    'while IFS= read -r line; do printf "%s-%s | %s\\n" "$s" "$num" "$line"; done; '
    "done; exit $rc"
)


class ContainerCommands:
    """Builders bound to one compose project's name (what its containers' labels say)."""

    def __init__(self, project_name: str) -> None:
        self.project_name = require_project_name(project_name)

    @classmethod
    def for_target(cls, target) -> ContainerCommands:
        return cls(target.project_name)

    def ps(self) -> list[str]:
        """Every container of the project, running or not, one JSON object a line
        (:func:`parse_container_ps` reads it)."""
        project = f"label={PROJECT_LABEL}={self.project_name}"
        return docker("ps", "-a", "--no-trunc", "--filter", project, "--format", PS_FORMAT)

    def ps_table(self) -> list[str]:
        """The project's containers as a table for a person (the host state shown before a resume)."""
        project = f"label={PROJECT_LABEL}={self.project_name}"
        return docker("ps", "-a", "--filter", project, "--format", "table {{.Names}}\t{{.Status}}\t{{.Image}}")

    def exec_in_service(self, service: str, command: Iterable[str]) -> list[str]:
        """``command`` in the running container of ``service`` (``compose exec -T``)."""
        return sh(_EXEC_IN_SERVICE, self.project_name, require_service(service), *user_argv(command, "service command"))

    def logs_tail(self, n: int = 50, services: Iterable[str] = ()) -> list[str]:
        """The last ``n`` lines of each container of ``services`` (all when none), ``compose logs --tail``."""
        return sh(_LOGS_TAIL, self.project_name, require_line_count(n), *[require_service(s) for s in services])


def parse_container_ps(output: str) -> list[ServiceState]:
    """:meth:`ContainerCommands.ps`'s output as the service states ``compose ps`` gives."""
    states = []
    for item in json_lines(output, "docker ps", PsParseError):
        state = str(item.get("state") or "").strip().lower() or "unknown"
        status = str(item.get("status") or "")
        states.append(
            ServiceState(
                name=str(item.get("name") or ""),
                service=str(item["service"]) if item.get("service") else None,
                state=state,
                running=state == "running",
                health=_health_from_status(status) if state == "running" else None,
                exit_code=_exit_from_status(status) if state in ("exited", "dead") else None,
                status=status,
                one_off=str(item.get("oneoff") or "").lower() == "true",
            )
        )
    return states


def no_container_message(stderr: str) -> str | None:
    """The exec script's own message when the service has no running container, else None
    (a command's own stderr is never quoted: it may hold anything)."""
    for line in stderr.splitlines():
        if line.startswith(NO_CONTAINER) or line.startswith("cannot list the containers of service "):
            return line.strip()
    return None


def readable(argv: list[str]) -> str | None:
    """What an exec or logs script does, as a person would type it (screens, dry runs), or None
    for any other argv. The journal keeps the exact argv; this is only how it is shown."""
    if len(argv) < 6 or argv[:2] != ["sh", "-c"] or argv[3] != "sh":
        return None
    project = argv[4]
    by_project = f"--filter label={PROJECT_LABEL}={shlex.quote(project)}"
    if argv[2] == _EXEC_IN_SERVICE and len(argv) >= 7:
        service, command = argv[5], argv[6:]
        return (
            f"docker exec -i $(docker ps -q {by_project} --filter label={SERVICE_LABEL}={shlex.quote(service)} "
            f"--filter status=running | head -n 1) {shlex.join(command)}"
        )
    if argv[2] == _LOGS_TAIL:
        count, services = argv[5], argv[6:]
        which = f" (services {', '.join(services)})" if services else ""
        return (
            f"for c in $(docker ps -a -q {by_project} --filter label={ONEOFF_LABEL}=False); "
            f'do docker logs --tail {count} "$c"; done{which}'
        )
    return None


def shown(argv: list[str]) -> str:
    """``argv`` as it is shown: :func:`readable` where it applies, else shell-quoted."""
    return readable(argv) or shlex.join(argv)
