"""Docker Compose commands for the runbook's steps, for ``docker-compose`` (v1) and ``docker compose`` (v2).

Every command names the project explicitly (``-p NAME -f DIR/compose.yaml
[-f DIR/compose.override.yaml ...] --project-directory DIR``): commands travel over SSH as one argv, so nothing may
depend on a ``cd`` or on the directory name compose would otherwise derive the
project from. ``down`` never takes ``-v``/``--volumes``: a rollback must not
delete the database's volumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from console.commands.base import argv, user_argv
from console.commands.containers import ContainerCommands
from console.validate import (
    UnsafeValue,
    require_line_count,
    require_migration,
    require_project_name,
    require_remote_path,
    require_service,
)

COMPOSE_FLAVOURS = {"docker-compose": ("docker-compose",), "docker compose": ("docker", "compose")}
MIGRATION_PLACEHOLDER = "{migration}"
Via = Literal["run", "exec"]


def migration_rollback_command(template: Iterable[str], migration: str) -> list[str]:
    """The configured rollback command with ``{migration}`` replaced by the target's head, wherever
    it runs (a compose service, a swarm task): refused without the placeholder, which would roll
    back to whatever the tool's default is."""
    migration = require_migration(migration)
    template = user_argv(template, "migration rollback command")
    if not any(MIGRATION_PLACEHOLDER in part for part in template):
        raise UnsafeValue(f"refusing migration rollback command without {MIGRATION_PLACEHOLDER}")
    return [part.replace(MIGRATION_PLACEHOLDER, migration) for part in template]


