"""``incident-console init``: learn a stack from its host and write a config that check-config accepts.

Everything the console can derive is read from the host (compose flavour, compose
projects and their services, images, published ports, working directory); what it
cannot derive (the maintenance, migration and smoke-test commands) is asked, and
either stated or switched off. No demo value is ever filled in.

The pure parts live here (parsing ``docker inspect``, proposing health URLs, rendering
and validating the TOML); :mod:`console.cli.init` asks the questions and talks to the host.
"""

from __future__ import annotations

import json
import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from console.commands.base import sh
from console.config import ConfigError, parse_config
from console.http_clients import async_client

HEALTH_PATHS = ("/api/health", "/health", "/healthz")
FLAVOUR_COMMAND = sh(
    "if docker compose version >/dev/null 2>&1; then echo 'docker compose'; fi; "
    "if docker-compose version >/dev/null 2>&1; then echo docker-compose; fi"
)
# Every compose container on the host, running or not (the labels name project, service, files).
COMPOSE_CONTAINERS_COMMAND = sh(
    "ids=$(docker ps -aq --filter label=com.docker.compose.project) || exit $?; "
    'if [ -z "$ids" ]; then echo "[]"; else exec docker inspect $ids; fi'
)
LS_COMMAND = ["docker", "compose", "ls", "--all", "--format", "json"]


def compose_flavour(output: str) -> str | None:
    """v2 (``docker compose``) when both exist: it is the maintained one."""
    found = {line.strip() for line in output.splitlines()}
    if "docker compose" in found:
        return "docker compose"
    return "docker-compose" if "docker-compose" in found else None


@dataclass
class ServiceFacts:
    name: str
    image_ref: str
    ports: list[int] = field(default_factory=list)  # host ports the console could reach it on
    running: bool = False


@dataclass
class ProjectFacts:
    name: str
    working_dir: str | None = None
    config_files: list[str] = field(default_factory=list)
    services: dict[str, ServiceFacts] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return any(s.running for s in self.services.values())


def parse_projects(inspect_json: str, ls_json: str | None = None) -> list[ProjectFacts]:
    """Compose projects from the containers' labels (v1 and v2 alike), plus ``compose ls`` (v2)."""
    items = json.loads(inspect_json or "[]")
    projects: dict[str, ProjectFacts] = {}
    for item in items if isinstance(items, list) else []:
        config = item.get("Config") or {}
        labels = config.get("Labels") or {}
        name = labels.get("com.docker.compose.project")
        service = labels.get("com.docker.compose.service")
        if not name or not service or str(labels.get("com.docker.compose.oneoff", "")).lower() == "true":
            continue
        project = projects.setdefault(name, ProjectFacts(name))
        project.working_dir = project.working_dir or labels.get("com.docker.compose.project.working_dir")
        files = labels.get("com.docker.compose.project.config_files")
        if files and not project.config_files:
            project.config_files = [f for f in files.split(",") if f]
        facts = project.services.setdefault(service, ServiceFacts(service, str(config.get("Image") or "")))
        facts.running = facts.running or bool((item.get("State") or {}).get("Running"))
        for port in _reachable_ports(item):
            if port not in facts.ports:
                facts.ports.append(port)
    for entry in json.loads(ls_json) if ls_json else []:
        if isinstance(entry, dict) and entry.get("Name"):
            project = projects.setdefault(entry["Name"], ProjectFacts(entry["Name"]))
            if entry.get("ConfigFiles") and not project.config_files:
                project.config_files = [f for f in str(entry["ConfigFiles"]).split(",") if f]
    return sorted(projects.values(), key=lambda p: p.name)


def _reachable_ports(item: dict) -> list[int]:
    """Published host ports; with ``network_mode: host``, the exposed ports and a ``PORT`` env."""
    ports: list[int] = []
    published = (item.get("NetworkSettings") or {}).get("Ports") or {}
    for bindings in published.values():
        for binding in bindings or []:
            if str(binding.get("HostPort", "")).isdigit():
                ports.append(int(binding["HostPort"]))
    if (item.get("HostConfig") or {}).get("NetworkMode") == "host":
        config = item.get("Config") or {}
        for spec in config.get("ExposedPorts") or {}:
            number = str(spec).split("/")[0]
            if number.isdigit():
                ports.append(int(number))
        for env in config.get("Env") or []:
            key, _, value = str(env).partition("=")
            if key == "PORT" and value.isdigit():
                ports.append(int(value))
    return sorted(set(ports))


def split_image(ref: str) -> tuple[str | None, str]:
    """``registry.example.com:5000/team/app:v2`` -> (``registry.example.com:5000``, ``team/app``)."""
    ref = ref.split("@", 1)[0]
    first, slash, rest = ref.partition("/")
    registry = None
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    name, colon, tag = ref.rpartition(":")
    if colon and "/" not in tag:
        ref = name
    return registry, ref


def health_candidates(host: str, ports: list[int]) -> list[str]:
    literal = f"[{host}]" if ":" in host else host
    return [f"http://{literal}:{port}{path}" for port in ports for path in HEALTH_PATHS]


async def probe_health(urls: list[str], timeout: float = 3.0) -> tuple[str, str | None] | None:
    """The first URL that answers JSON (any status: the stack may be the broken one), and its
    version key when the body has ``version``."""
    import httpx

    async with async_client(timeout=timeout, trust_env=False) as client:
        for url in urls:
            try:
                response = await client.get(url)
                body = response.json()
            except (httpx.HTTPError, ValueError, OSError):
                continue
            if isinstance(body, dict):
                return url, ("version" if "version" in body else None)
    return None


