"""Typed, validated configuration read from TOML.

Validation collects *every* problem with its TOML key path (``target.port``)
instead of stopping at the first, so ``check-config`` can show them all.
Secrets are accepted only by reference (``env:NAME``); an inline webhook URL,
password or API key is rejected.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from console.observability.settings import Observability, parse_observability
from console.secrets import SecretRef
from console.validate import is_valid_holder, is_valid_hostname, is_valid_remote_path

if TYPE_CHECKING:
    from console.fleet_config import Fleet

SECRET_KEYS = {"password", "webhook_url", "api_key", "database_url", "token"}
COMPOSE_COMMANDS = ("auto", "docker compose", "docker-compose")  # auto: detected on the host, v2 first
ENGINES = ("compose", "swarm")  # swarm: the target is a swarm manager and the project a stack
MIGRATION_ORDERS = ("before_down", "after_up")
SERVICE_COMMAND_MODES = ("run", "exec")
# The [commands] a stack must state (none has a default: the demo's npm scripts were silently
# inherited by every config that left them out).
COMMAND_KEYS = {"maintenance_on", "maintenance_off", "migrate_rollback", "migrate_status", "smoke_tests"}


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` lists ``(key_path, message)``."""

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{key}: {msg}" if key else msg for key, msg in problems]
        super().__init__(f"{path}: " + "; ".join(lines))


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 22
    user: str = ""
    identity_file: str | None = None
    agent: bool | None = None  # None: use ssh-agent when SSH_AUTH_SOCK is set (as OpenSSH)
    known_hosts: str | None = None
    project_dir: str = ""  # required in a config file (no demo default)
    project_name: str = ""  # required likewise
    compose_command: str = "auto"
    artifacts_dir: str = "/opt/artifacts"
    connect_timeout: float = 10.0
    # asyncssh declares the link dead (count_max + 1) x interval after the last packet: 16 s.
    keepalive_interval: float = 4.0
    keepalive_count_max: int = 3
    command_timeout: float = 600.0
    compose_file: str = "docker-compose.yml"  # the first of compose_files
    # from [capture] compose_files (or compose_file): the bundle puts them in project_dir, every
    # compose command names them all (-f a -f b)
    compose_files: tuple[str, ...] = ("docker-compose.yml",)
    engine: str = "compose"  # "swarm": project_name is the stack, deployed with docker stack deploy


@dataclass(frozen=True)
class Registry:
    url: str
    username: str | None = None
    password: SecretRef | None = None


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    role: str = "other"


@dataclass(frozen=True)
class HealthCheck:
    name: str
    url: str
    expected_status: int = 200
    timeout: float = 5.0
    interval: float = 5.0
    version_key: str | None = "version"
    expect: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, SecretRef] = field(default_factory=dict)  # e.g. Authorization = "env:NAME"


@dataclass(frozen=True)
class Commands:
    maintenance_on: list[str]
    maintenance_off: list[str]
    migrate_rollback: list[str]
    migrate_status: list[str]
    smoke_tests: list[list[str]]
    migration_order: str = "before_down"
    service_command_mode: Literal["run", "exec"] = "run"  # console.commands.compose.Via
    migration_down_sql: list[str] | None = None  # prints one migration's down SQL ("{migration}")
    maintenance: bool = True  # false: no maintenance commands; the steps are skipped, journaled why
    migrations: bool = True  # false: no migration commands; the schema steps are skipped likewise
    deploy: list[str] | None = None  # the team's deploy command, run in project_dir with the tag appended


@dataclass(frozen=True)
class Thresholds:
    impact_window_minutes: float = 30
    validation_window_minutes: float = 15
    ttr_target_minutes: float = 15
    monitor_minutes: float = 5
    health_wait_seconds: float = 90


@dataclass(frozen=True)
class Paths:
    state_dir: Path
    release_log: Path
    runbook: Path | None = None
    host_state: bool = True  # journals and the release log also kept on the host (shared by on-callers)


@dataclass(frozen=True)
class Capture:
    source_dir: Path
    compose_file: str = "docker-compose.yml"  # the first of compose_files
    # in compose's -f order; () = what `docker compose` would pick in source_dir ($COMPOSE_FILE first)
    compose_files: tuple[str, ...] = ()
    env_files: list[str] = field(default_factory=list)
    extra_files: list[str] = field(default_factory=list)
    migration_dirs: list[str] = field(default_factory=list)
    local_artifacts_dir: Path = Path("artifacts")
    database_url: SecretRef | None = None