class ComposeCommands:
    """Builders bound to one target's compose flavour, project name, directory and compose files."""

    def __init__(
        self,
        compose_command: str,
        project_name: str,
        project_dir: str,
        compose_file: str | Sequence[str] = "docker-compose.yml",
    ) -> None:
        if compose_command not in COMPOSE_FLAVOURS:
            raise UnsafeValue(f"refusing compose command {compose_command!r}: use one of {', '.join(COMPOSE_FLAVOURS)}")
        names = [compose_file] if isinstance(compose_file, str) else list(compose_file)
        if not names:
            raise UnsafeValue("refusing an empty list of compose files")
        for name in names:
            if not isinstance(name, str) or name.startswith("/"):
                raise UnsafeValue(f"refusing compose file {name!r}: give a path relative to project_dir")
        self.compose_command = compose_command
        self.project_name = require_project_name(project_name)
        self.project_dir = require_remote_path(project_dir, "project directory")
        self.compose_files = [require_remote_path(f"{self.project_dir}/{name}", "compose file") for name in names]
        self.compose_file = self.compose_files[0]

    @classmethod
    def for_target(cls, target) -> ComposeCommands:
        """From a :class:`console.config.Target`: its compose files, and its compose flavour as
        configured or, with ``compose_command = "auto"``, as detected on the host."""
        from console.host_facts import flavour_for

        files = getattr(target, "compose_files", None) or (getattr(target, "compose_file", "docker-compose.yml"),)
        return cls(flavour_for(target), target.project_name, target.project_dir, files)

    @property
    def is_v1(self) -> bool:
        return self.compose_command == "docker-compose"

    def compose(self, *args: str | Sequence[str]) -> list[str]:
        files = [part for name in self.compose_files for part in ("-f", name)]
        return argv(
            COMPOSE_FLAVOURS[self.compose_command],
            "-p",
            self.project_name,
            files,
            "--project-directory",
            self.project_dir,
            *args,
        )

    # -- Running commands inside a service ------------------------------------------------
    # `run`/`exec` always get -T: over SSH there is no terminal, and compose v1 otherwise
    # tries to allocate one and fails ("the input device is not a TTY").

    def run_rm(self, service: str, command: Iterable[str]) -> list[str]:
        return self.compose("run", "--rm", "-T", require_service(service), user_argv(command, "service command"))

    def exec_(self, service: str, command: Iterable[str]) -> list[str]:
        return self.compose("exec", "-T", require_service(service), user_argv(command, "service command"))

    def in_service(self, via: Via, service: str, command: Iterable[str]) -> list[str]:
        if via == "run":
            return self.run_rm(service, command)
        if via == "exec":
            # `compose exec -T` is `docker exec -i` into the service's container: the docker CLI
            # does exactly that without docker-compose v1's ~0.35 s of Python start-up per call
            return ContainerCommands(self.project_name).exec_in_service(service, command)
        raise UnsafeValue(f"refusing via={via!r}: use 'run' or 'exec'")

    def maintenance_on(self, service: str, command: Iterable[str], via: Via = "run") -> list[str]:
        return self.in_service(via, service, command)

    def maintenance_off(self, service: str, command: Iterable[str], via: Via = "run") -> list[str]:
        return self.in_service(via, service, command)

    def migrate_rollback(self, service: str, template: Iterable[str], migration: str, via: Via = "run") -> list[str]:
        """``via="run"``: a one-off container of the release still deployed (before ``down``);
        ``via="exec"``: inside the running service, the seed's order (after ``up``)."""
        return self.in_service(via, service, migration_rollback_command(template, migration))

    def migrate_status(self, service: str, command: Iterable[str], via: Via = "exec") -> list[str]:
        if via == "run":
            # read-only, and run even in a dry run: start no dependency (`run` would start any
            # stopped depends_on service); the database it reads is already up.
            return self.compose(
                "run", "--rm", "--no-deps", "-T", require_service(service), user_argv(command, "service command")
            )
        return self.in_service(via, service, command)

    def smoke_test(self, service: str, command: Iterable[str], via: Via = "exec") -> list[str]:
        return self.in_service(via, service, command)

    # -- Lifecycle ---------------------------------------------------------------------------

    def down(self) -> list[str]:
        # Deliberately no -v/--volumes: named volumes hold the database.
        return self.compose("down")

    def up_detached(self) -> list[str]:
        return self.compose("up", "-d")

    def pull(self) -> list[str]:
        return self.compose("pull")

    def build(self) -> list[str]:
        return self.compose("build")

    def recreate(self, services: Iterable[str]) -> list[str]:
        """Recreate only these services so they re-read a hotfixed env file."""
        names = [require_service(s) for s in services]
        if not names:
            raise UnsafeValue("refusing to recreate: name at least one service")
        return self.compose("up", "-d", "--no-deps", "--force-recreate", names)

    # -- Looking -------------------------------------------------------------------------------

    def ps(self) -> list[str]:
        """Machine-readable where compose can: v1 has no JSON output, only its text table."""
        if self.is_v1:
            return self.compose("ps")
        return self.compose("ps", "--format", "json", "-a")

    def logs_tail(self, n: int = 50, services: Iterable[str] = ()) -> list[str]:
        return self.compose(
            "logs", "--no-color", f"--tail={require_line_count(n)}", [require_service(s) for s in services]
        )

    def logs_follow(self, tail: int = 50, services: Iterable[str] = (), timestamps: bool = True) -> list[str]:
        return self.compose(
            "logs",
            "-f",
            "--no-color",
            f"--tail={require_line_count(tail)}",
            ["-t"] if timestamps else [],
            [require_service(s) for s in services],
        )

    def config_services(self) -> list[str]:
        return self.compose("config", "--services")

    def config_model(self) -> list[str]:
        """The resolved model (files layered, anchors and merges applied): JSON on v2, YAML on v1."""
        if self.is_v1:
            return self.compose("config")
        return self.compose("config", "--format", "json")

    def version(self) -> list[str]:
        """The compose version (``--short``), to tell JSON-array from JSON-lines ``ps``."""
        return argv(COMPOSE_FLAVOURS[self.compose_command], "version", "--short")