# -- the config ------------------------------------------------------------------------------


@dataclass
class InitAnswers:
    host: str
    port: int
    user: str
    identity_file: str | None
    agent: bool
    known_hosts: str
    project_name: str
    project_dir: str
    compose_command: str
    registry: str
    services: list[tuple[str, str, str]]  # (name, image, role)
    health: list[tuple[str, str, str | None]]  # (name, url, version_key)
    maintenance: tuple[list[str], list[str]] | None
    migrations: tuple[list[str], list[str]] | None  # (migrate_status, migrate_rollback)
    smoke_tests: list[list[str]]
    deploy: list[str] | None = None
    compose_file: str | None = None
    artifacts_dir: str = "/opt/artifacts"
    operator: str | None = None
    source_dir: str = "."
    state_dir: str | None = None


def _v(value: Any) -> str:
    """One TOML value, quoted and escaped by the TOML library."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def render_config(a: InitAnswers) -> str:
    lines = [
        "# incident-console configuration, written by `incident-console init`.",
        "# config.example.toml documents every key; `incident-console check-config FILE` validates.",
        "",
    ]
    if a.operator:
        lines += ["# Who runs the console (journaled with every decision).", f"operator = {_v(a.operator)}", ""]
    lines += [
        "[target]",
        "# The host that runs the compose project (an ~/.ssh/config alias works too).",
        f"host = {_v(a.host)}",
        f"port = {a.port}",
    ]
    if a.user:
        lines.append(f"user = {_v(a.user)}")
    if a.identity_file:
        lines.append(f"identity_file = {_v(a.identity_file)}   # the key init connected with")
    lines += [
        f"agent = {_v(a.agent)}                     # keys from ssh-agent",
        f"known_hosts = {_v(a.known_hosts)}   # this config's own pinned host key",
        f"project_dir = {_v(a.project_dir)}   # the project's working directory on the host",
        f"project_name = {_v(a.project_name)}   # compose project (-p)",
        f"compose_command = {_v(a.compose_command)}   # found on the host",
        f"artifacts_dir = {_v(a.artifacts_dir)}   # release bundles and SHA256SUMS.txt on the host",
        "",
        "[registry]",
        "# Where release images are pushed and pulled (from the running images' names).",
        f"url = {_v(a.registry)}",
        "",
    ]
    for name, image, role in a.services:
        lines += [
            "[[services]]",
            f"name = {_v(name)}   # compose service",
            f"image = {_v(image)}   # image name",
            f"role = {_v(role)}   # backend runs maintenance, migrations and smoke tests",
            "",
        ]
    for name, url, version_key in a.health:
        lines += [
            "[[health]]",
            f"name = {_v(name)}",
            f"url = {_v(url)}   # polled from this machine",
            "expected_status = 200",
        ]
        if version_key:
            lines.append(f"version_key = {_v(version_key)}   # the JSON key naming the running release")
        else:
            lines.append('# version_key = "version"   # the endpoint reported no version when init probed it')
        lines.append("")
    lines += ["[commands]", "# Run inside the backend service. None has a default: each is stated or switched off."]
    if a.maintenance:
        lines += [
            "maintenance = true",
            f"maintenance_on = {_v(a.maintenance[0])}   # puts up the maintenance page",
            f"maintenance_off = {_v(a.maintenance[1])}   # re-enables traffic",
        ]
    else:
        lines += ["maintenance = false   # no maintenance command: those steps are skipped, journaled why"]
    if a.migrations:
        lines += [
            "migrations = true",
            f"migrate_status = {_v(a.migrations[0])}   # prints applied migrations",
            f"migrate_rollback = {_v(a.migrations[1])}   # {{migration}} is the target head",
        ]
    else:
        lines += ["migrations = false   # no migration command: the schema steps are skipped, journaled why"]
    lines.append(f"smoke_tests = {_v(a.smoke_tests)}   # each an argv; [] for none")
    if a.deploy:
        lines.append(f"deploy = {_v(a.deploy)}   # the team's deploy command; the tag is appended")
    if a.state_dir:
        lines += ["", "[paths]", f"state_dir = {_v(a.state_dir)}   # journals; the release log is releases.toml here"]
    lines += [
        "",
        "[capture]",
        "# What a release bundle holds, relative to source_dir (your checkout).",
        f"source_dir = {_v(a.source_dir)}",
    ]
    if a.compose_file:
        lines.append(f"compose_file = {_v(a.compose_file)}   # the project's compose file on the host")
    lines.append("")
    return "\n".join(lines)


def validate_rendered(text: str, path: Path) -> None:
    """Raise ConfigError if check-config would refuse ``text`` written at ``path``."""
    parse_config(tomllib.loads(text), path, environ=dict(os.environ))


def parse_argv(text: str, what: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"{what}: cannot split {text!r} into arguments: {exc}") from None
    if not argv:
        raise ValueError(f"{what}: empty command")
    return argv


__all__ = [
    "ConfigError",
    "InitAnswers",
    "ProjectFacts",
    "ServiceFacts",
    "compose_flavour",
    "health_candidates",
    "parse_argv",
    "parse_projects",
    "probe_health",
    "render_config",
    "split_image",
    "validate_rendered",
]