@dataclass(frozen=True)
class Prerequisites:
    backup_check_command: list[str] | None = None
    backup_check_on: str = "console"  # "host": the command runs over the target's transport
    backup_check_url: str | None = None
    alerts_check_url: str | None = None


@dataclass(frozen=True)
class Slack:
    webhook_url: SecretRef
    channel: str = "#ops"


@dataclass(frozen=True)
class StatusPage:
    api_base: str
    page_id: str
    api_key: SecretRef
    component_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Staging:
    """Where a code hotfix is validated before production (runbook section 4)."""

    target: Target
    health: list[HealthCheck]


@dataclass(frozen=True)
class Config:
    source: Path
    operator: str
    target: Target
    registry: Registry
    services: list[Service]
    health: list[HealthCheck]
    commands: Commands
    thresholds: Thresholds
    paths: Paths
    capture: Capture
    prerequisites: Prerequisites
    slack: Slack | None = None
    statuspage: StatusPage | None = None
    staging: Staging | None = None
    observability: Observability = field(default_factory=Observability)  # [prometheus] [alertmanager] [[metrics]]
    fleet: Fleet | None = None  # [[hosts]] + [fleet]: target and health are then the first host's

    def on_host(self, name: str) -> Config:
        """This config aimed at fleet host ``name``: its target and health checks."""
        if self.fleet is None:
            raise ValueError("no [[hosts]] are configured")
        host = self.fleet.host(name)
        return replace(self, target=host.target, health=host.health)

    @property
    def host_names(self) -> list[str]:
        """The fleet's host names, or ``["target"]`` for a single host."""
        return [h.name for h in self.fleet.hosts] if self.fleet is not None else ["target"]

    def on_staging(self) -> Config:
        """This config aimed at the staging target: its host, project and health checks."""
        if self.staging is None:
            raise ValueError("no [staging] target is configured")
        return replace(self, target=self.staging.target, health=self.staging.health)

    @property
    def backend(self) -> Service:
        for service in self.services:
            if service.role == "backend":
                return service
        return self.services[0]


