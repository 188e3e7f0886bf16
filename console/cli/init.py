"""``incident-console init``: connect (strict host keys, the fingerprint pinned into the config's own
known_hosts), read the host's compose projects, ask what cannot be derived, write the config.

Every question has a flag; ``--non-interactive`` (or no terminal) never asks, and a missing
answer is bad input naming its flag. Exit codes: 0 written, 1 host unreachable, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK, bad_input, host_unreachable


class InitError(Exception):
    """Bad or missing input; the message names the flag."""


def register_init(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="write a config for a compose project found on the host (asks what it "
        "cannot derive; every question has a flag)",
    )
    a = p.add_argument
    a(
        "--out",
        metavar="FILE",
        help="config file to write (default: the --config path or ~/.config/incident-console/config.toml)",
    )
    a("--force", action="store_true", help="overwrite an existing config file")
    a("--non-interactive", action="store_true", help="never ask: a missing answer is an error naming its flag")
    a("--host", help="the host: name, address or ~/.ssh/config alias")
    a("--port", type=int, help="SSH port (default 22, or the ssh config alias's)")
    a("--user", help="SSH user (default: the ssh config alias's, else your login name)")
    a("--identity-file", metavar="PATH", help="private key to log in with (default: ssh-agent)")
    a(
        "--agent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use ssh-agent keys (default: on when no identity file is given)",
    )
    a(
        "--known-hosts",
        metavar="PATH",
        help="the config's own known_hosts file (default: known_hosts beside "
        "the config); the host key is pinned into it",
    )
    a(
        "--host-key-fingerprint",
        metavar="SHA256:...",
        help="pin the host key only if it has this fingerprint (non-interactive trust)",
    )
    a("--project", metavar="NAME", help="compose project on the host (default: the only one)")
    a("--project-dir", metavar="DIR", help="project directory on the host (default: compose's working_dir label)")
    a(
        "--compose-command",
        choices=("docker compose", "docker-compose"),
        help="override the compose flavour found on the host",
    )
    a("--registry", metavar="HOST[:PORT]", help="image registry (default: from the running images' names)")
    a("--backend", metavar="SERVICE", help="the service that runs maintenance, migrations and smoke tests")
    a(
        "--health",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a health check (repeatable); default: URLs probed on the services' ports",
    )
    a("--health-host", metavar="HOST", help="host name for proposed health URLs (default: the SSH host)")
    a("--maintenance-on", metavar="CMD", help="maintenance-on command, run in the backend (shell words)")
    a("--maintenance-off", metavar="CMD", help="maintenance-off command")
    a("--no-maintenance", action="store_true", help="the stack has no maintenance mode: switch those steps off")
    a("--migrate-status", metavar="CMD", help="command printing applied migrations, one per line")
    a("--migrate-rollback", metavar="CMD", help="command rolling back to {migration} (must contain it)")
    a("--no-migrations", action="store_true", help="no migration tooling: switch the schema steps off")
    a("--smoke-test", action="append", default=[], metavar="CMD", help="a smoke test command (repeatable)")
    a("--no-smoke-tests", action="store_true", help="no smoke tests")
    a("--deploy-command", metavar="CMD", help="the team's deploy command (e.g. ./deploy.sh); the tag is appended")
    a("--artifacts-dir", metavar="DIR", default="/opt/artifacts", help="artifacts directory on the host")
    a("--source-dir", metavar="DIR", default=".", help="capture.source_dir: your checkout of the stack")
    a(
        "--state-dir",
        metavar="DIR",
        help="paths.state_dir: journals and the release log (default ~/.local/state/incident-console)",
    )
    p.set_defaults(handler=cmd_init)


class Asker:
    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def text(self, question: str, flag: str, default: str | None = None) -> str:
        if not self.interactive:
            if default is not None:
                return default
            raise InitError(f"{flag} is required (no terminal to ask: {question})")
        shown = f" [{default}]" if default else ""
        answer = input(f"{question}{shown}: ").strip()
        if not answer and default is None:
            raise InitError(f"no answer to: {question} (or give {flag})")
        return answer or (default or "")

    def yes(self, question: str, flag: str) -> bool:
        if not self.interactive:
            raise InitError(f"{flag} is required (no terminal to ask: {question})")
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_init(args) -> int:
    from console.config import find_config
    from console.failures import TransportError

    out = Path(args.out) if args.out else find_config(getattr(args, "config", None))
    if out.exists() and not args.force:
        return bad_input(f"{out} exists; --force overwrites it")
    asker = Asker(interactive=not args.non_interactive and sys.stdin.isatty())
    try:
        return asyncio.run(_init(args, out, asker))
    except InitError as exc:
        return bad_input(str(exc))
    except TransportError as exc:
        return host_unreachable(exc)
    except (EOFError, KeyboardInterrupt):
        print("\nincident-console: init abandoned; nothing written", file=sys.stderr)
        return EXIT_BAD_INPUT


async def _init(args, out: Path, asker: Asker) -> int:
    from console.config import Target
    from console.transport.known_hosts import known_hosts_path
    from console.transport.ssh import SSHTransport
    from console.validate import is_valid_hostname

    host = args.host or asker.text("Host (name, address or ssh config alias)", "--host")
    if not is_valid_hostname(host):
        raise InitError(f"not a valid host name or address: {host!r}")
    port = (
        args.port
        if args.port is not None
        else (int(asker.text("SSH port", "--port", "22")) if asker.interactive else 22)
    )
    user = (
        args.user
        if args.user is not None
        else (asker.text("SSH user (empty: ssh config / login name)", "--user", "") if asker.interactive else "")
    )
    identity = os.path.abspath(os.path.expanduser(args.identity_file)) if args.identity_file else None
    agent = args.agent if args.agent is not None else identity is None
    known = (
        Path(os.path.abspath(os.path.expanduser(args.known_hosts)))
        if args.known_hosts
        else out.resolve().parent / "known_hosts"
    )
    target = Target(
        host=host,
        port=port,
        user=user,
        identity_file=identity,
        agent=agent,
        known_hosts=str(known),
        project_dir="/",
        project_name="init",
    )
    transport = SSHTransport(target)
    await _pin_host_key(transport, known, args.host_key_fingerprint, asker)
    await transport.connect()
    try:
        print(f"connected to {transport.description} (host key checked against {known_hosts_path(str(known))})")
        return await _discover_and_write(args, out, asker, transport, target)
    finally:
        await transport.close()


async def _pin_host_key(transport, known: Path, fingerprint: str | None, asker: Asker) -> None:
    """Show the server's key fingerprint and pin it into the config's known_hosts (never silently)."""
    from console.transport.known_hosts import has_entry_for, known_hosts_entry_name
    from console.transport.ssh_options import connect_options, read_server_key

    if has_entry_for(known, transport.host, transport.port):
        return  # already pinned: the strict connect checks it
    # The probe stops after key exchange: nothing is sent before the key is pinned and checked.
    key = await read_server_key(connect_options(transport.target, None, None), transport.target.connect_timeout)
    if key is None:
        from console.failures import TransportError

        raise TransportError(f"{transport.host}:{transport.port} did not show a host key")
    shown = key.get_fingerprint("sha256")
    print(f"host key of {transport.host}:{transport.port}: {key.get_algorithm()} {shown}")
    if fingerprint is not None:
        if fingerprint.strip() != shown:
            raise InitError(f"the host's key fingerprint is {shown}, not {fingerprint.strip()}: not pinned")
    elif not asker.yes(
        f"Pin this key into {known}? Compare it with the host's own "
        f"`ssh-keygen -lf /etc/ssh/ssh_host_{key.get_algorithm().split('-')[-1]}_key.pub`",
        "--host-key-fingerprint",
    ):
        raise InitError("host key not pinned; nothing written")
    known.parent.mkdir(parents=True, exist_ok=True)
    line = f"{known_hosts_entry_name(transport.host, transport.port)} {key.export_public_key().decode().strip()}\n"
    with open(known, "a", encoding="utf-8") as handle:
        handle.write(line)
    print(f"pinned into {known}")


async def _run(transport, argv: list[str]) -> tuple[bool, str, str]:
    result = await transport.run(argv, timeout=60, capture=True)
    return result.ok, result.stdout, result.stderr


async def _discover_and_write(args, out: Path, asker: Asker, transport, target) -> int:
    from console.init import (
        COMPOSE_CONTAINERS_COMMAND,
        FLAVOUR_COMMAND,
        LS_COMMAND,
        InitAnswers,
        compose_flavour,
        parse_argv,
        parse_projects,
        render_config,
        split_image,
        validate_rendered,
    )

    ok, text, _ = await _run(transport, FLAVOUR_COMMAND)
    found = compose_flavour(text) if ok else None
    flavour = args.compose_command or found
    if flavour is None:
        raise InitError(
            "neither `docker compose` nor `docker-compose` works on the host; "
            "give --compose-command to write the config anyway"
        )
    print(f"compose: {flavour}" + ("" if found == flavour else f" (given; the host has {found or 'neither'})"))
    ok, inspect, err = await _run(transport, COMPOSE_CONTAINERS_COMMAND)
    if not ok:
        raise InitError(f"cannot list containers on the host: {(err.strip().splitlines() or ['?'])[-1][:200]}")
    ls = None
    if flavour == "docker compose":
        ok, ls_text, _ = await _run(transport, LS_COMMAND)
        ls = ls_text if ok and ls_text.strip().startswith("[") else None
    projects = parse_projects(inspect, ls)
    for p in projects:
        listed = ", ".join(
            f"{s.name}{' :' + ','.join(map(str, s.ports)) if s.ports else ''}" for s in p.services.values()
        )
        print(f"  project {p.name} ({p.working_dir or 'dir unknown'}): {listed or 'no containers'}")
    project = _choose_project(args, asker, projects)
    project_dir = (
        args.project_dir
        or project.working_dir
        or asker.text(f"Project directory of {project.name} on the host", "--project-dir")
    )
    services = [s for s in project.services.values()]
    if not services:
        raise InitError(f"project {project.name} has no service containers to learn from")
    names = [s.name for s in services]
    backend = args.backend or (
        names[0]
        if len(names) == 1
        else asker.text(f"Which service runs maintenance, migrations and smoke tests ({', '.join(names)})", "--backend")
    )
    if backend not in names:
        raise InitError(f"--backend {backend!r} is not a service of {project.name} ({', '.join(names)})")
    registries = {split_image(s.image_ref)[0] for s in services} - {None}
    registry = args.registry or (
        registries.pop() if len(registries) == 1 else asker.text("Image registry (host[:port])", "--registry")
    )
    if not registry:
        raise InitError("the image registry is required (--registry host[:port])")
    service_rows = [
        (s.name, split_image(s.image_ref)[1], "backend" if s.name == backend else "other") for s in services
    ]
    health = await _health(args, asker, services, args.health_host or transport.host)
    maintenance = _pair(
        args,
        asker,
        "maintenance",
        ("--maintenance-on", args.maintenance_on),
        ("--maintenance-off", args.maintenance_off),
        args.no_maintenance,
        parse_argv,
    )
    migrations = _pair(
        args,
        asker,
        "migrations",
        ("--migrate-status", args.migrate_status),
        ("--migrate-rollback", args.migrate_rollback),
        args.no_migrations,
        parse_argv,
    )
    smoke = [parse_argv(c, "--smoke-test") for c in args.smoke_test]
    if not smoke and not args.no_smoke_tests:
        answer = (
            asker.text("Smoke test command (empty: none)", "--smoke-test or --no-smoke-tests", "")
            if asker.interactive
            else None
        )
        if answer is None:
            raise InitError("--smoke-test CMD or --no-smoke-tests is required")
        smoke = [parse_argv(answer, "smoke test")] if answer else []
    compose_file = None
    if project.config_files:
        name = project.config_files[0].rsplit("/", 1)[-1]
        compose_file = name if name != "docker-compose.yml" else None
    answers = InitAnswers(
        host=target.host,
        port=target.port,
        user=target.user,
        identity_file=target.identity_file,
        agent=target.agent,
        known_hosts=target.known_hosts,
        project_name=project.name,
        project_dir=project_dir,
        compose_command=flavour,
        registry=registry,
        services=service_rows,
        health=health,
        maintenance=maintenance,
        migrations=migrations,
        smoke_tests=smoke,
        deploy=parse_argv(args.deploy_command, "--deploy-command") if args.deploy_command else None,
        compose_file=compose_file,
        artifacts_dir=args.artifacts_dir,
        source_dir=args.source_dir,
        state_dir=os.path.abspath(os.path.expanduser(args.state_dir)) if args.state_dir else None,
    )
    text = render_config(answers)
    from console.config import ConfigError

    try:
        validate_rendered(text, out)
    except ConfigError as exc:
        raise InitError(
            "the answers do not make a valid config: " + "; ".join(f"{k}: {m}" for k, m in exc.problems)
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; check it with: incident-console check-config {out}")
    return EXIT_OK


def _choose_project(args, asker: Asker, projects):
    by_name = {p.name: p for p in projects}
    if args.project:
        if args.project not in by_name:
            raise InitError(f"no compose project {args.project!r} on the host (found: {', '.join(by_name) or 'none'})")
        return by_name[args.project]
    if not projects:
        raise InitError(
            "no compose project runs on the host: start it first, or write the config by hand from config.example.toml"
        )
    if len(projects) == 1:
        return projects[0]
    if not asker.interactive:
        raise InitError(f"--project is required: the host runs several compose projects ({', '.join(by_name)})")
    while True:
        answer = asker.text(f"Which project ({', '.join(by_name)})", "--project")
        if answer in by_name:
            return by_name[answer]
        print(f"  not one of: {', '.join(by_name)}")


async def _health(args, asker: Asker, services, host: str) -> list[tuple[str, str, str | None]]:
    from console.init import health_candidates, probe_health

    if args.health:
        checks = []
        for item in args.health:
            name, sep, url = item.partition("=")
            if not sep or not name or not url.startswith(("http://", "https://")):
                raise InitError(f"--health {item!r}: give NAME=http(s)://...")
            found = await probe_health([url])
            checks.append((name, url, found[1] if found else "version"))
        return checks
    checks = []
    for service in services:
        found = await probe_health(health_candidates(host, service.ports))
        if found is None:
            continue
        url, version_key = found
        print(f"  health of {service.name}: {url} answers JSON")
        if asker.interactive and not asker.yes(f"Use {url} as a health check?", "--health"):
            continue
        checks.append((service.name, url, version_key))
    if not checks:
        raise InitError("no health URL found on the services' ports: give --health NAME=URL")
    return checks


def _pair(args, asker: Asker, what: str, first, second, off: bool, parse):
    (flag1, value1), (flag2, value2) = first, second
    if off:
        if value1 or value2:
            raise InitError(f"--no-{what} contradicts {flag1 if value1 else flag2}")
        return None
    if value1 is None and value2 is None and asker.interactive:
        value1 = asker.text(f"{flag1[2:].replace('-', ' ')} command (empty: no {what} steps)", flag1, "")
        if not value1:
            return None
        value2 = asker.text(f"{flag2[2:].replace('-', ' ')} command", flag2)
    if value1 is None or value2 is None:
        raise InitError(f"{flag1} and {flag2} (or --no-{what}) are required")
    return parse(value1, flag1), parse(value2, flag2)
