"""On the sandbox "VPS": the docker CLI's answers (console.commands.containers) are compose's.

Each read-only look is asked both ways on the real stack (docker-compose 1.29.2 and the docker
CLI, over plain OpenSSH, as the transport runs a command) and must say the same: the services
and their states, each container's last log lines, a command's output and exit status inside
the running service. Then a stopped service: both ways see it down, and the exec says which
service of which project has no running container.
"""

from __future__ import annotations

import shlex
import subprocess

import pytest

from console.commands.compose import ComposeCommands
from console.commands.containers import NO_CONTAINER_EXIT, ContainerCommands, no_container_message, parse_container_ps
from console.commands.ps import parse_ps
from console.config import load_config

pytestmark = pytest.mark.sandbox


def remote(config):
    t = config.target
    assert t.host in ("127.0.0.1", "::1", "localhost")

    def run(argv) -> subprocess.CompletedProcess:
        ssh = [
            "ssh", "-p", str(t.port), "-i", t.identity_file, "-o", f"UserKnownHostsFile={t.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            f"{t.user}@{t.host}", shlex.join(argv),
        ]  # fmt: skip
        return subprocess.run(ssh, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    return run


def states(parsed):
    return sorted((s.service, s.state, s.running, s.health, s.exit_code) for s in parsed if not s.one_off)


def without_prefix(lines):
    """``<service>-<n> | text`` (docker CLI, as compose v2) or ``<service>_<n>   | text`` (compose v1) -> text."""
    return sorted(line.split(" | ", 1)[1] for line in lines if " | " in line)


def test_docker_cli_answers_as_compose_does(sandbox_config_path):
    config = load_config(sandbox_config_path)
    run = remote(config)
    compose, containers = ComposeCommands.for_target(config.target), ContainerCommands.for_target(config.target)
    backend = config.backend.name

    by_compose = run(compose.ps())
    by_docker = run(containers.ps())
    assert by_compose.returncode == by_docker.returncode == 0, (by_compose.stderr, by_docker.stderr)
    compose_states = parse_ps(by_compose.stdout, compose.compose_command, project_name=config.target.project_name)
    assert states(parse_container_ps(by_docker.stdout)) == states(compose_states)
    assert {s.service for s in compose_states} >= {s.name for s in config.services}

    logs_compose, logs_docker = run(compose.logs_tail(5)), run(containers.logs_tail(5))
    assert logs_compose.returncode == logs_docker.returncode == 0
    assert without_prefix(logs_docker.stdout.splitlines()) == without_prefix(logs_compose.stdout.splitlines())
    assert logs_docker.stdout.strip()

    for command in [*config.commands.smoke_tests, config.commands.migrate_status, ["sh", "-c", "echo out; exit 3"]]:
        a, b = run(compose.exec_(backend, command)), run(containers.exec_in_service(backend, command))
        assert (b.returncode, b.stdout) == (a.returncode, a.stdout), command


def test_a_stopped_service_is_seen_down_and_not_exec_into(fresh_sandbox):
    config = load_config(fresh_sandbox)
    run = remote(config)
    compose, containers = ComposeCommands.for_target(config.target), ContainerCommands.for_target(config.target)
    frontend = next(s.name for s in config.services if s.name != config.backend.name)
    stopped = run(compose.compose("stop", frontend))
    assert stopped.returncode == 0, stopped.stderr

    by_docker = run(containers.ps())
    parsed = {s.service: s for s in parse_container_ps(by_docker.stdout)}
    assert not parsed[frontend].running and parsed[frontend].state == "exited"
    assert parsed[config.backend.name].running
    project = config.target.project_name
    compose_states = parse_ps(run(compose.ps()).stdout, compose.compose_command, project_name=project)
    assert states(parsed.values()) == states(compose_states)

    exec_ = run(containers.exec_in_service(frontend, ["true"]))
    assert exec_.returncode == NO_CONTAINER_EXIT
    assert no_container_message(exec_.stderr) == (
        f"no running container of service {frontend} in compose project {config.target.project_name} "
        "(docker ps shows none): start it first"
    )
    # a stopped container's last lines are still there, as compose logs shows them
    logs = run(containers.logs_tail(3, [frontend]))
    assert logs.returncode == 0 and logs.stdout.strip()