class _Reader:
    """Walks a TOML table, recording problems with their key paths."""

    def __init__(self, base_dir: Path) -> None:
        self.problems: list[tuple[str, str]] = []
        self.base_dir = base_dir

    def problem(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def table(self, data: dict, key: str, allowed: set[str], required: bool = True) -> dict:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                self.problem(key, "missing table")
            return {}
        if not isinstance(value, dict):
            self.problem(key, "must be a table")
            return {}
        self.unknown(value, key, allowed)
        return value

    def unknown(self, table: dict, prefix: str, allowed: set[str]) -> None:
        for name in table:
            if name not in allowed:
                path = f"{prefix}.{name}" if prefix else name
                self.problem(path, "unknown key")

    def get(
        self,
        table: dict,
        prefix: str,
        name: str,
        kind: type | tuple,
        default: Any = ...,
    ) -> Any:
        path = f"{prefix}.{name}" if prefix else name
        if name not in table:
            if default is ...:
                self.problem(path, "missing required key")
                return None
            return default
        value = table[name]
        if name in SECRET_KEYS:
            return self.secret(path, value)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            self.problem(path, f"must be {_kind_name(kinds)}, not a boolean")
            return None if default is ... else default
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds):
            self.problem(path, f"must be {_kind_name(kinds)}, not {type(value).__name__}")
            return None if default is ... else default
        return value

    def secret(self, path: str, value: Any) -> SecretRef | None:
        if not isinstance(value, str) or not value.startswith("env:") or len(value) <= 4:
            self.problem(path, 'secrets must be given by reference as "env:NAME", never inline')
            return None
        name = value[4:]
        if not name.replace("_", "").isalnum():
            self.problem(path, f"invalid environment variable name {name!r}")
            return None
        return SecretRef(name)

    def argv(self, table: dict, prefix: str, name: str, default: list[str]) -> list[str]:
        value = self.get(table, prefix, name, list, default)
        path = f"{prefix}.{name}"
        if value is None:
            return default
        if not value or not all(isinstance(v, str) and v for v in value):
            self.problem(path, "must be a non-empty list of non-empty strings (an argv)")
            return default
        return list(value)

    @overload
    def path(self, value: str) -> Path: ...

    @overload
    def path(self, value: str | None) -> Path | None: ...

    def path(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (self.base_dir / p)


def _kind_name(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_config(path: str | os.PathLike, environ: dict[str, str] | None = None) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(str(source), [("", f"cannot read file: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(source), [("", f"not valid TOML: {exc}")]) from None
    return parse_config(data, source, environ)


def parse_config(data: dict, source: Path, environ: dict[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    r = _Reader(source.parent.resolve())
    r.unknown(
        data,
        "",
        {
            "operator",
            "target",
            "registry",
            "services",
            "health",
            "commands",
            "thresholds",
            "paths",
            "capture",
            "prerequisites",
            "notifications",
            "staging",
            "prometheus",
            "alertmanager",
            "metrics",
            "hosts",
            "fleet",
        },
    )
    operator = r.get(data, "", "operator", str, env.get("USER") or "operator")
    if operator is not None and not is_valid_holder(operator):
        # it is written into the host lock; refuse it now rather than at the first mutating step
        r.problem("operator", "use letters, digits, spaces and _.@+- (it names the holder of the host lock)")
    has_hosts = "hosts" in data
    # a fleet's [target] holds the defaults its [[hosts]] inherit: host and project_dir may be per host
    target = _target(r, data, host_required=not has_hosts)
    registry = _registry(r, data)
    services = _services(r, data)
    health = _health(r, data)
    commands = _commands(r, data)
    thresholds = _thresholds(r, data)
    paths = _paths(r, data)
    capture = _capture(r, data)
    prerequisites = _prerequisites(r, data)
    slack, statuspage = _notifications(r, data)
    staging = _staging(r, data, target, health)
    observability = parse_observability(r, data)
    fleet = None
    if has_hosts or "fleet" in data:
        from console.fleet_config import parse_fleet  # it reads [target]-shaped tables with this module's reader

        fleet = parse_fleet(r, data, target, health, commands.migrations)
    # The host runs the compose files the bundle carries, under the same names.
    from console.release.compose_project import resolve_compose_files

    files = tuple(resolve_compose_files(capture, env))
    capture = replace(capture, compose_file=files[0], compose_files=files)
    target = replace(target, compose_file=files[0], compose_files=files)
    if staging is not None:
        staging = replace(staging, target=replace(staging.target, compose_file=files[0], compose_files=files))
    if fleet is not None:
        fleet = fleet.with_compose_files(files)
        if fleet.hosts:  # single-host code paths see the first host
            target, health = fleet.hosts[0].target, fleet.hosts[0].health
    if r.problems:
        raise ConfigError(str(source), r.problems)
    return Config(
        source=source,
        operator=operator,
        target=target,
        registry=registry,
        services=services,
        health=health,
        commands=commands,
        thresholds=thresholds,
        paths=paths,
        capture=capture,
        prerequisites=prerequisites,
        slack=slack,
        statuspage=statuspage,
        staging=staging,
        observability=observability,
        fleet=fleet,
    )


TARGET_KEYS = {
    "host",
    "port",
    "user",
    "identity_file",
    "agent",
    "known_hosts",
    "project_dir",
    "project_name",
    "compose_command",
    "artifacts_dir",
    "connect_timeout",
    "keepalive_interval",
    "keepalive_count_max",
    "command_timeout",
    "engine",
}


def _target(r: _Reader, data: dict, host_required: bool = True) -> Target:
    t = r.table(data, "target", TARGET_KEYS)
    if not t:
        return Target(host="")
    return _target_fields(r, t, "target", host_required=host_required)


def _target_fields(
    r: _Reader, t: dict, prefix: str, base: Target | None = None, *, host_required: bool = True
) -> Target:
    """A [target]-shaped table; keys it leaves out come from ``base`` (staging inherits the target's)."""
    if base is not None:
        t = {
            **{
                k: getattr(base, k)
                for k in (
                    "user",
                    "compose_command",
                    "artifacts_dir",
                    "connect_timeout",
                    "keepalive_interval",
                    "keepalive_count_max",
                    "command_timeout",
                    "engine",
                )
                if k not in t
            },
            **{
                k: getattr(base, k)
                for k in ("identity_file", "known_hosts", "agent")
                if k not in t and getattr(base, k) is not None
            },
            **t,
        }
    host = r.get(t, prefix, "host", str, ... if host_required else "")
    if host and not is_valid_hostname(host):
        r.problem(f"{prefix}.host", f"not a valid host name or address: {host!r}")
    port = r.get(t, prefix, "port", int, 22)
    if port is not None and not 1 <= port <= 65535:
        r.problem(f"{prefix}.port", f"must be between 1 and 65535, not {port}")
    compose = r.get(t, prefix, "compose_command", str, "auto")
    if compose not in COMPOSE_COMMANDS:
        r.problem(f"{prefix}.compose_command", f"must be one of {', '.join(COMPOSE_COMMANDS)}")
    project_name = r.get(t, prefix, "project_name", str)  # required: the console cannot guess the stack
    from console.validate import is_valid_project_name

    if project_name is not None and not is_valid_project_name(project_name):
        r.problem(f"{prefix}.project_name", "must match [a-z0-9][a-z0-9_-]* (compose project name)")
    dirs = {}
    for key in ("project_dir", "artifacts_dir"):
        # project_dir is required (a fleet's [target] may leave it to each host)
        default = (... if host_required else "") if key == "project_dir" else Target.artifacts_dir
        value = r.get(t, prefix, key, str, default)
        if value is not None and (value or key in t) and not is_valid_remote_path(value):
            r.problem(
                f"{prefix}.{key}",
                "must be an absolute path on the host made of [A-Za-z0-9_.@+-] components, without '.' or '..'",
            )
        # reported above; never used raw
        dirs[key] = value if isinstance(value, str) else (default if isinstance(default, str) else "")
    timeouts = {}
    for key in ("connect_timeout", "keepalive_interval", "command_timeout"):
        value = r.get(t, prefix, key, float, getattr(Target, key))
        if value is not None and value <= 0:
            r.problem(f"{prefix}.{key}", "must be positive")
        timeouts[key] = value
    keepalive_count = r.get(t, prefix, "keepalive_count_max", int, Target.keepalive_count_max)
    if keepalive_count is not None and not 1 <= keepalive_count <= 100:
        r.problem(f"{prefix}.keepalive_count_max", "must be between 1 and 100")
    engine = r.get(t, prefix, "engine", str, "compose")
    if engine not in ENGINES:
        r.problem(f"{prefix}.engine", f"must be one of {', '.join(ENGINES)}")
    identity = r.get(t, prefix, "identity_file", str, None)
    known = r.get(t, prefix, "known_hosts", str, None)
    return Target(
        host=host or "",
        port=port or 22,
        user=r.get(t, prefix, "user", str, ""),
        identity_file=str(r.path(identity)) if identity else None,
        agent=r.get(t, prefix, "agent", bool, None),
        known_hosts=str(r.path(known)) if known else None,
        project_dir=dirs["project_dir"],
        project_name=project_name or "",
        compose_command=compose or "auto",
        artifacts_dir=dirs["artifacts_dir"],
        connect_timeout=timeouts["connect_timeout"] or 10.0,
        engine=engine if engine in ENGINES else "compose",
        keepalive_interval=timeouts["keepalive_interval"] or Target.keepalive_interval,
        keepalive_count_max=keepalive_count or Target.keepalive_count_max,
        command_timeout=timeouts["command_timeout"] or 600.0,
    )


def _staging(r: _Reader, data: dict, target: Target, production: list[HealthCheck]) -> Staging | None:
    t = r.table(data, "staging", TARGET_KEYS | {"health"}, required=False)
    if not t:
        return None
    for key in ("project_dir", "project_name"):
        if key not in t:
            r.problem(f"staging.{key}", "missing required key (staging must name its own compose project)")
    fields = {k: v for k, v in t.items() if k != "health"}
    fields.setdefault("host", target.host)
    if "port" not in fields and fields["host"] == target.host:
        fields["port"] = target.port
    staging = _target_fields(r, fields, "staging", base=target)
    # Always, not only when the host names match: "localhost", an ssh alias or another port can
    # all be the production machine, and staging steps run without a confirmation.
    if "project_name" in t and staging.project_name == target.project_name:
        r.problem("staging.project_name", "must differ from target.project_name (it could be production)")
    if "project_dir" in t and staging.project_dir.rstrip("/") == target.project_dir.rstrip("/"):
        r.problem("staging.project_dir", "must differ from target.project_dir (it could be production)")
    health = _health(r, t, "staging.health")
    if not health:
        r.problem("staging.health", "at least one [[staging.health]] check is required: staging is judged by it")
    production_urls = {h.url for h in production}
    for i, check in enumerate(health):
        if check.url in production_urls:
            r.problem(f"staging.health[{i}].url", "is a production health URL: staging would be judged by production")
    return Staging(target=staging, health=health)


def _registry(r: _Reader, data: dict) -> Registry:
    t = r.table(data, "registry", {"url", "username", "password"})
    if not t:
        return Registry(url="")
    url = r.get(t, "registry", "url", str)
    if url and ("://" in url or "/" in url.rstrip("/")):
        r.problem("registry.url", "give the registry as host[:port], without a scheme or path")
    return Registry(
        url=(url or "").rstrip("/"),
        username=r.get(t, "registry", "username", str, None),
        password=r.get(t, "registry", "password", str, None),
    )


def _services(r: _Reader, data: dict) -> list[Service]:
    from console.validate import is_valid_image_name, is_valid_service_name

    items = data.get("services")
    if not isinstance(items, list) or not items:
        r.problem("services", "at least one [[services]] table is required")
        return []
    services = []
    for i, item in enumerate(items):
        prefix = f"services[{i}]"
        if not isinstance(item, dict):
            r.problem(prefix, "must be a table")
            continue
        r.unknown(item, prefix, {"name", "image", "role"})
        name = r.get(item, prefix, "name", str)
        image = r.get(item, prefix, "image", str)
        role = r.get(item, prefix, "role", str, "other")
        if name and not is_valid_service_name(name):
            r.problem(f"{prefix}.name", f"not a valid compose service name: {name!r}")
        if image and not is_valid_image_name(image):
            r.problem(f"{prefix}.image", f"not a valid image name: {image!r}")
        if role not in ("backend", "frontend", "other"):
            r.problem(f"{prefix}.role", "must be backend, frontend or other")
        services.append(Service(name=name or "", image=image or "", role=role or "other"))
    if services and sum(s.role == "backend" for s in services) > 1:
        r.problem("services", 'only one service may have role = "backend"')
    return services


def _health(r: _Reader, data: dict, where: str = "health") -> list[HealthCheck]:
    items = data.get("health", [])
    if not isinstance(items, list):
        r.problem(where, f"must be an array of tables ([[{where}]])")
        return []
    checks = []
    for i, item in enumerate(items):
        prefix = f"{where}[{i}]"
        if not isinstance(item, dict):
            r.problem(prefix, "must be a table")
            continue
        r.unknown(
            item, prefix, {"name", "url", "expected_status", "timeout", "interval", "version_key", "expect", "headers"}
        )
        url = r.get(item, prefix, "url", str)
        if url and not url.startswith(("http://", "https://")):
            r.problem(f"{prefix}.url", "must start with http:// or https://")
        url = _without_credentials(r, f"{prefix}.url", url, f"{prefix}.headers")
        headers = {}
        for header, value in (r.get(item, prefix, "headers", dict, {}) or {}).items():
            ref = r.secret(f"{prefix}.headers.{header}", value)
            if ref is not None:
                headers[header] = ref
        status = r.get(item, prefix, "expected_status", int, 200)
        if status is not None and not 100 <= status <= 599:
            r.problem(f"{prefix}.expected_status", "must be an HTTP status code")
        expect = r.get(item, prefix, "expect", dict, {})
        checks.append(
            HealthCheck(
                name=r.get(item, prefix, "name", str) or "",
                url=url or "",
                expected_status=status or 200,
                timeout=r.get(item, prefix, "timeout", float, 5.0) or 5.0,
                interval=r.get(item, prefix, "interval", float, 5.0) or 5.0,
                version_key=r.get(item, prefix, "version_key", str, "version"),
                expect=expect or {},
                headers=headers,
            )
        )
    return checks


def _without_credentials(r: _Reader, path: str, url: str | None, headers_key: str | None) -> str | None:
    """A URL with ``user:password@`` would be journaled and shown as the step's command: refused
    (the message never repeats the URL), and dropped so nothing downstream ever holds it."""
    try:
        if not url or "@" not in urlsplit(url).netloc:
            return url
    except ValueError:
        r.problem(path, "is not a valid URL")
        return None
    where = (
        (
            f"send them as a header given by reference instead, e.g. {headers_key} = "
            '{ Authorization = "env:HEALTH_AUTHORIZATION" }'
        )
        if headers_key
        else "give a URL without them"
    )
    r.problem(path, f"holds credentials (user:password@ in the URL), which would be journaled and shown; {where}")
    return None


def _commands(r: _Reader, data: dict) -> Commands:
    """No command is a default: the demo's npm scripts were inherited by every stack that left them out.
    Maintenance and migration steps can be switched off (``maintenance = false``, ``migrations = false``);
    their commands are then not asked for, and the steps are skipped with that reason."""
    t = r.table(
        data,
        "commands",
        COMMAND_KEYS
        | {"migration_order", "service_command_mode", "maintenance", "migrations", "deploy", "migration_down_sql"},
    )
    maintenance = r.get(t, "commands", "maintenance", bool, True)
    migrations = r.get(t, "commands", "migrations", bool, True)
    smoke = r.get(t, "commands", "smoke_tests", list) if t else None
    if smoke is None or not all(isinstance(a, list) and a and all(isinstance(v, str) and v for v in a) for a in smoke):
        if smoke is not None:
            r.problem("commands.smoke_tests", "must be a list of argv lists ([] for none)")
        smoke = []
    order = r.get(t, "commands", "migration_order", str, "before_down")
    if order not in MIGRATION_ORDERS:
        r.problem("commands.migration_order", f"must be one of {', '.join(MIGRATION_ORDERS)}")
    mode = r.get(t, "commands", "service_command_mode", str, "run")
    if mode not in SERVICE_COMMAND_MODES:
        r.problem("commands.service_command_mode", f"must be one of {', '.join(SERVICE_COMMAND_MODES)}")
    down_sql = r.argv(t, "commands", "migration_down_sql", []) if "migration_down_sql" in t else []
    if down_sql and "{migration}" not in " ".join(down_sql):
        r.problem("commands.migration_down_sql", 'must contain the placeholder "{migration}"')

    def required(name: str, switch: str, on: bool) -> list[str]:
        if not on:
            if name in t:
                r.problem(f"commands.{name}", f"is set but [commands] {switch} = false switches it off")
            return []
        if t and name not in t:
            r.problem(f"commands.{name}", f"missing required key (or switch the steps off: {switch} = false)")
            return []
        return r.argv(t, "commands", name, []) if t else []

    rollback = required("migrate_rollback", "migrations", migrations is not False)
    if rollback and "{migration}" not in rollback:
        r.problem("commands.migrate_rollback", 'must contain the placeholder "{migration}"')
    deploy = r.argv(t, "commands", "deploy", []) if "deploy" in t else None
    return Commands(
        maintenance_on=required("maintenance_on", "maintenance", maintenance is not False),
        maintenance_off=required("maintenance_off", "maintenance", maintenance is not False),
        migrate_rollback=rollback,
        migrate_status=required("migrate_status", "migrations", migrations is not False),
        smoke_tests=[list(a) for a in smoke],
        migration_order=order or "before_down",
        service_command_mode=mode or "run",
        migration_down_sql=down_sql or None,
        maintenance=maintenance is not False,
        migrations=migrations is not False,
        deploy=deploy or None,
    )


def _thresholds(r: _Reader, data: dict) -> Thresholds:
    keys = {
        "impact_window_minutes",
        "validation_window_minutes",
        "ttr_target_minutes",
        "monitor_minutes",
        "health_wait_seconds",
    }
    t = r.table(data, "thresholds", keys, required=False)
    values = {}
    for key in keys:
        value = r.get(t, "thresholds", key, float, float(getattr(Thresholds, key)))
        if value is not None and value <= 0:
            r.problem(f"thresholds.{key}", "must be positive")
        values[key] = value if value else float(getattr(Thresholds, key))
    return Thresholds(**values)


def _paths(r: _Reader, data: dict) -> Paths:
    t = r.table(data, "paths", {"state_dir", "release_log", "runbook", "host_state"}, required=False)
    state = r.path(r.get(t, "paths", "state_dir", str, "~/.local/state/incident-console"))
    log = r.get(t, "paths", "release_log", str, None)
    runbook = r.path(r.get(t, "paths", "runbook", str, None))
    if runbook is not None and not runbook.exists():
        r.problem("paths.runbook", f"file not found: {runbook}")
    return Paths(
        state_dir=state,
        release_log=r.path(log) if log else state / "releases.toml",
        runbook=runbook,
        host_state=r.get(t, "paths", "host_state", bool, True),
    )


def _capture(r: _Reader, data: dict) -> Capture:
    keys = {
        "source_dir",
        "compose_file",
        "compose_files",
        "env_files",
        "extra_files",
        "migration_dirs",
        "local_artifacts_dir",
        "database_url",
    }
    t = r.table(data, "capture", keys, required=False)

    def rel_list(name: str) -> list[str]:
        values = r.get(t, "capture", name, list, [])
        if values is None or not all(isinstance(v, str) for v in values):
            r.problem(f"capture.{name}", "must be a list of strings")
            return []
        for v in values:
            if v.startswith("/") or ".." in Path(v).parts:
                r.problem(f"capture.{name}", f"must be relative paths inside source_dir: {v!r}")
        return list(values)

    source = r.path(r.get(t, "capture", "source_dir", str, "."))
    from console.release.compose_project import configured_compose_files

    files = configured_compose_files(r, t)
    return Capture(
        source_dir=source,
        compose_file=files[0] if files else "docker-compose.yml",
        compose_files=files,
        env_files=rel_list("env_files"),
        extra_files=rel_list("extra_files"),
        migration_dirs=rel_list("migration_dirs"),
        local_artifacts_dir=r.path(r.get(t, "capture", "local_artifacts_dir", str, "artifacts")),
        database_url=r.get(t, "capture", "database_url", str, None),
    )


def _prerequisites(r: _Reader, data: dict) -> Prerequisites:
    t = r.table(
        data,
        "prerequisites",
        {"backup_check_command", "backup_check_url", "alerts_check_url", "backup_check_on"},
        required=False,
    )
    where = r.get(t, "prerequisites", "backup_check_on", str, "console")
    if where not in ("console", "host"):
        r.problem("prerequisites.backup_check_on", 'must be "console" or "host" (where the backups are)')
        where = "console"
    command = t.get("backup_check_command")
    if command is not None:
        command = r.argv(t, "prerequisites", "backup_check_command", [])
    urls = {}
    for key in ("backup_check_url", "alerts_check_url"):
        url = r.get(t, "prerequisites", key, str, None)
        if url and not url.startswith(("http://", "https://")):
            r.problem(f"prerequisites.{key}", "must start with http:// or https://")
        urls[key] = _without_credentials(r, f"prerequisites.{key}", url, None)
    return Prerequisites(backup_check_command=command or None, backup_check_on=where, **urls)


def _notifications(r: _Reader, data: dict) -> tuple[Slack | None, StatusPage | None]:
    t = r.table(data, "notifications", {"slack", "statuspage"}, required=False)
    slack = statuspage = None
    s = r.table(t, "notifications.slack", {"webhook_url", "channel"}, required=False)
    if s:
        hook = r.get(s, "notifications.slack", "webhook_url", str)
        slack = Slack(webhook_url=hook, channel=r.get(s, "notifications.slack", "channel", str, "#ops"))
    p = r.table(t, "notifications.statuspage", {"api_base", "page_id", "api_key", "component_ids"}, required=False)
    if p:
        base = r.get(p, "notifications.statuspage", "api_base", str)
        if base and not base.startswith(("http://", "https://")):
            r.problem("notifications.statuspage.api_base", "must start with http:// or https://")
        statuspage = StatusPage(
            api_base=(base or "").rstrip("/"),
            page_id=r.get(p, "notifications.statuspage", "page_id", str) or "",
            api_key=r.get(p, "notifications.statuspage", "api_key", str),
            component_ids=r.get(p, "notifications.statuspage", "component_ids", list, []) or [],
        )
    return slack, statuspage


def find_config(explicit: str | None) -> Path:
    """The config to use: ``--config``, ``$INCIDENT_CONSOLE_CONFIG``, or the user's default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("INCIDENT_CONSOLE_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "incident-console" / "config.toml"
